// `npm run bench -- restart [--models nano] [--stored 2400] [--repeat 5]`:
// how long a relay takes to come back with `stored` acknowledged submissions
// in its open round, from launchRelay() to listening (the store read, θ's
// hash check, the round's frames), measured on the same data directory
//   with_record_ms     frames carry their verification record (this relay):
//                      no signature check, decoding left to the background
//   checked_ms         the same frames without a record (stored the way the
//                      first relays did, a file each with no record): every
//                      frame verified and decoded before listening,
//                      as every start did before records (recording them is
//                      left to the background)
//   decoded_after_ms   with records: until the background decoding is done
//                      (a round close waits for it; requests are answered meanwhile)
// Each figure is the median of `repeat` restarts, with the range.
// Leaves out: the ingest itself (bench relay), evaluation (off).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { GptPresetName } from '../model/config.ts';
import { launchRelay } from '../relay/launch.ts';
import { decodeLog } from '../relay/submission-log.ts';
import { benchFrames, benchKeys, benchPayloads } from './relay.ts';
import { printTable, round, type BenchOptions } from './report.ts';

function spread(times: number[]): { median: number; min: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

export async function benchRestart(options: BenchOptions) {
  await cryptoWaitReady();
  const models: GptPresetName[] = options.models ?? ['nano'];
  const stored = options.stored ?? 2400;
  const repeat = options.repeat ?? 5;
  const pairs = benchKeys(stored);
  const rows = [];
  for (const model of models) {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-restart-'));
    const launch = () =>
      launchRelay({ dataDir: dir, port: 0, distDir: null, run: { runId: 'bench', preset: model }, relay: { quorum: 1e9, roundMs: 3_600_000 }, evaluate: false });
    try {
      // Fill the open round through the relay itself (batches, to stay within its per-address limits).
      const first = await launch();
      const frames = benchFrames(pairs, first.relay.roundState(), benchPayloads(model), model);
      for (let at = 0; at < frames.length; at += 4) {
        await Promise.all(frames.slice(at, at + 4).map((frame) => first.relay.submit(frame)));
      }
      await first.close();

      const time = async (): Promise<{ listen: number; decoded: number; counts: string }> => {
        const started = performance.now();
        const server = await launch();
        const listen = performance.now() - started;
        await server.relay.restoredDecoded();
        const decoded = performance.now() - started;
        await server.relay.recordsWritten();
        const { fromRecord, checkedNow, refused } = server.relay.lastRestore;
        await server.close();
        return { listen, decoded, counts: `${fromRecord}/${checkedNow}/${refused}` };
      };
      // A restart that checks a frame records it: put the round's files back the way each measurement needs them.
      const roundDir = join(dir, 'rounds', 'r0000000000');
      const log = readFileSync(join(roundDir, 'submissions.log'));
      const entries = decodeLog(log, 0).entries;
      const reset = (legacy: boolean) => {
        for (const e of entries) {
          const path = join(roundDir, `${e.address}.sub`);
          if (!legacy) rmSync(path, { force: true });
          else {
            const prefix = Buffer.alloc(8);
            prefix.writeBigUInt64LE(BigInt(e.receivedAt));
            writeFileSync(path, Buffer.concat([prefix, e.frame]));
          }
        }
        writeFileSync(join(roundDir, 'submissions.log'), legacy ? new Uint8Array(0) : log);
      };
      const withRecord: { listen: number; decoded: number; counts: string }[] = [];
      const checked: { listen: number; decoded: number; counts: string }[] = [];
      for (let i = 0; i < repeat; i++) {
        reset(false);
        withRecord.push(await time());
        reset(true);
        checked.push(await time());
      }
      const a = spread(withRecord.map((t) => t.listen));
      const b = spread(checked.map((t) => t.listen));
      const c = spread(withRecord.map((t) => t.decoded));
      rows.push({
        model,
        stored,
        restarts: repeat,
        with_record_ms: `${round(a.median, 0)} (${round(a.min, 0)}–${round(a.max, 0)})`,
        checked_ms: `${round(b.median, 0)} (${round(b.min, 0)}–${round(b.max, 0)})`,
        speedup: round(b.median / a.median, 1),
        decoded_after_ms: `${round(c.median, 0)} (${round(c.min, 0)}–${round(c.max, 0)})`,
        record_checked_refused: `${withRecord[0].counts} | ${checked[0].counts}`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  printTable('relay restart with an open round of stored submissions: to listening, with and without verification records', rows);
  return { bench: 'restart', rows };
}
