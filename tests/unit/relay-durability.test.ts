// Durability: the relay runs as its own process and is killed with SIGKILL —
// from outside while submissions are in flight, and from inside at named
// points of a submission and of a round close, scoring included
// (TESSERA_RELAY_FAILPOINT, which is exactly `kill -9` at that instant). After
// a restart:
//   - every acknowledged submission is still there (ledger, round, duplicate on replay);
//   - the round closes to the model a never-crashed relay would have made
//     (recomputed here from the same payloads: with Gauntlet off, the
//     aggregate of all of them; with Gauntlet on, the same Gauntlet code run
//     in this process decides which, and its receipt entries must match the
//     relay's signed receipt field for field);
//   - the scores, ratings, weights and receipt of the round exist exactly when
//     the round is committed (the old round, or the complete new one);
//   - every checkpoint on disk verifies, and no temporary file survives.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { decodeUpdate } from '../../src/compress/codec.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import { InlineEvaluator } from '../../src/gauntlet/evaluator.ts';
import { initialGauntletState, scoreRound } from '../../src/gauntlet/round.ts';
import { GPT_PRESETS } from '../../src/model/config.ts';
import {
  hashToHex,
  modelHash,
  parseGauntletRunInfo,
  parseSwarmRunInfo,
  parseSignedReceiptBody,
  payloadHash,
  stateHash,
  verifyReceipt,
  type HexHash,
  type ReceiptEntry,
} from '../../src/protocol/index.ts';
import { FileRelayStore } from '../../src/relay/file-store.ts';
import { decodeBundle } from '../../src/protocol/bundle.ts';
import { fromHex, readReceiptIndependently, relaySigned } from '../support/independent-receipt-check.ts';
import {
  COMPRESSION,
  NANO_LAYOUT,
  getBytes,
  relayNextParams,
  getJson,
  kill9,
  post,
  removeTempDirs,
  signedFrame,
  spawnTrackedRelay,
  killSpawnedRelays,
  tempDir,
  trainedPayload,
  updatePayload,
  walletFor,
  type RelayProcess,
} from './relay-fixtures.ts';

const start = spawnTrackedRelay;

afterEach(killSpawnedRelays); // never leave a relay behind, whatever failed

beforeAll(async () => {
  await cryptoWaitReady();
});

afterAll(() => removeTempDirs());

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function floatsOf(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** θ(1) as a relay that never crashed makes it from these submissions (the test run's rule and published form), with Gauntlet off: all of them. */
function expectedNextHash(theta0: Float32Array, submissions: { address: string; payload: Uint8Array }[]): HexHash {
  return hashToHex(modelHash(relayNextParams(theta0, submissions)));
}

/**
 * Round 0 of the test run as a never-crashed relay with Gauntlet closes it:
 * the same Gauntlet code, run here with an in-thread evaluator, decides which
 * submissions go into θ(1). receivedAt comes from the relay's receipt (it only
 * orders copy suspects).
 */
async function expectedGauntletClose(relayUrl: string, theta0: Float32Array, submissions: { address: string; payload: Uint8Array }[], receivedAt: Map<string, number>) {
  const run = await getJson(relayUrl, 'api/run');
  const { gauntlet } = parseGauntletRunInfo(run);
  const { outerLearningRate } = parseSwarmRunInfo(run).swarm;
  const manifest = NANO_LAYOUT.tensors;
  const decoded = submissions.map((s) => ({
    address: s.address,
    payloadHash: hashToHex(payloadHash(s.payload)),
    receivedAt: receivedAt.get(s.address)!,
    update: decodeUpdate(s.payload, manifest, COMPRESSION),
    steps: run.innerSteps, // what the test frames' headers claim (headerFor's default)
  }));
  const evaluator = new InlineEvaluator();
  const { decision } = await scoreRound(
    initialGauntletState(),
    {
      config: gauntlet,
      runSeed: run.swarm.runSeed,
      round: 0,
      version: 0,
      modelHash: hashToHex(modelHash(theta0)),
      params: theta0,
      model: GPT_PRESETS.nano,
      manifest,
      compression: COMPRESSION,
      outerLearningRate,
      innerSteps: run.innerSteps,
      batchSize: run.swarm.train.batchSize,
      seqLen: run.swarm.train.seqLen,
      data: ensureDataset().train,
      submissions: decoded,
    },
    evaluator,
    600_000,
  );
  // The run's rule and published form over what Gauntlet selected.
  const next = relayNextParams(theta0, submissions.filter((s) => decision.aggregated.includes(s.address)));
  return { hash: hashToHex(modelHash(next)), decision };
}

const trainedPayloads = new Map<string, Uint8Array>();
/** trainedPayload for round 0 from θ(0), once per address (every failpoint test uses the same three). */
function trained(address: string, theta0: Float32Array): Uint8Array {
  let payload = trainedPayloads.get(address);
  if (!payload) trainedPayloads.set(address, (payload = trainedPayload(address, 0, 0, theta0)));
  return payload;
}

function temporaries(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...temporaries(path));
    else if (name.includes('.tmp-')) found.push(path);
  }
  return found;
}

