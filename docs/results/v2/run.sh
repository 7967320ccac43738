#!/bin/sh
# Results table v2 of docs/results.md: nano and tiny, R = 4, H = 15, T = 64,
# 60 rounds at equal tokens, on the CPU reference engine; B = 2 for nano
# (460,800 tokens), B = 1 for tiny (230,400 tokens: half the batch keeps 60
# rounds of a 842k-parameter model within a few hours of a shared 2-core
# machine). Each run writes its per-round lines and, last, the whole result
# as JSON to <name>.log.
# Usage: sh docs/results/v2/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/v2
run() {
  name=$1; shift
  case "$name" in *${FILTER}*) ;; *) return 0 ;; esac
  [ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && return 0
  echo "== $name: $*"
  nice -n 10 node --import tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts --peers 4 --inner 15 --rounds 60 --seq 64 --seed 1 \
    --eval-batches 16 --engine cpu --json "$@" > "$out/$name.log" 2>&1
  tail -2 "$out/$name.log" | head -1
}
FILTER=${1:-}
run tiny-diloco --model tiny --batch 1 --algo diloco
run nano-diloco --model nano --batch 2 --algo diloco
run nano-ddp --model nano --batch 2 --algo ddp
# SparseLoCo as the system runs it: the chosen rule, the 2-bit published update.
# (nano with the float aggregate too: docs/results/v2/nano-sparseloco-selected-mean.log.)
run nano-sparseloco-selected-mean --model nano --batch 2 --algo sparseloco --rule selected-mean
run tiny-sparseloco-selected-mean-quantized --model tiny --batch 1 --algo sparseloco --rule selected-mean --download quantized
run tiny-ddp --model tiny --batch 1 --algo ddp
