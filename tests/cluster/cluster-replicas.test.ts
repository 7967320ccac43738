// Three relay replicas on one PostgreSQL and one bucket (the S3 test server),
// each a real child process:
//   - volunteers spread across the replicas: every replica's model is the
//     same after every round (hash, checkpoint bytes, catch-up bundle), equal
//     to the model recomputed here, and every replica's ledger agrees;
//   - kill -9 of a replica mid-round: the round still closes exactly once and
//     every acknowledged submission (the dead replica's too) is in it;
//   - the replicas racing to close the same round at its deadline: one close;
//   - the closer killed between its blob writes and its commit: another
//     replica takes the close over, once.
import { describe, expect, it } from 'vitest';
import { getBytes, getJson, post } from '../unit/relay-fixtures.ts';
import { BUNDLE_FORMAT } from '../../src/protocol/index.ts';
import { clustersOfThisFile, checkpointOf, closeLines, contributions, nextModel, startTestCluster, waitFor, waitForVersion, type TestCluster } from './cluster-fixtures.ts';

const clusters = clustersOfThisFile();

async function start(label: string, relayArgs: string[], relayEnv?: Record<string, string>): Promise<TestCluster> {
  const test = await startTestCluster(label, { replicas: 3, relayArgs, relayEnv });
  clusters.push(test);
  return test;
}


