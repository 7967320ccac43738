// The swarm session's round state machine (src/worker/swarm-run.ts), tier 1:
// no GPU, a real relay on 127.0.0.1, fake-indexeddb (worker-fixtures.ts).
//   - Uninterrupted, a tab joins, downloads θ(0), and goes round after round
//     through sync → train → compress → sign → send → wait → apply, saving a
//     checkpoint after each; the page hears every phase in order.
//   - A reload at each point of round 1 (join, sync, train, compress, sign,
//     send, the answer lost, wait): the reloaded tab resumes from IndexedDB
//     and the run ends exactly as the uninterrupted one — the same ledger
//     (one submission per round), each round signed once, the relay's θ(3)
//     and the tab's saved residual bit for bit the same, nothing left in the
//     outbox, and a round signed before the reload never trained again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { loadLatestCheckpoint, openDatabase, pendingSubmissions, type CheckpointState } from '../../src/storage/index.ts';
import { DownloadCache } from '../../src/worker/fetch-bytes.ts';
import type { WorkerEvent } from '../../src/worker/protocol.ts';
import { removeTempDirs, TEST_RUN } from './relay-fixtures.ts';
import { ALICE, closeRoundsWhenWaiting, startRelay, TestTab, type KillPoint } from './worker-fixtures.ts';

const ROUNDS = 3;
const downloads = new DownloadCache(); // one Worker's cache would not survive a reload; sharing it only saves time
let dbCounter = 0;

interface Outcome {
  tabs: TestTab[];
  ledgerRounds: number[];
  signed: number[];
  relayHash: string;
  saved: CheckpointState | null;
  outboxLeft: number;
}

/** Three rounds for Alice's tab, reloaded once if `reloadAt` says where in round 1. */
async function run(reloadAt: KillPoint | null): Promise<Outcome> {
  const relay = await startRelay(`loop-${reloadAt ?? 'straight'}`);
  const dbName = `tessera-loop-${++dbCounter}`;
  const signed: number[] = [];
  try {
    let current = await TestTab.join({ relay, dbName, signed, downloads, stallAt: reloadAt ?? undefined });
    const tabs = [current];
    const closing = closeRoundsWhenWaiting(relay, () => current, ROUNDS);
    if (reloadAt) {
      await Promise.race([current.stalled, closing.then(() => Promise.reject(new Error(`never reached ${reloadAt}`)))]);
      current.kill();
      current = await TestTab.join({ relay, dbName, signed, downloads });
      tabs.push(current);
    }
    await closing;
    // The tab applied round 2's aggregate and saved θ(3).
    const closedLast = await current.until((e) => e.kind === 'round' && e.phase === 'closed' && e.round === ROUNDS - 1, 'round 2 closed');
    await current.until((e) => e.kind === 'checkpoint' && current.events.indexOf(e) > current.events.indexOf(closedLast), 'the checkpoint after round 2');
    await current.stop();
    const db = await openDatabase({ name: dbName });
    const saved = await loadLatestCheckpoint(db, TEST_RUN.runId!);
    const outboxLeft = (await pendingSubmissions(db)).length;
    db.close();
    return {
      tabs,
      ledgerRounds: relay.relay.ledgerFor(ALICE.address).entries.map((e) => e.round).sort((a, b) => a - b),
      signed: [...signed].sort((a, b) => a - b),
      relayHash: relay.relay.roundState().modelHash,
      saved,
      outboxLeft,
    };
  } finally {
    await relay.close();
  }
}

const bits = (a: Float32Array | null | undefined) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') : null);
const kinds = (events: WorkerEvent[]) => events.map((e) => (e.kind === 'round' ? `round:${e.round}:${e.phase}` : e.kind === 'progress' ? `progress:${e.phase}` : e.kind));

let straight: Outcome;

beforeAll(async () => {
  await cryptoWaitReady();
  straight = await run(null);
}, 120_000);

afterAll(() => removeTempDirs());