/** Opens the store directly (relay stopped) and verifies every checkpoint and the state's. */
async function verifyStore(dir: string, expectedVersion: number, expectedHash: HexHash): Promise<number> {
  const store = await FileRelayStore.open(dir);
  const state = await store.getState();
  expect(state).toMatchObject({ version: expectedVersion, modelHash: expectedHash });
  const versions = await store.listCheckpoints();
  expect(versions).toContain(expectedVersion);
  for (const version of versions) expect(await store.getCheckpoint(version)).toBeInstanceOf(Float32Array);
  expect(await store.getCheckpoint(expectedVersion, expectedHash)).toBeInstanceOf(Float32Array);
  for (let version = 1; version <= expectedVersion; version++) expect((await store.getAggregate(version))?.modelHash).toBeDefined();
  expect(temporaries(dir)).toEqual([]);
  return versions.length;
}

describe('relay durability (kill -9)', () => {
  it('keeps every acknowledged submission across a kill during concurrent submissions', async () => {
    const dir = tempDir('durable-submit');
    // Gauntlet off: this test is about acknowledged submissions, and the aggregate of all twelve checks them.
    let relay = await start(dir, ['--quorum', '1000', '--round-ms', '600000', '--gauntlet', 'off']);
    const round = await getJson(relay.url, 'api/round');
    const theta0 = floatsOf((await getBytes(relay.url, 'api/checkpoint')).bytes);
    const submissions = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const wallet = walletFor(30 + i);
        const payload = updatePayload(30 + i);
        return { address: wallet.address, payload, frame: await signedFrame({ wallet, round: 0, version: 0, modelHash: round.modelHash, payload }) };
      }),
    );

    const acknowledged = new Map<string, string>(); // address → payloadHash from the ack
    for (const s of submissions.slice(0, 4)) {
      const { status, json } = await post(relay.url, s.frame);
      expect(status).toBe(200);
      acknowledged.set(s.address, json.payloadHash);
    }
    // Eight more at once; kill -9 as soon as the first answer arrives.
    const inFlight = submissions.slice(4).map((s) =>
      post(relay.url, s.frame).then(
        ({ status, json }) => {
          if (status === 200) acknowledged.set(s.address, json.payloadHash);
          return status;
        },
        () => 'no answer' as const,
      ),
    );
    await Promise.race(inFlight);
    await kill9(relay);
    const outcomes = await Promise.all(inFlight);
    console.log(`kill -9 with 8 submissions in flight: ${outcomes.filter((o) => o === 200).length} acknowledged before the kill, ${acknowledged.size} in all`);

    relay = await start(dir, ['--quorum', '1000', '--round-ms', '600000']);
    const resumed = await getJson(relay.url, 'api/round');
    expect(resumed).toMatchObject({ round: 0, version: 0, modelHash: round.modelHash });
    expect(resumed.submissions).toBeGreaterThanOrEqual(acknowledged.size);
    for (const [address, payloadHash] of acknowledged) {
      const ledger = await getJson(relay.url, `api/ledger/${address}`);
      expect(ledger.entries).toMatchObject([{ round: 0, status: 'pending', payloadHash }]);
      const replay = await post(relay.url, submissions.find((s) => s.address === address)!.frame);
      expect([replay.status, replay.json.error.code]).toEqual([409, 'duplicate']);
    }
    // The rest: stored but unanswered ones are duplicates now, lost ones are accepted.
    for (const s of submissions) if (!acknowledged.has(s.address)) expect([200, 409]).toContain((await post(relay.url, s.frame)).status);
    expect((await getJson(relay.url, 'api/round')).submissions).toBe(12);
    await kill9(relay);

    // A restart with quorum 12 closes the round at once, to the model made from all twelve.
    relay = await start(dir, ['--quorum', '12', '--round-ms', '600000']);
    const expected = expectedNextHash(theta0, submissions);
    const closed = await waitFor('the round to close', async () => {
      const state = await getJson(relay.url, 'api/round');
      return state.version === 1 ? state : null;
    });
    expect(closed.modelHash).toBe(expected);
    await kill9(relay);
    await verifyStore(dir, 1, expected);
  }, 300_000);

  const points = [
    'submission:after-write@3', // the third submission is on disk, its acknowledgement never sent
    'checkpoint:tmp-written@2', // θ(1) half-written into its temporary file (@1 is θ(0) at genesis)
    'close:during-evaluation', // Gauntlet's worker has measured the first submission, the rest are in flight
    'close:after-scoring', // every decision made in memory, nothing written
    'close:after-aggregate',
    'close:after-checkpoint',
    'close:after-scores', // receipt, weights and Gauntlet state on disk, the round not committed
    'close:after-record',
    'close:after-state', // committed, not yet announced
  ];
  for (const point of points) {
    it(`resumes and closes to the same model after kill -9 at ${point}`, async () => {
      const dir = tempDir('durable-close');
      let relay = await start(dir, ['--quorum', '3', '--round-ms', '600000'], { TESSERA_RELAY_FAILPOINT: point });
      const round = await getJson(relay.url, 'api/round');
      const theta0 = floatsOf((await getBytes(relay.url, 'api/checkpoint')).bytes);
      const submissions = [];
      for (let i = 0; i < 3; i++) {
        const wallet = walletFor(50 + i);
        // Trained on the address's assigned data, so Gauntlet has something to aggregate.
        const payload = trained(wallet.address, theta0);
        submissions.push({ address: wallet.address, payload, frame: await signedFrame({ wallet, round: 0, version: 0, modelHash: round.modelHash, payload }) });
      }
      const statuses = [];
      for (const s of submissions) statuses.push(await post(relay.url, s.frame).then((r) => r.status, () => 'no answer'));
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
      await relay.exited; // the failpoint killed it
      expect(relay.child.signalCode).toBe('SIGKILL');

      relay = await start(dir, ['--quorum', '3', '--round-ms', '600000']);
      const state = await waitFor('round 1', async () => {
        const s = await getJson(relay.url, 'api/round');
        return s.version === 1 ? s : null;
      });
      // The signed receipt of the close that committed: the relay's key, an independent reader, and
      // the same decisions as Gauntlet run here on the same submissions.
      const run = await getJson(relay.url, 'api/run');
      const body = parseSignedReceiptBody(await getJson(relay.url, 'api/rounds/0/receipt'));
      const receipt = verifyReceipt(body, run.relayAddress);
      expect(relaySigned(fromHex(body.bytes), body.signature, run.relayAddress)).toBe(true);
      expect(readReceiptIndependently(fromHex(body.bytes)).entries.map((e) => e.address)).toEqual(submissions.map((s) => s.address).sort());
      const { hash: expected, decision } = await expectedGauntletClose(relay.url, theta0, submissions, new Map(receipt.entries.map((e) => [e.address, e.receivedAt])));
      expect(state).toMatchObject({ round: 1, version: 1, modelHash: expected });
      expect(decision.aggregated.length).toBeGreaterThan(0);
      expect(expected).not.toBe(round.modelHash);
      expect(receipt).toMatchObject({ round: 0, baseVersion: 0, version: 1, modelHashBefore: round.modelHash, modelHashAfter: expected });
      const withoutTime = (e: ReceiptEntry) => ({ ...e, receivedAt: 0 });
      expect(receipt.entries.map(withoutTime)).toEqual(decision.entries.map(withoutTime));
      expect(receipt.stateHashAfter).toBe(stateHash(decision.state));
      expect(stateHash(await getJson(relay.url, 'api/rounds/1/state'))).toBe(receipt.stateHashAfter);
      expect(await getJson(relay.url, 'api/weights')).toMatchObject({ round: 0, version: 1, weights: decision.weights });
      const checkpoint = await getBytes(relay.url, 'api/checkpoint');
      expect(hashToHex(modelHash(floatsOf(checkpoint.bytes)))).toBe(expected);
      expect(checkpoint.headers.get('etag')).toBe(`"${expected}"`);
      const bundle = decodeBundle((await getBytes(relay.url, 'api/updates?since=0&format=2')).bytes, 0);
      expect(bundle.map((e) => [e.version, hashToHex(e.modelHash)])).toEqual([[1, expected]]);
      for (const s of submissions) {
        const ledger = await getJson(relay.url, `api/ledger/${s.address}`);
        const entry = receipt.entries.find((e) => e.address === s.address)!;
        expect(ledger.entries).toMatchObject([{ round: 0, status: 'accepted', version: 1, aggregated: entry.aggregated, reason: entry.reason }]);
      }
      await kill9(relay);
      const checkpoints = await verifyStore(dir, 1, expected);
      const scores = await (await FileRelayStore.open(dir)).getRoundScores(0);
      expect(scores?.receipt.bytes).toBe(body.bytes);
      expect(readdirSync(join(dir, 'weights'))).toEqual(['r0000000000.json']);
      console.log(
        `kill -9 at ${point}: answers ${statuses.join(', ')}; after restart v1 = ${expected.slice(0, 18)}… from ${decision.aggregated.length} of 3 submissions, ` +
          `receipt verified, ${checkpoints} checkpoints verify`,
      );
    }, 300_000);
  }
});
