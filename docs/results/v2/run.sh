#!/bin/sh
# Results table v2 of docs/results.md: nano and tiny, R = 4, H = 15, B = 2,
# T = 64, 60 rounds (460,800 tokens: 60 × 4 × 15 × 128), equal
# tokens, on the CPU reference engine. Each run writes its per-round lines and,
# last, the whole result as JSON to <name>.log.
# Usage: sh docs/results/v2/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/v2
run() {
  name=$1; shift
  case "$name" in *${FILTER}*) ;; *) return 0 ;; esac
  [ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && return 0
  echo "== $name: $*"
  nice -n 10 npx tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts --peers 4 --inner 15 --rounds 60 --batch 2 --seq 64 --seed 1 \
    --eval-batches 16 --engine cpu --json "$@" > "$out/$name.log" 2>&1
  tail -2 "$out/$name.log" | head -1
}
FILTER=${1:-}
for model in tiny nano; do
  run "$model-diloco" --model $model --algo diloco
  run "$model-ddp"    --model $model --algo ddp
done
