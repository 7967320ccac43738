#!/bin/sh
# Results table v2 of docs/results.md: nano and tiny, R = 4, H = 15, T = 64,
# 60 rounds at equal tokens, on the CPU reference engine; B = 2 for nano
# (460,800 tokens), B = 1 for tiny (230,400 tokens: half the batch keeps 60
# rounds of an 842k-parameter model within a few hours of a shared 2-core
# machine). SparseLoCo as the system runs it: the selected-replica mean, the
# 2-bit published update and the outer rate α 2 (docs/results/v2-tuning/ chose
# it; the nano α 2 run is the same command as v2-tuning's nano-alpha2, and
# gives the same log); α 1, the rate before that tuning, for comparison
# (nano also with the float update). Every SparseLoCo line names its α.
# Usage: sh docs/results/v2/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/v2
FILTER=${1:-}
. docs/results/run-sim.sh
COMMON='--peers 4 --inner 15 --rounds 60 --seq 64 --seed 1 --eval-batches 16'
run tiny-diloco --model tiny --batch 1 --algo diloco
run tiny-sparseloco-a2-quantized --model tiny --batch 1 --algo sparseloco --rule selected-mean --download quantized --outer-lr 2
run tiny-sparseloco-selected-mean-quantized --model tiny --batch 1 --algo sparseloco --rule selected-mean --download quantized --outer-lr 1
run nano-sparseloco-a2-quantized --model nano --batch 2 --algo sparseloco --rule selected-mean --download quantized --outer-lr 2
run nano-sparseloco-selected-mean --model nano --batch 2 --algo sparseloco --rule selected-mean --download float --outer-lr 1
run nano-sparseloco-selected-mean-quantized --model nano --batch 2 --algo sparseloco --rule selected-mean --download quantized --outer-lr 1
run nano-diloco --model nano --batch 2 --algo diloco
run nano-ddp --model nano --batch 2 --algo ddp
run tiny-ddp --model tiny --batch 1 --algo ddp
