// Scoring workers: with --scoring workers the relays put their evaluations on
// the database's queue, a separate `npm run scorer` process takes them, and
// the result is the very loss the relay would have measured itself (same
// function, same bytes); every replica shows it. With no worker running, the
// job is abandoned at the relay's deadline: the loss of that version stays
// unknown — the relay's failure — and the round closes all the same.
import { describe, expect, it } from 'vitest';
import { ensureDataset } from '../../src/data/prepare.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import { buildRunConfig } from '../../src/relay/config.ts';
import { OrtEvaluator } from '../../src/relay/evaluator.ts';
import { getJson, post } from '../unit/relay-fixtures.ts';
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
});
