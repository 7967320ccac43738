#!/bin/sh
# Closing the gap of results table v2 (docs/results.md, "Tuning SparseLoCo's
# outer step at 60 rounds"): nano as in v2 (R = 4, H = 15, B = 2, T = 64,
# 60 rounds, 460,800 tokens; selected-replica mean, 2-bit published update),
# varying only the outer rate α and the error-feedback decay β. The α 1,
# β 0.95 row is v2's own run (docs/results/v2/nano-sparseloco-selected-mean-quantized.log).
# Usage: sh docs/results/v2-tuning/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/v2-tuning
FILTER=${1:-}
. docs/results/run-sim.sh
COMMON='--peers 4 --inner 15 --rounds 60 --seq 64 --seed 1 --eval-batches 16 --model nano --batch 2 --algo sparseloco --rule selected-mean --download quantized'
run nano-alpha1.5 --outer-lr 1.5
run nano-alpha2 --outer-lr 2
run nano-alpha3 --outer-lr 3
run nano-beta0.9 --outer-lr 1 --ef-beta 0.9
run nano-beta0.99 --outer-lr 1 --ef-beta 0.99
