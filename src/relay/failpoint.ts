// Crash injection for the durability tests: with TESSERA_RELAY_FAILPOINT=name
// (or name@n, the n-th time it is reached) the relay SIGKILLs itself at that
// point — exactly what `kill -9` at that instant would do, but reproducible.
// Unset (always, outside tests), failpoint() is one comparison.
//
// Points (relay.ts, file-store.ts): submission:after-write, checkpoint:tmp-written,
// close:after-aggregate, close:after-checkpoint, close:after-record, close:after-state.
// Node-only (process.kill).

const spec = process.env.TESSERA_RELAY_FAILPOINT ?? '';
const [armedName, countText] = spec.split('@');
const armedCount = countText ? Number(countText) : 1;
let hits = 0;

export function failpoint(name: string): void {
  if (!armedName || name !== armedName) return;
  hits += 1;
  if (hits === armedCount) process.kill(process.pid, 'SIGKILL');
}
