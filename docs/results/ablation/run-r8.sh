#!/bin/sh
# Does the outer rate that suits the 1/R mean depend on R? The aggregation
# ablation (run.sh) at R = 8 instead of 4 (nano, k 64, H 15, 20 rounds, B 2,
# T 64, CPU reference engine): the selected-replica mean at α = 1 against the
# 1/R mean at α = 4 (R = 4's best) and α = 8 (= R, the plain sum).
# Usage: sh docs/results/ablation/run-r8.sh
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/ablation
run() {
  name=$1; shift
  [ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && return 0
  echo "== $name: $*"
  nice -n 10 node --import tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts --model nano --peers 8 --batch 2 --seq 64 --seed 1 \
    --eval-batches 16 --engine cpu --json --algo sparseloco --topk 64 --inner 15 --rounds 20 "$@" > "$out/$name.log" 2>&1
  tail -2 "$out/$name.log" | head -1
}
run r8-k64-h15-selected-mean --rule selected-mean
run r8-k64-h15-mean-a4 --rule mean --outer-lr 4
run r8-k64-h15-mean-a8 --rule mean --outer-lr 8
