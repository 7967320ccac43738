// The restore rules of a reloaded tab (src/worker/round-persistence.ts,
// swarm-run.ts), tier 1: real relay on 127.0.0.1, fake-indexeddb, fake device.
//   - resume: a checkpoint of the relay's current version is used as it is
//     (θ, residual, AdamW moments, counters): no download, no catch-up;
//   - catch up: a checkpoint behind the relay applies the published
//     aggregates, each hash-checked, instead of downloading θ;
//   - download: when those aggregates are no longer kept (410), θ is
//     downloaded;
//   - a foreign checkpoint (ahead of the relay: its data directory was reset
//     under the same run id) is dropped with the run's outbox; a damaged one
//     (θ does not hash to its modelHash) is dropped too; both download θ;
//   - a saved frame the relay refuses for good goes back into the residual,
//     and leaves the outbox in the same save (never both, never neither).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { decodeUpdate } from '../../src/compress/codec.ts';
import { decompress } from '../../src/compress/sparseloco.ts';
import { decodeSubmission, hashToHex, modelHash as hashOfModel } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import {
  listCheckpoints,
  loadLatestCheckpoint,
  openDatabase,
  pendingSubmissions,
  readFrame,
  saveCheckpointWithSubmission,
  type CheckpointState,
} from '../../src/storage/index.ts';
import { DownloadCache } from '../../src/worker/fetch-bytes.ts';
import type { WorkerEvent } from '../../src/worker/protocol.ts';
import { COMPRESSION, NANO_LAYOUT, post, removeTempDirs, signedFrame, tempDir, TEST_RUN, updatePayload, walletFor } from './relay-fixtures.ts';
import { ALICE, closeRoundsWhenWaiting, startRelay, TestTab } from './worker-fixtures.ts';

const RUN_ID = TEST_RUN.runId!;
const downloads = new DownloadCache();
const relays: RelayServer[] = [];
let dbCounter = 0;
const signed: number[] = [];

beforeAll(() => cryptoWaitReady());

afterAll(async () => {
  for (const relay of relays) await relay.close();
  removeTempDirs();
});

async function relayFor(label: string, dataDir?: string): Promise<RelayServer> {
  const relay = await startRelay(label, dataDir);
  relays.push(relay);
  return relay;
}

/** Rounds the tab sits out: another volunteer submits, the round closes. */
async function advanceWithout(relay: RelayServer, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const { round, version, modelHash } = relay.relay.roundState();
    const bytes = await signedFrame({ wallet: walletFor(500), round, version, modelHash, payload: updatePayload(900 + round) });
    expect((await post(relay.url, bytes)).status).toBe(200);
    await relay.relay.closeRound('deadline');
  }
}

/** Alice's tab takes part in round 0, applies it, saves θ(1), and stops. */
async function firstVisit(relay: RelayServer, dbName: string): Promise<void> {
  const tab = await TestTab.join({ relay, dbName, signed, downloads });
  await closeRoundsWhenWaiting(relay, () => tab, 1);
  const closed = await tab.until((e) => e.kind === 'round' && e.phase === 'closed' && e.round === 0, 'round 0 closed');
  await tab.until((e) => e.kind === 'checkpoint' && tab.events.indexOf(e) > tab.events.indexOf(closed), 'the checkpoint of θ(1)');
  await tab.stop();
}

const ready = (tab: TestTab) => tab.until((e) => e.kind === 'ready', 'ready') as Promise<Extract<WorkerEvent, { kind: 'ready' }>>;
const trained = (tab: TestTab, round: number) => tab.until((e) => e.kind === 'round' && e.phase === 'trained' && e.round === round, `round ${round} trained`);
const models = (tab: TestTab) => tab.events.filter((e): e is Extract<WorkerEvent, { kind: 'model' }> => e.kind === 'model');

