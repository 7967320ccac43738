// Faults of the engines under a cluster of relay replicas:
//   - PostgreSQL restarted mid-round: while it is down, submissions are
//     refused 'unavailable' (503) and nothing is acknowledged; afterwards
//     they are taken again, the round closes once with every acknowledged
//     submission, and every replica follows (LISTEN reconnects and resyncs);
//   - the bucket failing (the S3 test server stopped): a submission whose
//     frame goes to the bucket is refused 503 and recorded nowhere (the same
//     frame is then accepted, not 'duplicate'); a close that cannot write
//     θ(v+1) publishes nothing (same state, same checkpoint, no update, no
//     record), and it completes, once, when the bucket is back.
import { describe, expect, it } from 'vitest';
import { BUNDLE_FORMAT, decodeBundle } from '../../src/protocol/index.ts';
import { getBytes, getJson, post } from '../unit/relay-fixtures.ts';
import { clustersOfThisFile, checkpointOf, closeLines, contributions, nextModel, postUntilAnswered, startTestCluster, waitFor, waitForVersion } from './cluster-fixtures.ts';

const clusters = clustersOfThisFile();

describe('cluster faults', () => {
  it('keeps every acknowledged submission across a database restart mid-round', async () => {
    const test = await startTestCluster('db-restart', { replicas: 2, relayArgs: ['--quorum', '6', '--round-ms', '600000'] });
    clusters.push(test);
    const urls = [0, 1].map((i) => test.cluster.relayUrl(i));
    const theta = await checkpointOf(urls[0]);
    const batch = await contributions(urls[0], [500, 501, 502, 503, 504, 505]);
    for (let i = 0; i < 3; i++) expect((await post(urls[i % 2], batch[i].frame)).status).toBe(200);

    await test.cluster.postgres.stop();
    const whileDown = await post(urls[0], batch[3].frame);
    expect([whileDown.status, whileDown.json.error.code]).toEqual([503, 'unavailable']);
    await test.cluster.postgres.run();

    // Refused while down means not recorded: the same frame is accepted now (a pooled connection
    // the restart broke may answer 503 once more: retried, as a tab retries a transient code).
    for (let i = 3; i < 6; i++) {
      const answer = await postUntilAnswered(urls[i % 2], batch[i].frame);
      expect([answer.status, answer.json.error?.code]).toEqual([200, undefined]);
    }
    const expected = nextModel(theta, batch);
    const states = await waitForVersion(test, [0, 1], 1);
    expect(states.map((s) => s.modelHash)).toEqual([expected.hash, expected.hash]);
    expect(closeLines(test, 0)).toHaveLength(1);
    const record = await waitFor('the round record', async () => (await test.db.query('SELECT record FROM round_records WHERE round = 0')).rows[0]?.record ?? null);
    expect(record.submissions.map((s: { address: string }) => s.address).sort()).toEqual(batch.map((c) => c.address).sort());
  }, 400_000);

  it('acknowledges nothing and publishes nothing while the bucket fails', async () => {
    // Replica 0 puts every frame in the bucket (--inline-frame-bytes 0); replica 1 keeps small frames in the
    // database, so a submission through it can still reach the quorum, and the close then fails on the bucket.
    const test = await startTestCluster('bucket', { replicas: 2, relayArgs: ['--quorum', '3', '--round-ms', '600000'], replicaArgs: [['--inline-frame-bytes', '0'], []] });
    clusters.push(test);
    const urls = [0, 1].map((i) => test.cluster.relayUrl(i));
    const theta = await checkpointOf(urls[0]);
    const before = await getJson(urls[0], 'api/round');
    const batch = await contributions(urls[0], [600, 601, 602]);
    expect((await post(urls[0], batch[0].frame)).status).toBe(200); // its frame went to the bucket
    expect((await post(urls[1], batch[1].frame)).status).toBe(200);

    await test.cluster.stopS3();
    // The frame's PUT fails: no acknowledgement, and nothing recorded.
    const refused = await post(urls[0], batch[2].frame);
    expect([refused.status, refused.json.error.code]).toEqual([503, 'unavailable']);
    expect((await test.db.query('SELECT address FROM submissions ORDER BY address')).rows.map((r) => r.address)).toEqual([batch[0].address, batch[1].address].sort());
    // Refused means not recorded: the same frame is taken (not a duplicate) where it does not need the bucket,
    // which reaches the quorum; the close cannot write θ(1) or its update, and publishes nothing.
    expect((await post(urls[1], batch[2].frame)).status).toBe(200);
    await waitFor('a close to fail on the bucket', async () => ([...test.lines.values()].flat().some((l) => l.includes('closing the round failed')) ? true : null));
    for (const url of urls) {
      expect(await getJson(url, 'api/round')).toMatchObject({ round: 0, version: 0, modelHash: before.modelHash });
      const checkpoint = await getBytes(url, 'api/checkpoint');
      expect(checkpoint.headers.get('x-tessera-model-version')).toBe('0');
      expect(decodeBundle((await getBytes(url, `api/updates?since=0&format=${BUNDLE_FORMAT}`)).bytes, 0)).toEqual([]);
    }
    for (const table of ['round_records', 'updates']) expect((await test.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0);
    expect((await test.db.query('SELECT version FROM checkpoints')).rows).toEqual([{ version: 0 }]);
    expect((await test.db.query('SELECT version FROM relay_state')).rows).toEqual([{ version: 0 }]);
    expect((await test.db.query("SELECT status FROM rounds WHERE round = 0")).rows[0].status).toBe('closing');

    // The bucket is back: the next retry closes the round with the three acknowledged submissions, once.
    await test.cluster.startS3();
    const expected = nextModel(theta, batch);
    const states = await waitForVersion(test, [0, 1], 1);
    expect(states.map((s) => s.modelHash)).toEqual([expected.hash, expected.hash]);
    expect(closeLines(test, 0)).toHaveLength(1);
    const record = (await test.db.query('SELECT record FROM round_records WHERE round = 0')).rows[0].record;
    expect(record.submissions.map((s: { address: string }) => s.address).sort()).toEqual(batch.map((c) => c.address).sort());
  }, 400_000);
});
