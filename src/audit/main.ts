// `npm run audit -- --relay URL --round r [--json]`: recompute round r of a
// relay's Gauntlet from what it published and check its signed receipt
// (audit.ts says what is read and checked). Exit status 0 when every check
// passes, 1 when one fails, 2 on a usage error.
// Leaves out: auditing many rounds at once (loop over --round).
import { parseArgs } from 'node:util';
import { ensureDataset } from '../data/prepare.ts';
import { protocolReady } from '../protocol/index.ts';
import { auditRound } from './audit.ts';

const USAGE = 'usage: npm run audit -- --relay http://127.0.0.1:8787 --round r [--json]';

const { values } = parseArgs({
  options: { relay: { type: 'string' }, round: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.relay || values.round === undefined || !/^\d{1,10}$/.test(values.round)) {
  console.error(USAGE);
  process.exit(2);
}
await protocolReady();
const report = await auditRound(values.relay, Number(values.round), {
  dataset: ensureDataset(),
  log: values.json ? undefined : (line) => console.log(line),
});
if (values.json) console.log(JSON.stringify(report));
else console.log(report.ok ? `round ${report.round}: the receipt checks out${report.bitForBit ? ' (losses bit for bit)' : ''}` : `round ${report.round}: the receipt does NOT check out`);
process.exit(report.ok ? 0 : 1);
