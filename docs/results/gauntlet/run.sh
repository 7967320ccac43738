#!/bin/sh
# Gauntlet under attack (docs/results.md "Gauntlet under attack"): honest
# peers and adversaries, every round closed by the relay's Gauntlet code
# (src/sim/attack.ts), nano, H = 10, B = 2, T = 64, 12 rounds, on the CPU
# reference engine, the run defaults (selected-replica mean with token
# weights, 2-bit published aggregates, α 2). Gauntlet off aggregates everything.
# Usage: sh docs/results/gauntlet/run.sh [name-filter]
set -e
cd "$(dirname "$0")/../../.."
out=docs/results/gauntlet
FILTER=${1:-}
. docs/results/run-sim.sh
COMMON='--model nano --inner 10 --rounds 12 --batch 2 --seq 64 --seed 1'
run honest6-off         --gauntlet off --peers 6
run noise-flip-off      --gauntlet off --peers 8 --attackers noise:1,flip:1
run noise-flip-on       --gauntlet on  --peers 8 --attackers noise:1,flip:1
run copycat-free-on     --gauntlet on  --peers 8 --attackers copycat:1,free-rider:1
run wrong-sybil-on      --gauntlet on  --peers 8 --attackers wrong-data:1,sybil:1
run honest4-off         --gauntlet off --peers 4
run sybil6-off          --gauntlet off --peers 10 --attackers sybil:6
run sybil6-on           --gauntlet on  --peers 10 --attackers sybil:6
# One bad replica under each aggregation rule (issue 12's robustness check;
# docs/results.md "One bad replica under each rule"): 4 honest peers and one
# attacker; the chosen selected-replica mean at the default α 2 and at α 1
# (the rate before the 60-round tuning), against the contender, the 1/R mean
# with α 4 (the plain sum at R = 4); Gauntlet on and off.
run honest4-off-a1      --gauntlet off --peers 4 --outer-lr 1
run honest4-off-sum     --gauntlet off --peers 4 --rule mean --outer-lr 4
for attacker in noise flip; do
  for gauntlet in off on; do
    run "one-$attacker-$gauntlet"     --gauntlet $gauntlet --peers 5 --attackers $attacker:1
    run "one-$attacker-$gauntlet-a1"  --gauntlet $gauntlet --peers 5 --attackers $attacker:1 --outer-lr 1
    run "one-$attacker-$gauntlet-sum" --gauntlet $gauntlet --peers 5 --attackers $attacker:1 --rule mean --outer-lr 4
  done
done
