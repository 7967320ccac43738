// The PostgreSQL store, the blob stores and the scoring queue against the real
// engines (Debian's PostgreSQL in a private directory, the S3 test server),
// without relays in between:
//   - migrations run once, even when several processes start at once;
//   - of many replicas claiming one round's close at once, exactly one gets it;
//     a claim lost to a takeover commits nothing; a claimed round takes no
//     more submissions; a resubmission is 'duplicate';
//   - other replicas hear of a claim and of a commit (LISTEN/NOTIFY);
//   - scoring jobs go to one worker each (FOR UPDATE SKIP LOCKED), a job whose
//     worker died is taken over, and a job nobody finishes is abandoned;
//   - blobs are content-addressed and checked when read (directory and S3),
//     and a bucket gives tabs public or presigned URLs for them.
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startChild, type Child } from '../../src/cluster/child-process.ts';
import { PrivatePostgres } from '../../src/cluster/postgres-server.ts';
import { S3_TEST_BUCKET, S3_TEST_CREDENTIALS } from '../../src/cluster/local-cluster.ts';
import { hashToHex, modelHash, type HexHash } from '../../src/protocol/index.ts';
import { blobKey, checkpointKey, DirectoryBlobStore } from '../../src/relay/blob-store.ts';
import { migrate, MIGRATIONS } from '../../src/relay/postgres-schema.ts';
import { PostgresRelayStore } from '../../src/relay/postgres-store.ts';
import { S3BlobStore } from '../../src/relay/s3-blob-store.ts';
import { ScoringJobs } from '../../src/relay/scoring-queue.ts';
import { CorruptStoreError, LostClaimError, type RoundScoresRecord, type StoreChange } from '../../src/relay/store.ts';
import { initialGauntletState } from '../../src/gauntlet/round.ts';
import { buildRunConfig } from '../../src/relay/config.ts';
import { freePort } from '../../src/cluster/child-process.ts';
import { removeTempDirs, residual, tempDir } from '../unit/relay-fixtures.ts';

let postgres: PrivatePostgres;
let s3: Child;
let s3Endpoint: string;
let root: string;

beforeAll(async () => {
  await cryptoWaitReady();
  root = tempDir('pg-store');
  chmodSync(root, 0o711);
  postgres = await PrivatePostgres.start(join(root, 'postgres'));
  const port = await freePort();
  s3 = await startChild('s3', process.execPath, ['--import', 'tsx', 'src/cluster/s3-test-server.ts', '--dir', join(root, 'bucket'), '--port', String(port), '--bucket', S3_TEST_BUCKET], {
    ready: /s3 test server listening/,
  });
  s3Endpoint = `http://127.0.0.1:${port}`;
  Object.assign(process.env, S3_TEST_CREDENTIALS);
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  await postgres?.stop();
  removeTempDirs();
});

const data = { name: 'brown', trainUrl: '/data/x', trainBytes: 1, trainSha256: 'a', valBytes: 1, valSha256: 'b' };

async function openStore(runId: string, replica: string, blobsDir = join(root, 'blobs')): Promise<PostgresRelayStore> {
  return PostgresRelayStore.open({ connectionString: postgres.connectionString, runId, blobs: new DirectoryBlobStore(join(blobsDir, runId)), replica });
}

/** A run with round 0 open, as Relay.open leaves it. */
async function createRun(store: PostgresRelayStore, runId: string): Promise<HexHash> {
  const params = residual(1);
  const hash = hashToHex(modelHash(params));
  await store.putCheckpoint(0, params, hash);
  await store.putRun({ format: 1, config: buildRunConfig({ runId, data }), genesisHash: hash, createdAt: 1 });
  await store.putState({ format: 1, round: 0, version: 0, modelHash: hash, openedAt: 1, deadline: 2 });
  return hash;
}

function waitForChange(changes: StoreChange[], kind: StoreChange['kind']): Promise<StoreChange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const look = () => {
      const found = changes.find((c) => c.kind === kind);
      if (found) return resolve(found);
      if (Date.now() - started > 30_000) return reject(new Error(`no ${kind} notification`));
      setTimeout(look, 20);
    };
    look();
  });
}

