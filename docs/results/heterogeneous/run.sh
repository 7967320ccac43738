#!/bin/sh
# The heterogeneous swarm of docs/results.md: three replicas at 0.25×, 1× and
# 4× speed (a step costs 1/speed simulated seconds), a training window of
# W = 60 simulated seconds per round (the slow replica's H = 15 steps), 10
# rounds = 600 simulated seconds, nano, B = 2, T = 64, on the CPU reference
# engine, the selected-replica mean, float aggregates. Fixed H against
# time-boxed rounds (step cap, token cap, learning rate past H).
# Usage: sh docs/results/heterogeneous/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/heterogeneous
FILTER=${1:-}
. docs/results/run-sim.sh
COMMON='--algo sparseloco --model nano --peers 3 --speeds 0.25,1,4 --inner 15 --round-seconds 60 --rounds 10 --batch 2 --seq 64 --seed 1 --eval-batches 16 --rule selected-mean --download float'
run fixed-h15                   --schedule fixed
run timeboxed-max240-cap2       --schedule time-boxed --max-steps 240 --token-cap 2
run timeboxed-max60-cap2        --schedule time-boxed --max-steps 60 --token-cap 2
run timeboxed-max240-cap1       --schedule time-boxed --max-steps 240 --token-cap 1
run timeboxed-max240-cap2-lr-continue --schedule time-boxed --max-steps 240 --token-cap 2 --lr-past-nominal continue
run timeboxed-max240-cap16      --schedule time-boxed --max-steps 240 --token-cap 16
