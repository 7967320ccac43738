#!/bin/sh
# The aggregation-rule ablation of docs/results.md ("Aggregation rule"): nano,
# R = 4, B = 2, T = 64, 300 inner steps per replica (equal tokens: 20 rounds of
# H = 15 or 10 of H = 30), float aggregates, on the CPU reference engine; then
# the rule at R = 8 (α tuned for R = 4 against the plain sum). Each run writes
# its round lines and, last, its JSON result to <name>.log. Every line names
# its α, so the logs stay reproducible whatever the run default is.
# Usage: sh docs/results/ablation/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/ablation
FILTER=${1:-}
. docs/results/run-sim.sh
COMMON='--model nano --peers 4 --batch 2 --seq 64 --seed 1 --eval-batches 16 --download float'
for k in 64 128; do
  for H in 15 30; do
    R=$((300 / H))
    run "k$k-h$H-mean"          --algo sparseloco --topk $k --inner $H --rounds $R --rule mean --outer-lr 1
    run "k$k-h$H-selected-mean" --algo sparseloco --topk $k --inner $H --rounds $R --rule selected-mean --outer-lr 1
    run "k$k-h$H-mean-a2"       --algo sparseloco --topk $k --inner $H --rounds $R --rule mean --outer-lr 2
    run "k$k-h$H-mean-a4"       --algo sparseloco --topk $k --inner $H --rounds $R --rule mean --outer-lr 4
    run "k$k-h$H-selected-mean-a2" --algo sparseloco --topk $k --inner $H --rounds $R --rule selected-mean --outer-lr 2
  done
done
COMMON='--model nano --peers 4 --batch 2 --seq 64 --seed 1 --eval-batches 16'
for H in 15 30; do
  run "diloco-h$H" --algo diloco --inner $H --rounds $((300 / H))
done
run "ddp-h15" --algo ddp --inner 15 --rounds 20
COMMON='--model nano --peers 8 --batch 2 --seq 64 --seed 1 --eval-batches 16 --download float --algo sparseloco --topk 64 --inner 15 --rounds 20'
run r8-k64-h15-selected-mean --rule selected-mean --outer-lr 1
run r8-k64-h15-selected-mean-a2 --rule selected-mean --outer-lr 2
run r8-k64-h15-mean-a4 --rule mean --outer-lr 4
run r8-k64-h15-mean-a8 --rule mean --outer-lr 8
