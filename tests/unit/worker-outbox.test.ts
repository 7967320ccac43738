// The outbox's exactly-once rules (src/worker/outbox-sender.ts), tier 1:
// signed frames of the nano run go to a real relay on 127.0.0.1 through the
// sender, with the outbox in fake-indexeddb (round-persistence.ts) and a fake
// clock for the backoff:
//   - acknowledged: a 200 removes the entry;
//   - duplicate: a replay of a frame the relay already stored (its answer was
//     lost) counts as delivered, because the relay's ledger lists its payload
//     hash — nothing goes back into the residual;
//   - wrong-round listed in the ledger: the same after the round closed;
//   - wrong-round not listed: refused; the entry waits to be settled with the
//     next checkpoint, which removes it;
//   - a network failure is retried with exponential backoff (1 s, 2 s, 4 s,
//     each jittered down by at most half) and delivered once; a 429 waits at
//     least its Retry-After;
//   - a definitive refusal (a frame for another model) is not retried;
//   - a stop while backing off leaves the entry for the next visit.
import 'fake-indexeddb/auto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { CpuRoundCompressor } from '../../src/swarm/compressor.ts';
import { decodeSubmission, type SubmissionHeader } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { openDatabase, pendingSubmissions, type TesseraDatabase } from '../../src/storage/index.ts';
import { RelayClient, RelayRequestError } from '../../src/swarm/relay-client.ts';
import { TrainingStoppedError } from '../../src/swarm/trainer.ts';
import { OutboxSender, type DeliveryEvent } from '../../src/worker/outbox-sender.ts';
import { IndexedDbPersistence } from '../../src/worker/round-persistence.ts';
import { COMPRESSION, NANO_LAYOUT, removeTempDirs, signedFrame, updatePayload, walletFor, post } from './relay-fixtures.ts';
import { FakeClock, FakeTrainer, startRelay } from './worker-fixtures.ts';

let walletIndex = 10;
let wallet = walletFor(walletIndex);
let relay: RelayServer;
let db: TesseraDatabase;
let clock: FakeClock;
let persistence: IndexedDbPersistence;
let events: DeliveryEvent[];
let controller: AbortController;
/** Network failures (or a canned answer) for the next POSTs, in order. */
let postFaults: ('network' | Response)[];
let dbCounter = 0;

function client(): RelayClient {
  return new RelayClient(relay.url, {
    fetch: async (input, init) => {
      if (init?.method === 'POST' && postFaults.length) {
        const fault = postFaults.shift()!;
        if (fault === 'network') throw new TypeError('fetch failed (the test dropped the connection)');
        return fault;
      }
      return fetch(input, init);
    },
  });
}

function sender(onEvent: (event: DeliveryEvent) => void = () => {}): OutboxSender {
  return new OutboxSender(client(), persistence, clock, (event) => (events.push(event), onEvent(event)), controller.signal);
}

/** A frame for the open round (or the given round/version), signed by this test's wallet (or another). */
async function frame(
  seed: number,
  at: { round?: number; version?: number; modelHash?: `0x${string}` } = {},
  signer = wallet,
): Promise<{ bytes: Uint8Array; header: SubmissionHeader }> {
  const state = relay.relay.roundState();
  const bytes = await signedFrame({ wallet: signer, round: at.round ?? state.round, version: at.version ?? state.version, modelHash: at.modelHash ?? state.modelHash, payload: updatePayload(seed) });
  return { bytes, header: decodeSubmission(bytes).header };
}

const ledgerRounds = () => relay.relay.ledgerFor(wallet.address).entries.map((e) => e.round);
const entries = async () => (await pendingSubmissions(db)).map((e) => e.round);

beforeAll(async () => {
  await cryptoWaitReady();
  relay = await startRelay('outbox');
});

afterAll(async () => {
  await relay.close();
  removeTempDirs();
});

beforeEach(async () => {
  wallet = walletFor(++walletIndex); // each test its own address: one submission per address and round
  db = await openDatabase({ name: `tessera-outbox-rules-${++dbCounter}` });
  clock = new FakeClock();
  events = [];
  postFaults = [];
  controller = new AbortController();
  const info = relay.relay.runInfo();
  const pace = { chunkSteps: () => 1, gate: async () => {}, onStep: () => {} };
  persistence = new IndexedDbPersistence(
    db,
    {
      info,
      trainer: new FakeTrainer(NANO_LAYOUT.size, pace, async () => {}),
      compressor: new CpuRoundCompressor(NANO_LAYOUT.size, NANO_LAYOUT.tensors, COMPRESSION, 0.95),
      clock,
      onSaved: () => {},
      report: (error) => {
        throw error;
      },
    },
    null,
  );
  const { version, modelHash, bytes } = relay.relay.checkpoint();
  persistence.modelChanged({ version, modelHash, params: new Float32Array(bytes.slice().buffer) });
});

afterEach(async () => {
  db.close();
  await relay.relay.closeRound('deadline'); // the next test starts in a fresh round (an empty one is only extended)
});

