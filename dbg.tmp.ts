import { rngFor } from './tests/support/rng.ts';
import { CLASS_WEIGHTS } from './tests/fuzz/hostile-client.ts';
import { WIRE_GENERATORS } from './tests/fuzz/wire-cases.ts';
import { exchange, parseResponses } from './tests/support/http-wire.ts';
import { spawnRelay, tempDir, kill9 } from './tests/unit/relay-fixtures.ts';
const [seed, index] = process.argv.slice(2).map(Number);
const r = rngFor(seed, index);
const classes = Object.keys(CLASS_WEIGHTS) as (keyof typeof CLASS_WEIGHTS)[];
const total = classes.reduce((s, c) => s + CLASS_WEIGHTS[c], 0);
let x = r.next() * total; let cls = classes[0];
for (const c of classes) { x -= CLASS_WEIGHTS[c]; if (x < 0) { cls = c; break; } }
console.log(cls);
const c = (WIRE_GENERATORS as any)[cls](r, { headersTimeoutMs: 2000, requestTimeoutMs: 5000, bodyLimit: 500000, frame: null, address: 'x' });
console.log(JSON.stringify(String(c.steps[0].write)).slice(0, 3000), c.methods);
import { mkdirSync, writeFileSync } from 'node:fs';
const dist = tempDir('d'); mkdirSync(dist + '/data'); writeFileSync(dist + '/index.html', 'x'); writeFileSync(dist + '/data/big.bin', Buffer.alloc(1_100_000, 7));
const relay = await spawnRelay(tempDir('dbg'), ['--dist', dist]);
const port = Number(new URL(relay.url).port);
for (let i = 0; i < 3; i++) {
  const res = await exchange({ port, steps: c.steps, waitMs: 5000 });
  const p = parseResponses(res.data, c.methods, res.closedByServer);
  console.log(p.malformed, p.responses.map((x) => x.status), res.closedByServer, res.data.length);
  if (p.malformed) console.log(JSON.stringify(res.data.toString('latin1').slice(0, 900)), relay.output().slice(-500));
}
await kill9(relay);
process.exit(0);
