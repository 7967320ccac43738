// Scoring workers: with --scoring workers the relays put their evaluations on
// the database's queue, a separate `npm run scorer` process takes them, and
// the result is the very loss the relay would have measured itself (same
// function, same bytes); every replica shows it. With no worker running, the
// job is abandoned at the relay's deadline: the loss of that version stays
// unknown — the relay's failure — and the round closes all the same.
// Gauntlet's evaluation job runs in the workers too, split across them: the
// receipts every replica serves are one receipt, signed by the one relay key
// the replicas share, and `npm run audit`'s check recomputes the round bit for
// bit in this process. With no worker, the trials are the relay's failure
// ('relay-failure', no penalty) and the round still closes.
import { describe, expect, it } from 'vitest';
import { ensureDataset } from '../../src/data/prepare.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildRunConfig } from '../../src/relay/config.ts';
import { OrtEvaluator } from '../../src/relay/evaluator.ts';
import { auditRound } from '../../src/audit/audit.ts';
import { parseSignedReceiptBody, verifyReceipt } from '../../src/protocol/index.ts';
import { getJson, post, signedFrame, trainedPayload, walletFor } from '../unit/relay-fixtures.ts';
import { clustersOfThisFile, checkpointOf, contributions, startTestCluster, waitFor, waitForVersion } from './cluster-fixtures.ts';

const clusters = clustersOfThisFile();

/** The loss a relay measures itself for θ (the run's evaluation settings, the shipped validation bytes). */
function lossInProcess(params: Float32Array): Promise<number> {
  const dataset = ensureDataset();
  const evaluation = buildRunConfig({ preset: 'nano', data: { name: 'brown', trainUrl: '', trainBytes: 0, trainSha256: '', valBytes: 0, valSha256: '' } }).evaluation;
  return new OrtEvaluator(GPT_PRESETS.nano, dataset.val, evaluation).evaluate(params);
}

describe('scoring workers', () => {
  it('measure what the relay would, and a job nobody takes is the relay\'s failure', async () => {
    const test = await startTestCluster('scoring', { replicas: 2, scorers: 1, evaluate: true, relayArgs: ['--quorum', '2', '--round-ms', '600000', '--scoring-timeout-ms', '20000'] });
    clusters.push(test);
    const urls = [0, 1].map((i) => test.cluster.relayUrl(i));
    const batch = await contributions(urls[0], [700, 701]);
    for (const [i, c] of batch.entries()) expect((await post(urls[i], c.frame)).status).toBe(200);
    await waitForVersion(test, [0, 1], 1);
    const theta1 = await checkpointOf(urls[1]);
    const losses = await Promise.all(
      urls.map((url) => waitFor(`the loss of v1 at ${url}`, async () => (await getJson(url, 'api/stats')).losses.find((l: { version: number }) => l.version === 1) ?? null)),
    );
    const expected = await lossInProcess(theta1);
    expect(losses.map((l) => l.loss)).toEqual([expected, expected]);
    const jobs = await test.db.query("SELECT DISTINCT worker, status FROM evaluation_jobs WHERE round = 1 AND kind = 'validation-loss'");
    expect(jobs.rows).toEqual([{ worker: 'scorer-0', status: 'done' }]);

    // No worker: the next version's job is abandoned at the deadline; the round closed regardless.
    await test.cluster.stopScorer(0);
    const next = await contributions(urls[0], [702, 703]);
    for (const [i, c] of next.entries()) expect((await post(urls[i], c.frame)).status).toBe(200);
    await waitForVersion(test, [0, 1], 2);
    await waitFor('the abandoned job', async () => ((await test.db.query("SELECT 1 FROM evaluation_jobs WHERE round = 2 AND status = 'abandoned'")).rowCount ? true : null), 120_000);
    const failed = [...test.lines.values()].flat().filter((l) => l.includes('evaluating the model failed') && l.includes('no scoring worker finished it within the deadline'));
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const url of urls) expect((await getJson(url, 'api/stats')).losses.some((l: { version: number }) => l.version === 2)).toBe(false);
  }, 400_000);

  it("run Gauntlet's evaluation for every replica, signed by one shared key", async () => {
    const test = await startTestCluster('gauntlet-workers', {
      replicas: 2,
      scorers: 2,
      relayArgs: ['--gauntlet', 'on', '--quorum', '3', '--round-ms', '600000', '--scoring', 'workers', '--evaluation-timeout-ms', '45000'],
    });
    clusters.push(test);
    const urls = [0, 1].map((i) => test.cluster.relayUrl(i));
    const runs = await Promise.all(urls.map((url) => getJson(url, 'api/run')));
    expect(runs[0].relayAddress).toBe(runs[1].relayAddress);
    expect(runs[0].gauntlet.enabled).toBe(true);

    /** Updates trained on each wallet's assigned data, posted to the replicas in turn. */
    const contribute = async (ids: number[]) => {
      const state = await getJson(urls[0], 'api/round');
      const theta = await checkpointOf(urls[0]);
      for (const [i, id] of ids.entries()) {
        const wallet = walletFor(id);
        const payload = trainedPayload(wallet.address, state.round, state.version, theta);
        const frame = await signedFrame({ wallet, round: state.round, version: state.version, modelHash: state.modelHash, payload });
        expect((await post(urls[i % 2], frame)).status).toBe(200);
      }
    };
    const receiptsOf = async (round: number) => {
      const bodies = await Promise.all(urls.map((url) => getJson(url, `api/rounds/${round}/receipt`)));
      expect(bodies[1]).toEqual(bodies[0]);
      return verifyReceipt(parseSignedReceiptBody(bodies[0]), runs[0].relayAddress);
    };

    await contribute([800, 801, 802]);
    await waitForVersion(test, [0, 1], 1);
    const first = await receiptsOf(0);
    expect(first.entries.map((e) => e.status)).toEqual(['evaluated', 'evaluated', 'evaluated']);
    const jobs = await test.db.query("SELECT status, count(*)::int AS n FROM evaluation_jobs WHERE kind = 'gauntlet-trials' GROUP BY status");
    expect(jobs.rows).toEqual([{ status: 'done', n: expect.any(Number) }]);
    // Losses measured in other processes are the ones the audit measures here, bit for bit.
    const audit = await auditRound(urls[1], 0, { dataset: ensureDataset() });
    expect(audit.checks.filter((c) => !c.ok)).toEqual([]);
    expect(audit.bitForBit).toBe(true);

    // No worker: the close waits its budget, then records the trials as the relay's failure.
    await test.cluster.stopScorer(0);
    await test.cluster.stopScorer(1);
    await contribute([800, 801, 802]);
    await waitForVersion(test, [0, 1], 2);
    const second = await receiptsOf(1);
    expect(second.entries.map((e) => e.status)).toEqual(['relay-failure', 'relay-failure', 'relay-failure']);
    // Whichever replica closed round 1 went on from round 0's Gauntlet state, as every replica follows it.
    expect(second.stateHashBefore).toBe(first.stateHashAfter);
    // Nothing held against the contributors for it (copy detection is no evaluation: 'copy-suspect' is recorded, not penalised).
    for (const entry of second.entries) expect(entry.penalties.filter((p) => p !== 'copy-suspect')).toEqual([]);
  }, 400_000);
});