describe('outbox delivery, exactly once (tier 1: real relay, fake-indexeddb, fake clock)', () => {
  it('acknowledged: the relay stores it once and the entry leaves the outbox', async () => {
    const { bytes } = await frame(1);
    const ack = await sender().submit(bytes);
    expect(ack.round).toBe(relay.relay.roundState().round);
    expect(ledgerRounds()).toEqual([ack.round]);
    expect(await entries()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['sending', 'acknowledged']);
    expect(events[1]).toMatchObject({ alreadyStored: false, replay: false });
  });

  it('duplicate: a replay of a frame whose answer was lost is delivered, confirmed by the ledger', async () => {
    const { bytes, header } = await frame(2);
    const id = (await persistence.enqueue(bytes, header))!;
    expect((await post(relay.url, bytes)).status).toBe(200); // the first attempt got in; its answer never came back
    const result = await sender().replay(id, bytes, header);
    expect(result.delivered).toBe(true);
    const stored = relay.relay.ledgerFor(wallet.address).entries.find((e) => e.round === header.round)!;
    expect(result.delivered && result.ack.receivedAt).toBe(stored.receivedAt);
    expect(events.at(-1)).toMatchObject({ type: 'acknowledged', alreadyStored: true, replay: true });
    expect(ledgerRounds().filter((r) => r === header.round)).toHaveLength(1);
    expect(await entries()).toEqual([]);
  });

  it('wrong-round, listed in the ledger: stored before the round closed, so delivered', async () => {
    const { bytes, header } = await frame(3);
    const id = (await persistence.enqueue(bytes, header))!;
    expect((await post(relay.url, bytes)).status).toBe(200);
    await relay.relay.closeRound('deadline');
    const result = await sender().replay(id, bytes, header);
    expect(result.delivered).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'acknowledged', alreadyStored: true });
    expect(await entries()).toEqual([]);
  });

  it('wrong-round, not in the ledger: refused; the entry is settled with the next checkpoint', async () => {
    const { bytes, header } = await frame(4);
    const other = await frame(40, {}, walletFor(1000 + walletIndex));
    expect((await post(relay.url, other.bytes)).status).toBe(200); // the round closes with someone else's frame only
    await relay.relay.closeRound('deadline');
    const failure = await sender()
      .submit(bytes)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RelayRequestError);
    expect((failure as RelayRequestError).code).toBe('wrong-round');
    expect(events.map((e) => e.type)).toEqual(['sending', 'refused']);
    expect(await entries()).toEqual([header.round]); // still there: its update is back in the residual only in memory
    await persistence.save(true);
    expect(await entries()).toEqual([]);
  });

  it('network failures: retried with exponential backoff, delivered once', async () => {
    postFaults = ['network', 'network', 'network'];
    const { bytes } = await frame(5);
    const ack = await sender().submit(bytes);
    expect(events.map((e) => e.type)).toEqual(['sending', 'retrying', 'sending', 'retrying', 'sending', 'retrying', 'sending', 'acknowledged']);
    expect(clock.sleeps).toHaveLength(3);
    clock.sleeps.forEach((ms, i) => {
      const full = 1000 * 2 ** i; // DEFAULT_BACKOFF: 1 s doubling, jittered down by at most half
      expect(ms).toBeGreaterThanOrEqual(full / 2);
      expect(ms).toBeLessThanOrEqual(full);
    });
    expect(ledgerRounds()).toEqual([ack.round]);
    expect(await entries()).toEqual([]);
  });

  it('429: waits at least the relay\'s Retry-After before trying again', async () => {
    const body = JSON.stringify({ error: { code: 'rate-limited', message: 'slow down' } });
    postFaults = [new Response(body, { status: 429, headers: { 'Retry-After': '7', 'Content-Type': 'application/json' } })];
    const { bytes } = await frame(6);
    await sender().submit(bytes);
    expect(clock.sleeps).toHaveLength(1);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(7000);
    expect(events.find((e) => e.type === 'retrying')).toMatchObject({ code: 'rate-limited' });
  });

  it('a definitive refusal (a frame for another model) is not retried', async () => {
    const { bytes } = await frame(7, { modelHash: `0x${'ab'.repeat(32)}` });
    const failure = await sender()
      .submit(bytes)
      .catch((error: unknown) => error);
    expect((failure as RelayRequestError).code).toBe('model-hash-mismatch');
    expect(clock.sleeps).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['sending', 'refused']);
    expect(ledgerRounds()).toEqual([]);
  });

  it('a stop while backing off leaves the entry for the next visit', async () => {
    postFaults = ['network', 'network', 'network', 'network'];
    const { bytes } = await frame(8);
    const stopping = sender((event) => event.type === 'retrying' && controller.abort()).submit(bytes);
    await expect(stopping).rejects.toBeInstanceOf(TrainingStoppedError);
    expect(events.map((e) => e.type)).toEqual(['sending', 'retrying']);
    expect(await entries()).toEqual([relay.relay.roundState().round]);
    const [entry] = await pendingSubmissions(db);
    expect(entry.attempts).toBeGreaterThanOrEqual(1);
    expect(entry.lastError).toMatch(/^network: /);
  });
});