describe('PostgresRelayStore', () => {
  it('applies each migration once, whoever starts first', async () => {
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: postgres.connectionString }));
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool)));
      // Earlier tests may have applied them already; together, every step exactly once.
      expect(applied.flat().length).toBeLessThanOrEqual(MIGRATIONS.length);
      expect((await migrate(pools[0])).length).toBe(0);
      const { rows } = await pools[0].query('SELECT version FROM tessera_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('gives one close to one replica, refuses what comes after the claim, and commits nothing for a lost claim', async () => {
    const stores = await Promise.all([0, 1, 2, 3].map((i) => openStore('claims', `replica-${i}`)));
    try {
      const hash = await createRun(stores[0], 'claims');
      const changes: StoreChange[] = [];
      stores[3].watch((change) => changes.push(change));
      const frame = new Uint8Array(1000).fill(7);
      expect(await stores[1].putSubmission(0, { address: 'A', frame, receivedAt: 10, verifiedBy: 2 })).toEqual({ outcome: 'stored', count: 1 });
      expect(await stores[2].putSubmission(0, { address: 'A', frame, receivedAt: 11, verifiedBy: 2 })).toEqual({ outcome: 'duplicate' });

      // Twelve claims at once, three per replica: one wins.
      const claims = await Promise.all(stores.slice(0, 3).flatMap((store) => [0, 1, 2, 3].map(() => store.claimClose(0))));
      const won = claims.filter((c) => c !== null);
      expect(won).toHaveLength(1);
      await waitForChange(changes, 'closing');
      expect(await stores[2].putSubmission(0, { address: 'B', frame, receivedAt: 12, verifiedBy: 2 })).toEqual({ outcome: 'closed' });
      expect((await stores[1].listSubmissions(0)).map((s) => [s.address, s.verifiedBy])).toEqual([['A', 2]]);

      // The claimant's session goes (as a crash drops it): another replica takes the close over,
      // and the old claim can no longer commit.
      const claim = won[0]!;
      await claim.release();
      const takeover = await stores[3].claimClose(0);
      expect(takeover).not.toBeNull();
      const next = { format: 1, round: 1, version: 1, modelHash: hash, openedAt: 5, deadline: 6 };
      const owner = stores[Math.floor(claims.indexOf(claim) / 4)]; // claims were made four per store, in order
      await expect(owner.putState(next, claim)).rejects.toBeInstanceOf(LostClaimError);
      expect((await stores[0].getState())?.round).toBe(0);
      await stores[3].putState(next, takeover!);
      await takeover!.release();
      const committed = await waitForChange(changes, 'state');
      expect(committed).toMatchObject({ kind: 'state', state: { round: 1, version: 1 } });
      expect((await stores[0].getState())?.round).toBe(1);
      expect(await stores[0].claimClose(0)).toBeNull(); // closed rounds are not claimed
      const ledger = await stores[0]['pool'].query('SELECT address, accepted_version FROM submissions WHERE run_id = $1', ['claims']);
      expect(ledger.rows).toEqual([{ address: 'A', accepted_version: 1 }]);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it("writes a round's scores with its commit only, shares one relay key, and keeps θ(0) when pruning", async () => {
    const stores = await Promise.all([0, 1].map((i) => openStore('scores', `replica-${i}`)));
    try {
      // Replicas starting together: each offers its own key, one stands for all.
      const keys = await Promise.all([stores[0].sharedRelayKey('first words'), stores[1].sharedRelayKey('second words')]);
      expect(new Set(keys).size).toBe(1);
      expect(['first words', 'second words']).toContain(keys[0]);
      expect(await stores[1].sharedRelayKey('later words')).toBe(keys[0]);

      const hash = await createRun(stores[0], 'scores');
      const scores: RoundScoresRecord = { round: 0, receipt: { bytes: '0x01', signature: '0x02' }, weights: { round: 0, version: 1, burn: 0, weights: [] }, state: { ...initialGauntletState(), round: 1 } };
      // A close whose claim is lost: its scores never become visible.
      const lost = (await stores[0].claimClose(0))!;
      await stores[0].putRoundScores(scores);
      await lost.release();
      const takeover = (await stores[1].claimClose(0))!;
      await expect(stores[0].putState({ format: 1, round: 1, version: 1, modelHash: hash, openedAt: 5, deadline: 6 }, lost)).rejects.toBeInstanceOf(LostClaimError);
      expect(await stores[1].getRoundScores(0)).toBeNull();
      // The takeover's scores are written in its commit, and read back as written.
      await stores[1].putRoundScores({ ...scores, receipt: { bytes: '0x03', signature: '0x04' } });
      expect(await stores[0].getRoundScores(0)).toBeNull();
      await stores[1].putCheckpoint(1, residual(2), hashToHex(modelHash(residual(2))));
      await stores[1].putState({ format: 1, round: 1, version: 1, modelHash: hashToHex(modelHash(residual(2))), openedAt: 5, deadline: 6 }, takeover);
      await takeover.release();
      expect(await stores[0].getRoundScores(0)).toEqual({ ...scores, receipt: { bytes: '0x03', signature: '0x04' } });

      await stores[0].prune({ format: 1, round: 5, version: 5, modelHash: hash, openedAt: 5, deadline: 6 }, 1);
      expect(await stores[0].listCheckpoints()).toEqual([0]);
      expect(await stores[0].getCheckpoint(0, hash)).toEqual(residual(1));
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it('keeps a frame in its row or in the blob store, and reads back exactly the bytes it took', async () => {
    const store = await PostgresRelayStore.open({
      connectionString: postgres.connectionString,
      runId: 'frames',
      blobs: new DirectoryBlobStore(join(root, 'blobs', 'frames')),
      replica: 'r',
      inlineFrameBytes: 2_000,
    });
    try {
      await createRun(store, 'frames');
      const small = Uint8Array.from({ length: 1_500 }, (_, i) => i & 0xff);
      const large = Uint8Array.from({ length: 5_000 }, (_, i) => (i * 3) & 0xff);
      await store.putSubmission(0, { address: 'S', frame: small, receivedAt: 1, verifiedBy: 2 });
      await store.putSubmission(0, { address: 'L', frame: large, receivedAt: 2, verifiedBy: null });
      const rows = (await store['pool'].query("SELECT address, frame IS NULL AS in_blob, frame_key FROM submissions WHERE run_id = 'frames' ORDER BY address")).rows;
      expect(rows).toEqual([
        { address: 'L', in_blob: true, frame_key: blobKey('frames', large) },
        { address: 'S', in_blob: false, frame_key: null },
      ]);
      expect(await store.listSubmissions(0)).toEqual([
        { address: 'L', frame: large, receivedAt: 2, verifiedBy: null },
        { address: 'S', frame: small, receivedAt: 1, verifiedBy: 2 },
      ]);
      // A damaged blob is refused, never served.
      const path = join(root, 'blobs', 'frames', 'frames', blobKey('frames', large).slice('frames/'.length));
      const bytes = readFileSync(path);
      bytes[10] ^= 1;
      writeFileSync(path, bytes);
      await expect(store.listSubmissions(0)).rejects.toBeInstanceOf(CorruptStoreError);
    } finally {
      await store.close();
    }
  });
});

describe('scoring queue', () => {
  it('gives each job to one worker, takes over a dead worker\'s job, and abandons what nobody finishes', async () => {
    const store = await openStore('jobs', 'relay');
    const pool = new pg.Pool({ connectionString: postgres.connectionString, max: 6 });
    try {
      await createRun(store, 'jobs');
      const blobsFor = () => store.blobs;
      const workers = [0, 1, 2].map((i) => new ScoringJobs(pool, blobsFor, `worker-${i}`));
      const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => store.jobs.enqueue('validation-loss', 0, { n: i, values: Float32Array.of(i, i + 0.5) })));
      // Three workers take and finish jobs until none is left.
      const takenBy = new Map<string, string[]>();
      await Promise.all(
        workers.map(async (worker, w) => {
          for (;;) {
            const job = await worker.take(60_000);
            if (!job) return;
            takenBy.set(job.id, [...(takenBy.get(job.id) ?? []), `worker-${w}`]);
            const { n, values } = job.input as { n: number; values: Float32Array };
            expect(await worker.complete(job.id, { n, sum: values[0] + values[1] })).toBe(true);
          }
        }),
      );
      expect([...takenBy.keys()].sort()).toEqual([...ids].sort());
      expect([...takenBy.values()].every((holders) => holders.length === 1)).toBe(true);
      const outcomes = await store.jobs.outcomes(ids, Date.now() + 10_000);
      expect(ids.map((id, i) => outcomes.get(id))).toEqual(ids.map((_, i) => ({ result: { n: i, sum: 2 * i + 0.5 } })));

      // A worker that dies holding a job: once its lease runs out, another takes it; the first can no longer answer.
      const [orphan] = await Promise.all([store.jobs.enqueue('validation-loss', 0, { n: 99 })]);
      const first = await workers[0].take(200);
      expect(first?.id).toBe(orphan);
      expect(await workers[1].take(60_000)).toBeNull(); // leased
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await workers[1].take(60_000);
      expect(second?.id).toBe(orphan);
      expect(await workers[0].complete(orphan, { late: true })).toBe(false);
      expect(await workers[1].complete(orphan, { n: 99 })).toBe(true);

      // Nobody takes this one: at the deadline it is abandoned, the relay's failure.
      const lonely = await store.jobs.enqueue('validation-loss', 0, { n: 100 });
      const late = await store.jobs.outcomes([lonely], Date.now() + 300);
      expect(late.get(lonely)).toEqual({ error: 'no scoring worker finished it within the deadline' });
      expect(await workers[2].take(60_000)).toBeNull();
    } finally {
      await pool.end();
      await store.close();
    }
  });
});

describe('blob stores', () => {
  it('check content against the key, in a directory and in a bucket, and give tabs bucket URLs', async () => {
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff);
    const key = checkpointKey(3, hashToHex(modelHash(new Float32Array(bytes.buffer))));
    const directory = new DirectoryBlobStore(join(root, 'blob-check'));
    await directory.put(key, bytes);
    expect(await directory.get(key)).toEqual(bytes);
    expect(await directory.get(checkpointKey(4, `0x${'11'.repeat(32)}`))).toBeNull();
    await expect(directory.put('../escape', bytes)).rejects.toThrow(RangeError);
    const [file] = readdirSync(join(root, 'blob-check', 'checkpoints'));
    const damaged = readFileSync(join(root, 'blob-check', 'checkpoints', file));
    damaged[0] ^= 1;
    writeFileSync(join(root, 'blob-check', 'checkpoints', file), damaged);
    await expect(directory.get(key)).rejects.toBeInstanceOf(CorruptStoreError);

    const settings = { bucket: S3_TEST_BUCKET, prefix: 'test/', endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true };
    const presigned = new S3BlobStore({ ...settings, redirect: { kind: 'presigned', expiresSeconds: 60 } });
    const open = new S3BlobStore({ ...settings, redirect: { kind: 'public', baseUrl: `${s3Endpoint}/${S3_TEST_BUCKET}/` } });
    try {
      await presigned.put(key, bytes, { 'tessera-model-version': '3' });
      expect(await presigned.get(key)).toEqual(bytes);
      expect(await presigned.get(checkpointKey(5, `0x${'22'.repeat(32)}`))).toBeNull();
      for (const store of [presigned, open]) {
        const url = await store.downloadUrl(key);
        const answer = await fetch(url!);
        expect(answer.status).toBe(200);
        expect(new Uint8Array(await answer.arrayBuffer())).toEqual(bytes);
        expect(answer.headers.get('x-amz-meta-tessera-model-version')).toBe('3');
      }
      expect(await new DirectoryBlobStore(root).downloadUrl()).toBeNull();
    } finally {
      await presigned.close();
      await open.close();
    }
  });
});
