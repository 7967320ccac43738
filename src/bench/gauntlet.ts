// `npm run bench -- gauntlet [--models nano,tiny] [--submissions 10,100]`: what
// Gauntlet adds to a round close, per model and round size R, on the real
// relay (HTTP on 127.0.0.1, evaluation in its worker thread):
//   evaluated               submissions evaluated (the budget: at most 20 by default)
//   eval_ms_per_submission  the evaluation's wall time / evaluated (onnxruntime-web, wasm,
//                           one thread: the baselines θ and the consensus step θ_ref, then
//                           per submission θ' on 8 random + 8 own windows of T)
//   overlap_ms              copy detection over all R(R−1)/2 pairs (main thread)
//   close_ms                the whole close: scoring, aggregation of the selected, outer
//                           step, persistence (Relay.lastCloseMs)
// A first round of two submissions warms the worker (its start and the ORT
// session are not part of a close). The relay's evaluation deadline is set
// far out, so the bench measures the whole evaluation rather than the
// deadline (a relay closes at evaluationTimeoutMs whatever the cost). Payloads are distinct random residuals,
// compressed: random updates, so the selection is arbitrary, but every
// evaluation and pair costs what a real one does.
// Leaves out: ingest (`bench relay`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { GPT_PRESETS } from '../model/config.ts';
import { buildLayout } from '../model/layout.ts';
import { launchRelay } from '../relay/launch.ts';
import { benchFrames, benchKeys, benchPayload, postAll } from './relay.ts';
import { printTable, round, type BenchOptions } from './report.ts';

export async function benchGauntlet(options: BenchOptions) {
  await cryptoWaitReady();
  const models = options.models ?? ['nano', 'tiny'];
  const counts = options.submissions ?? [10, 100];
  const pairs = benchKeys(Math.max(...counts));
  const rows = [];
  for (const model of models) {
    const layout = buildLayout(GPT_PRESETS[model]);
    const payloads = pairs.map((_, i) => benchPayload(layout, i + 1));
    for (const R of counts) {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-gauntlet-'));
      const server = await launchRelay({
        dataDir: dir,
        port: 0,
        distDir: null,
        run: { runId: 'bench', preset: model },
        relay: {
          quorum: R,
          minSubmissions: 1,
          roundMs: 3_600_000,
          evaluationTimeoutMs: 3_600_000,
          ipRateLimit: { burst: 1e9, perSecond: 1e9 },
          addressRateLimit: { burst: 1e9, perSecond: 1e9 },
          // All R uploads come from 127.0.0.1 at once: the per-address upload cap would refuse most.
          limits: { uploadsPerIp: 1e9, maxUploads: 1e9 },
        },
        evaluate: false,
      });
      try {
        // Warm-up round: two submissions, closed by hand.
        const { statuses: warm } = await postAll(server.url, benchFrames(pairs.slice(0, 2), server.relay.roundState(), payloads, model), 2);
        if (warm.some((s) => s !== 200)) throw new Error(`warm-up submissions refused: ${warm.join(', ')}`);
        await server.relay.closeRound('deadline');
        const state = server.relay.roundState();
        if (state.version !== 1) throw new Error('the warm-up round did not close');
        const { statuses } = await postAll(server.url, benchFrames(pairs.slice(0, R), state, payloads, model), 64);
        const refused = statuses.filter((s) => s !== 200).length;
        if (refused) throw new Error(`${refused} of ${R} bench submissions were refused`);
        for (let i = 0; i < 60_000 && server.relay.roundState().version === state.version; i++) await new Promise((r) => setTimeout(r, 10));
        const scoring = server.relay.lastScoring;
        if (server.relay.roundState().version !== 2 || !scoring || server.relay.lastCloseMs === null) throw new Error('the measured round did not close');
        if (scoring.measured !== scoring.drawn) throw new Error(`${scoring.drawn - scoring.measured} of ${scoring.drawn} evaluations failed`);
        rows.push({
          model,
          submissions: R,
          evaluated: scoring.measured,
          eval_ms_per_submission: round(scoring.evaluationMs / Math.max(1, scoring.measured), 1),
          overlap_ms: round(scoring.overlapMs, 1),
          close_ms: round(server.relay.lastCloseMs, 1),
        });
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  printTable('gauntlet: round close with scoring (evaluation in the worker, copy overlap, aggregation, persistence)', rows);
  return { bench: 'gauntlet', rows };
}
