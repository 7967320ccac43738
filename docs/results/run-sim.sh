# Sourced by the run.sh beside each set of simulator logs: run NAME ARGS…
# runs `npm run sim` (called through node directly, one process) with the
# set's common arguments ($COMMON) and ARGS, writing its round lines and,
# last, its JSON result to $out/NAME.log — unless that log already ends in a
# result, or NAME does not contain $FILTER. Needs $out and $COMMON.
run() {
  name=$1; shift
  case "$name" in *${FILTER}*) ;; *) return 0 ;; esac
  [ -s "$out/$name.log" ] && grep -q '^{' "$out/$name.log" && return 0
  echo "== $name: $COMMON $*"
  # shellcheck disable=SC2086 # COMMON is a list of words
  nice -n 10 node --import tsx --import ./src/node/register-wgsl.mjs src/sim/main.ts $COMMON --engine cpu --json "$@" > "$out/$name.log" 2>&1
  tail -2 "$out/$name.log" | head -1
}
