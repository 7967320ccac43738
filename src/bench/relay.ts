// `npm run bench -- relay [--models nano,tiny,small] [--submissions 10,100]`:
// the relay as a volunteer swarm feels it, per model preset and round size R:
//   ingest_per_s  signed submissions per second through the real HTTP server
//                 on 127.0.0.1, all R in flight at once: framing, sr25519
//                 verification, payload hash, codec decode and the fsync'd
//                 write before each acknowledgement
//   close_ms      the round close the R-th submission triggers: aggregate,
//                 outer step, model hash, and the durable writes of aggregate,
//                 checkpoint, round record and state (Relay.lastCloseMs)
//   peak_rss_mb   the process's peak resident memory so far (cumulative: it
//                 includes the earlier rows, which is what a relay that has
//                 run them would hold at most)
// Payloads are real compressed updates (4 distinct random residuals per model,
// reused across keys); signing happens before the clock starts.
// Leaves out: evaluation (off here; it runs after the close and is not part of
// it) and Gauntlet's scoring (off here; `npm run bench -- gauntlet`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { encodeUpdate } from '../compress/codec.ts';
import { compress, defaultCompressConfig } from '../compress/sparseloco.ts';
import { GPT_PRESETS, type GptPresetName } from '../model/config.ts';
import { buildLayout, type ParameterLayout } from '../model/layout.ts';
import { uniformFloats } from '../model/random.ts';
import { encodeHeader, encodeSubmission, hexToHash, payloadHash, SS58_PREFIX, type RoundState } from '../protocol/index.ts';
import { launchRelay } from '../relay/launch.ts';
import { printTable, round, type BenchOptions } from './report.ts';

/** n sr25519 keys from the seeds 1..n (the tests' wallets use the same). */
export function benchKeys(n: number): KeyringPair[] {
  const keyring = new Keyring({ type: 'sr25519', ss58Format: SS58_PREFIX });
  return Array.from({ length: n }, (_, i) => keyring.addFromUri(`0x${(i + 1).toString(16).padStart(64, '0')}`));
}

/** A real compressed update of residual-like values (uniform in ±1e-3, from `seed`). */
export function benchPayload(layout: ParameterLayout, seed: number): Uint8Array {
  return encodeUpdate(compress(uniformFloats(layout.size, seed, 1e-3), layout.tensors, defaultCompressConfig), layout.tensors, defaultCompressConfig);
}

/** Frames for the open round, signed as a tab signs them, for a run with the default H = 15, B = 8, T = block size. */
export function benchFrames(pairs: readonly KeyringPair[], state: RoundState, payloads: readonly Uint8Array[], model: GptPresetName): Uint8Array[] {
  return pairs.map((pair, i) => {
    const payload = payloads[i % payloads.length];
    const headerBytes = encodeHeader({
      runId: 'bench',
      round: state.round,
      baseModelVersion: state.version,
      baseModelHash: hexToHash(state.modelHash),
      payloadHash: payloadHash(payload),
      payloadBytes: payload.length,
      address: pair.address,
      innerSteps: 15,
      tokens: 15 * 8 * GPT_PRESETS[model].blockSize,
      clientVersion: 'tessera-bench/relay',
    });
    return encodeSubmission({ headerBytes, signature: pair.sign(u8aWrapBytes(headerBytes)) }, payload);
  });
}

/** POSTs every frame at once; their HTTP statuses. */
export function postAll(url: URL, frames: Uint8Array[]): Promise<number[]> {
  return Promise.all(
    frames.map((frame) =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: frame as BodyInit }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    ),
  );
}

/** Four real compressed updates of the preset (distinct residual-like random values). */
export function benchPayloads(model: GptPresetName): Uint8Array[] {
  const layout = buildLayout(GPT_PRESETS[model]);
  return [1, 2, 3, 4].map((seed) => benchPayload(layout, seed));
}

export async function benchRelay(options: BenchOptions) {
  await cryptoWaitReady();
  const models = options.models ?? ['nano', 'tiny', 'small'];
  const counts = options.submissions ?? [10, 100];
  const pairs = benchKeys(Math.max(...counts));
  const rows = [];
  for (const model of models) {
    const layout = buildLayout(GPT_PRESETS[model]);
    const payloads = benchPayloads(model);
    for (const R of counts) {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-relay-'));
      const server = await launchRelay({
        dataDir: dir,
        port: 0,
        distDir: null,
        // Gauntlet off: this bench is ingest and the close's aggregation and persistence; `bench gauntlet` measures scoring.
        run: { runId: 'bench', preset: model, gauntlet: { enabled: false } },
        relay: { quorum: R, roundMs: 3_600_000, ipRateLimit: { burst: 1e9, perSecond: 1e9 }, limits: { uploadsPerIp: 1e9, maxUploads: 1e9 } },
        evaluate: false,
      });
      try {
        const state = server.relay.roundState();
        const frames = benchFrames(pairs.slice(0, R), state, payloads, model);
        const started = performance.now();
        const statuses = await postAll(new URL('api/submissions', server.url), frames);
        const ingestSeconds = (performance.now() - started) / 1000;
        const refused = statuses.filter((s) => s !== 200).length;
        if (refused) throw new Error(`${refused} of ${R} bench submissions were refused`);
        for (let i = 0; i < 6000 && server.relay.roundState().version === state.version; i++) await new Promise((r) => setTimeout(r, 10));
        if (server.relay.lastCloseMs === null) throw new Error('the round did not close');
        rows.push({
          model,
          params: layout.paramCount,
          payload_bytes: payloads[0].length,
          submissions: R,
          ingest_per_s: round(R / ingestSeconds, 1),
          close_ms: round(server.relay.lastCloseMs, 1),
          peak_rss_mb: round(process.resourceUsage().maxRSS / 1024, 1),
        });
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  printTable('relay: ingest (HTTP, verify, decode, fsync) and round close (aggregate, outer step, persist)', rows);
  return { bench: 'relay', rows };
}