describe('swarm round loop (tier 1: fake device, fake clock, fake-indexeddb, real relay)', () => {
  it('goes join → sync → train → compress → sign → send → wait → apply, round after round, saving after each', () => {
    const [tab] = straight.tabs;
    expect(straight.ledgerRounds).toEqual([0, 1, 2]);
    expect(straight.signed).toEqual([0, 1, 2]);
    expect(straight.outboxLeft).toBe(0);
    expect(straight.saved).toMatchObject({ version: 3, modelHash: straight.relayHash, counters: { globalStep: 6, rounds: 3, lastRound: 2 } });
    expect(tab.requests).toContain('GET /api/checkpoint'); // a fresh tab downloads θ(0)

    const sequence = kinds(tab.events);
    const ready = sequence.indexOf('ready');
    expect(sequence.slice(0, ready)).toEqual(expect.arrayContaining(['status', 'progress:acquiring-device', 'progress:downloading-data', 'progress:restoring-checkpoint']));
    // One round, in order: trained → signing → sending → acknowledged → waiting → closed, then a checkpoint.
    for (let round = 0; round < ROUNDS; round++) {
      const at = (label: string) => sequence.indexOf(label, ready);
      const phases = [`round:${round}:trained`, `round:${round}:sending`, `round:${round}:acknowledged`, `round:${round}:closed`].map(at);
      expect(phases.every((i) => i > ready), `round ${round}: ${phases}`).toBe(true);
      expect([...phases].sort((a, b) => a - b)).toEqual(phases);
      const signing = sequence.indexOf('sign-request', phases[0]);
      expect(signing).toBeGreaterThan(phases[0]);
      expect(signing).toBeLessThan(phases[1]);
      expect(sequence.indexOf('checkpoint', phases[3])).toBeGreaterThan(phases[3]);
    }
    const steps = tab.events.filter((e) => e.kind === 'step');
    expect(steps.map((e) => e.kind === 'step' && e.step)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  for (const point of ['join', 'sync', 'train', 'compress', 'sign', 'send', 'answer', 'wait'] as const) {
    it(`reloaded at ${point} in round 1, ends exactly as the uninterrupted run`, async () => {
      const outcome = await run(point);
      const [before, after] = outcome.tabs;
      expect(outcome.ledgerRounds).toEqual([0, 1, 2]);
      expect(outcome.signed).toEqual([0, 1, 2]);
      expect(outcome.outboxLeft).toBe(0);
      expect(outcome.relayHash).toBe(straight.relayHash);
      expect(outcome.saved?.modelHash).toBe(straight.saved!.modelHash);
      expect(bits(outcome.saved?.errorFeedback)).toBe(bits(straight.saved!.errorFeedback));
      expect(outcome.saved?.counters).toEqual(straight.saved!.counters);

      const ready = after.events.find((e) => e.kind === 'ready');
      const resumedFrom = ready?.kind === 'ready' ? ready.resumedFromVersion : undefined;
      const trainedAgain = after.events.some((e) => e.kind === 'round' && e.phase === 'trained' && e.round === 1);
      switch (point) {
        case 'join':
          expect(before.events.some((e) => e.kind === 'ready')).toBe(false);
          expect(resumedFrom).toBeNull();
          break;
        case 'sync':
          // Saved at v0 with round 0 signed: catches up by the published aggregate, no download.
          expect(resumedFrom).toBe(0);
          expect(after.requests).toContain('GET /api/updates?since=0&format=2');
          expect(after.requests).not.toContain('GET /api/checkpoint');
          expect(trainedAgain).toBe(true);
          break;
        case 'train':
        case 'compress':
        case 'sign':
          // Nothing of round 1 was saved: the reloaded tab trains it from θ(1).
          expect(resumedFrom).toBe(1);
          expect(trainedAgain).toBe(true);
          break;
        case 'send':
        case 'answer':
        case 'wait': {
          // Round 1 was signed and saved: the reloaded tab delivers it (or finds it delivered) and never trains it again.
          expect(trainedAgain).toBe(false);
          const acknowledged = after.events.find((e) => e.kind === 'round' && e.round === 1 && e.phase === 'acknowledged');
          if (point === 'wait') expect(acknowledged).toBeUndefined();
          else expect(acknowledged?.kind === 'round' && acknowledged.message).toBe(point === 'answer' ? 'the relay already had it (a replay after a lost answer or a reload)' : null);
          break;
        }
      }
    }, 120_000);
  }
});