describe('three replicas', () => {
  it('keep one model, bit for bit, with volunteers spread across them', async () => {
    const test = await start('replicas', ['--quorum', '6', '--round-ms', '600000']);
    const urls = [0, 1, 2].map((i) => test.cluster.relayUrl(i));
    let theta = await checkpointOf(urls[0]);
    for (let round = 0; round < 3; round++) {
      const batch = await contributions(urls[0], [0, 1, 2, 3, 4, 5].map((i) => 100 + i));
      // Volunteer i talks to replica i mod 3.
      const answers = await Promise.all(batch.map((c, i) => post(urls[i % 3], c.frame)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const states = await waitForVersion(test, [0, 1, 2], round + 1);
      const expected = nextModel(theta, batch);
      expect(states.map((s) => [s.round, s.modelHash])).toEqual([0, 1, 2].map(() => [round + 1, expected.hash]));
      const checkpoints = await Promise.all(urls.map((url) => checkpointOf(url)));
      for (const params of checkpoints) expect(Buffer.from(params.buffer).equals(Buffer.from(expected.params.buffer))).toBe(true);
      const bundles = await Promise.all(urls.map(async (url) => Buffer.from((await getBytes(url, `api/updates?since=${round}&format=${BUNDLE_FORMAT}`)).bytes)));
      expect(bundles[1].equals(bundles[0]) && bundles[2].equals(bundles[0])).toBe(true);
      for (const c of batch) {
        const ledgers = await Promise.all(urls.map((url) => getJson(url, `api/ledger/${c.address}`)));
        for (const ledger of ledgers) expect(ledger.entries.find((e: { round: number }) => e.round === round)).toMatchObject({ status: 'accepted', version: round + 1 });
      }
      expect(closeLines(test, round)).toHaveLength(1);
      theta = expected.params;
    }
    const records = await test.db.query('SELECT round FROM round_records ORDER BY round');
    expect(records.rows.map((r) => r.round)).toEqual([0, 1, 2]);
    const ledger = await test.db.query('SELECT round, count(*)::int AS n, min(accepted_version) AS v FROM submissions GROUP BY round ORDER BY round');
    expect(ledger.rows).toEqual([0, 1, 2].map((round) => ({ round, n: 6, v: round + 1 })));
    // The balancer serves the same run.
    expect((await getJson(test.cluster.url, 'api/round')).modelHash).toBe((await getJson(urls[0], 'api/round')).modelHash);
  }, 400_000);

  it('closes a round once, with everything acknowledged, after kill -9 of a replica', async () => {
    const test = await start('kill', ['--quorum', '9', '--round-ms', '600000']);
    const urls = [0, 1, 2].map((i) => test.cluster.relayUrl(i));
    const theta = await checkpointOf(urls[0]);
    const batch = await contributions(urls[0], [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => 200 + i));
    const acknowledged = new Set<string>();
    // Two to each replica, answered.
    for (let i = 0; i < 6; i++) {
      const answer = await post(urls[i % 3], batch[i].frame);
      expect(answer.status).toBe(200);
      acknowledged.add(batch[i].address);
    }
    // Two more at replica 1 at once; kill -9 as soon as the first answers.
    const inFlight = [6, 7].map((i) =>
      post(urls[1], batch[i].frame).then(
        (a) => {
          if (a.status === 200) acknowledged.add(batch[i].address);
          return a.status;
        },
        () => 'no answer' as const,
      ),
    );
    await Promise.race(inFlight);
    await test.cluster.killRelay(1);
    console.log(`kill -9 of replica 1 with 2 submissions in flight: ${(await Promise.all(inFlight)).join(', ')}`);
    // The rest (and retries of whatever the dead replica left unanswered) through the others.
    for (let i = 6; i < 9; i++) {
      if (acknowledged.has(batch[i].address)) continue;
      const answer = await post(urls[i % 2 === 0 ? 0 : 2], batch[i].frame);
      // A frame the dead replica stored but never answered is a duplicate now.
      expect([200, 409]).toContain(answer.status);
      if (answer.status === 200) acknowledged.add(batch[i].address);
      else expect(answer.json.error.code).toBe('duplicate');
    }
    const states = await waitForVersion(test, [0, 2], 1);
    const expected = nextModel(theta, batch);
    expect(states.map((s) => s.modelHash)).toEqual([expected.hash, expected.hash]);
    const record = (await test.db.query("SELECT record FROM round_records WHERE round = 0")).rows[0].record;
    expect(record.submissions.map((s: { address: string }) => s.address).sort()).toEqual(batch.map((c) => c.address).sort());
    for (const address of acknowledged) expect(record.submissions.some((s: { address: string }) => s.address === address)).toBe(true);
    expect(closeLines(test, 0)).toHaveLength(1);
    // The dead replica comes back on the closed round's model.
    await test.cluster.startRelay(1);
    expect(await getJson(urls[1], 'api/round')).toMatchObject({ round: 1, version: 1, modelHash: expected.hash });
  }, 400_000);

  it('closes once when the replicas race to close at the deadline', async () => {
    // Every replica arms a timer for the same stored deadline; each tries to close when it fires.
    const test = await start('race', ['--quorum', '100', '--round-ms', '6000']);
    const urls = [0, 1, 2].map((i) => test.cluster.relayUrl(i));
    const theta = await checkpointOf(urls[0]);
    // One submission per replica, signed for whatever round is open when it is sent: on a loaded
    // machine a deadline can pass between two posts (then the later ones go to the next round).
    const acknowledged = new Map<number, { address: string; payload: Uint8Array }[]>();
    for (const [i, id] of [300, 301, 302].entries()) {
      for (let attempt = 0; ; attempt++) {
        const [c] = await contributions(urls[i], [id]);
        const answer = await post(urls[i], c.frame);
        if (answer.status === 200) {
          const list = acknowledged.get(answer.json.round) ?? [];
          acknowledged.set(answer.json.round, [...list, c]);
          break;
        }
        // 'late' or 'wrong-round' while a round closes or extends: sign again for the next one.
        expect(['late', 'wrong-round']).toContain(answer.json.error.code);
        expect(attempt).toBeLessThan(40);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const first = Math.min(...acknowledged.keys());
    const states = await waitForVersion(test, [0, 1, 2], 1);
    expect(states.map((s) => s.round)).toEqual([first + 1, first + 1, first + 1]);
    expect(new Set(states.map((s) => s.modelHash))).toEqual(new Set([nextModel(theta, acknowledged.get(first)!).hash]));
    // One committed; the others found the close claimed (or done) when their timers fired.
    expect(closeLines(test, first)).toHaveLength(1);
    const lost = [...test.lines.values()].flat().filter((l) => l.includes(`another replica is closing this round round=${first}`));
    console.log(`deadline race: 1 close committed, ${lost.length} claim attempts refused`);
    expect((await test.db.query('SELECT count(*)::int AS n FROM round_records WHERE round = $1', [first])).rows[0].n).toBe(1);
    expect((await test.db.query('SELECT status FROM rounds WHERE round = $1', [first])).rows[0].status).toBe('closed');
  }, 400_000);

  it('takes over the close of a replica killed between its blob writes and its commit', async () => {
    // Replica 0 dies (SIGKILL from inside) right after writing θ(1) to the bucket, holding the claim.
    const test = await start('takeover', ['--quorum', '3', '--round-ms', '600000']);
    await test.cluster.killRelay(0);
    await test.cluster.startRelay(0, { TESSERA_RELAY_FAILPOINT: 'close:after-checkpoint' });
    const urls = [0, 1, 2].map((i) => test.cluster.relayUrl(i));
    const theta = await checkpointOf(urls[1]);
    const batch = await contributions(urls[1], [400, 401, 402]);
    expect((await post(urls[1], batch[0].frame)).status).toBe(200);
    expect((await post(urls[2], batch[1].frame)).status).toBe(200);
    // The third reaches the quorum at replica 0, which claims the close and dies before committing.
    const last = await post(urls[0], batch[2].frame).catch(() => null);
    expect(last?.status ?? 'no answer').toBe(200);
    await waitFor('replica 0 to die at its failpoint', async () => (test.cluster.relays[0]!.process.signalCode === 'SIGKILL' ? true : null));
    const states = await waitForVersion(test, [1, 2], 1);
    expect(states.map((s) => s.modelHash)).toEqual([nextModel(theta, batch).hash, nextModel(theta, batch).hash]);
    expect(closeLines(test, 0)).toHaveLength(1);
    const round = (await test.db.query("SELECT status, claimed_by FROM rounds WHERE round = 0")).rows[0];
    expect(round.status).toBe('closed');
    expect(['relay-1', 'relay-2']).toContain(round.claimed_by);
  }, 400_000);
});
