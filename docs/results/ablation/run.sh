#!/bin/sh
# The aggregation-rule ablation of docs/results.md ("Aggregation rule"): nano,
# R = 4, B = 2, T = 64, 300 inner steps per replica (equal tokens: 20 rounds of
# H = 15 or 10 of H = 30), on the CPU reference engine. Each run writes its
# per-round lines and, last, the whole result as JSON to <name>.log.
# Usage: sh docs/results/ablation/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/ablation
run() {
  name=$1; shift
  case "$name" in *${FILTER}*) ;; *) return 0 ;; esac
  [ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && return 0
  echo "== $name: $*"
  nice -n 10 node --import tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts --model nano --peers 4 --batch 2 --seq 64 --seed 1 \
    --eval-batches 16 --engine cpu --json "$@" > "$out/$name.log" 2>&1
  tail -2 "$out/$name.log" | head -1
}
FILTER=${1:-}
for k in 64 128; do
  for H in 15 30; do
    R=$((300 / H))
    run "k$k-h$H-mean"          --algo sparseloco --topk $k --inner $H --rounds $R --rule mean
    run "k$k-h$H-selected-mean" --algo sparseloco --topk $k --inner $H --rounds $R --rule selected-mean
    run "k$k-h$H-mean-a2"       --algo sparseloco --topk $k --inner $H --rounds $R --rule mean --outer-lr 2
    run "k$k-h$H-mean-a4"       --algo sparseloco --topk $k --inner $H --rounds $R --rule mean --outer-lr 4
  done
done
for H in 15 30; do
  run "diloco-h$H" --algo diloco --inner $H --rounds $((300 / H))
done
run "ddp-h15" --algo ddp --inner 15 --rounds 20