describe('restore rules (tier 1: fake device, fake-indexeddb, real relay)', () => {
  it('resumes from a checkpoint of the current version as it is: no download, no catch-up', async () => {
    const relay = await relayFor('restore-resume');
    const dbName = `tessera-restore-${++dbCounter}`;
    await firstVisit(relay, dbName);
    const tab = await TestTab.join({ relay, dbName, signed, downloads });
    expect((await ready(tab)).resumedFromVersion).toBe(1);
    await trained(tab, 1);
    expect(models(tab)[0]).toMatchObject({ version: 1, modelHash: relay.relay.roundState().modelHash, via: 'saved' });
    expect(tab.requests.filter((r) => r.startsWith('GET /api/checkpoint') || r.startsWith('GET /api/updates'))).toEqual([]);
    // AdamW's moments as round 0's two steps left them (the fake trainer fills m with firstStep + steps).
    expect(tab.trainers[0].restored?.m.every((x) => x === 2)).toBe(true);
    await tab.stop();
  });

  it('catches up by the published aggregates, hash-checked, when the relay moved on', async () => {
    const relay = await relayFor('restore-catch-up');
    const dbName = `tessera-restore-${++dbCounter}`;
    await firstVisit(relay, dbName);
    await advanceWithout(relay, 2);
    const tab = await TestTab.join({ relay, dbName, signed, downloads });
    expect((await ready(tab)).resumedFromVersion).toBe(1);
    await trained(tab, 3);
    expect(tab.requests).toContain('GET /api/updates?since=1&format=2');
    expect(tab.requests).not.toContain('GET /api/checkpoint');
    const applied = models(tab).filter((m) => m.via === 'updates');
    expect(applied.map((m) => m.version)).toEqual(expect.arrayContaining([2, 3]));
    expect(applied.at(-1)?.modelHash).toBe(relay.relay.roundState().modelHash);
    await tab.stop();
  });

  it('downloads θ when the aggregates it needs are no longer kept', async () => {
    const dataDir = tempDir('restore-gone');
    const relay = await relayFor('restore-gone', dataDir);
    const dbName = `tessera-restore-${++dbCounter}`;
    await firstVisit(relay, dbName);
    await advanceWithout(relay, 2);
    rmSync(join(dataDir, 'aggregates', 'v0000000002.agg'));
    const tab = await TestTab.join({ relay, dbName, signed, downloads });
    await trained(tab, 3);
    const asked = tab.requests.filter((r) => r.startsWith('GET /api/updates') || r.startsWith('GET /api/checkpoint'));
    expect(asked.slice(0, 2)).toEqual(['GET /api/updates?since=1&format=2', 'GET /api/checkpoint']);
    expect(models(tab).at(-1)).toMatchObject({ version: 3, via: 'checkpoint', modelHash: relay.relay.roundState().modelHash });
    await tab.stop();
  });

  for (const kind of ['foreign', 'damaged'] as const) {
    it(`drops a ${kind} checkpoint with the run's outbox and downloads θ`, async () => {
      const relay = await relayFor(`restore-${kind}`);
      const dbName = `tessera-restore-${++dbCounter}`;
      const db = await openDatabase({ name: dbName });
      const { version, modelHash, bytes } = relay.relay.checkpoint();
      const params = new Float32Array(bytes.slice().buffer);
      if (kind === 'damaged') params[5] += 1; // no longer hashes to modelHash
      const state: CheckpointState = {
        runId: RUN_ID,
        version: kind === 'foreign' ? version + 5 : version, // foreign: ahead of the relay
        modelHash,
        params,
        errorFeedback: new Float32Array(NANO_LAYOUT.size),
        adamM: null,
        adamV: null,
        counters: { globalStep: 10, tokens: 640, rounds: 5, lastRound: kind === 'foreign' ? 4 : null },
      };
      await saveCheckpointWithSubmission(db, state, { runId: RUN_ID, round: 4, address: ALICE.address, payloadHash: `0x${'11'.repeat(32)}`, frame: new Uint8Array([1, 2, 3]) });
      db.close();

      const tab = await TestTab.join({ relay, dbName, signed, downloads });
      expect((await ready(tab)).resumedFromVersion).toBeNull();
      await trained(tab, 0);
      expect(tab.requests).toContain('GET /api/checkpoint');
      expect(models(tab)[0]).toMatchObject({ version: 0, via: 'checkpoint' });
      expect(tab.events.some((e) => e.kind === 'round' && e.phase === 'sending' && e.round === 4)).toBe(false);
      const after = await openDatabase({ name: dbName });
      // Gone: the old entry (the tab's own round 0 may be in flight) and the dropped checkpoint.
      expect((await pendingSubmissions(after)).map((e) => e.round)).not.toContain(4);
      expect((await listCheckpoints(after, RUN_ID)).map((c) => c.version)).not.toContain(version + 5);
      const latest = await loadLatestCheckpoint(after, RUN_ID);
      if (latest) expect(hashToHex(hashOfModel(latest.params))).toBe(latest.modelHash);
      after.close();
      await tab.stop();
    });
  }

  it('puts a saved frame the relay refuses for good back into the residual, and settles its entry in the same save', async () => {
    const relay = await relayFor('restore-refused');
    const dbName = `tessera-restore-${++dbCounter}`;
    // Round 1 signed and saved, never sent (the page was reloaded first) …
    const first = await TestTab.join({ relay, dbName, signed, downloads, stallAt: 'send', stallRound: 1 });
    const closing = closeRoundsWhenWaiting(relay, () => first, 1);
    await first.stalled;
    await closing;
    first.kill();
    // … and round 1 closes without it.
    await advanceWithout(relay, 1);
    const db = await openDatabase({ name: dbName });
    const saved = (await loadLatestCheckpoint(db, RUN_ID))!;
    const [entry] = await pendingSubmissions(db);
    const payload = decodeSubmission(await readFrame(entry)).payload;
    db.close();
    expect(saved.counters.lastRound).toBe(1);

    // The reloaded tab replays it: wrong-round, not in the ledger. (It then stalls before signing round 2.)
    const tab = await TestTab.join({ relay, dbName, signed, downloads, stallAt: 'sign', stallRound: 2 });
    const refused = await tab.until((e) => e.kind === 'round' && e.phase === 'refused' && e.round === 1, 'round 1 refused');
    expect(refused.kind === 'round' && refused.code).toBe('wrong-round');
    await tab.stalled;
    const after = await openDatabase({ name: dbName });
    const settled = (await loadLatestCheckpoint(after, RUN_ID))!;
    expect(await pendingSubmissions(after)).toEqual([]);
    after.close();
    // The residual is the saved one plus the update that was never delivered, float32 per element.
    const expected = saved.errorFeedback!.slice();
    decompress(decodeUpdate(payload, NANO_LAYOUT.tensors, COMPRESSION), NANO_LAYOUT.tensors).forEach((c, t) => {
      const base = NANO_LAYOUT.tensors[t].offset;
      if (c.kind === 'dense') c.values.forEach((v, i) => (expected[base + i] = Math.fround(expected[base + i] + v)));
      else c.indices.forEach((index, j) => (expected[base + index] = Math.fround(expected[base + index] + c.values[j])));
    });
    expect(Buffer.from(settled.errorFeedback!.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(relay.relay.ledgerFor(ALICE.address).entries.map((e) => e.round)).toEqual([0]);
    tab.kill();
  });
});
