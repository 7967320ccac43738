#!/bin/sh
# The learning effect of publishing the round's update as a 2-bit aggregate
# (docs/results.md, "Small downloads"): the v2 nano SparseLoCo run
# (docs/results/v2/nano-sparseloco-selected-mean.log, float aggregate) again
# with --download quantized. Forwarding the submissions needs no run: tabs
# then compute the float aggregate themselves, bit for bit
# (tests/unit/sim-cpu.test.ts).
# Usage: sh docs/results/downloads/run.sh
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/downloads
name=nano-sparseloco-selected-mean-quantized
[ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && exit 0
echo "== $name"
nice -n 10 node --import tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts --peers 4 --inner 15 --rounds 60 --seq 64 --seed 1 \
  --eval-batches 16 --engine cpu --json --model nano --batch 2 --algo sparseloco --rule selected-mean --download quantized > "$out/$name.log" 2>&1
tail -2 "$out/$name.log" | head -1
