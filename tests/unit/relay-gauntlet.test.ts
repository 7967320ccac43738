// Gauntlet on a real relay on 127.0.0.1 (in this process; evaluation in its
// worker thread): two honest contributors (updates trained on their assigned
// data), an attacker sending its trained update sign-flipped, and a copycat
// that re-sends an honest payload after it. Round 0: the honest ones are
// aggregated and paid; the flipped update raises the random-batch loss, so it
// is not aggregated and earns 0; the copycat is flagged (overlap 1 with the
// honest upload it copied), reset and quarantined. Round 1: the same, plus a
// noise update from the quarantined copycat, which stays out. (Random noise
// is the headless-volunteer test's attacker, tests/gpu/relay-gauntlet.test.ts:
// unlike a flipped update it does not always measure worse.) Every receipt
// verifies with the relay's published key and with an independently written
// reader; `npm run audit`'s check recomputes both rounds bit for bit, and
// fails on a receipt the relay's key signed over changed weights.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { auditRound } from '../../src/audit/audit.ts';
import { encodeUpdate } from '../../src/compress/codec.ts';
import { compress } from '../../src/compress/sparseloco.ts';
import { ensureDataset } from '../../src/data/prepare.ts';
import {
  encodeReceipt,
  parseGauntletRunInfo,
  parseScoreboard,
  parseSignedReceiptBody,
  parseWeightsFile,
  receiptSigningBytes,
  verifyReceipt,
  type Receipt,
} from '../../src/protocol/index.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { fromHex, readReceiptIndependently, relaySigned } from '../support/independent-receipt-check.ts';
import { COMPRESSION, NANO_LAYOUT, getBytes, getJson, post, removeTempDirs, residual, signedFrame, tempDir, TEST_RUN, trainedPayload, walletFor } from './relay-fixtures.ts';

let server: RelayServer;
let dataDir: string;

beforeAll(async () => {
  await cryptoWaitReady();
  dataDir = tempDir('gauntlet');
  server = await launchRelay({
    dataDir,
    port: 0,
    distDir: null,
    // No copy grace, so the copycat of round 0 is penalised at once.
    run: { ...TEST_RUN, gauntlet: { copy: { graceRounds: 0 } } },
    relay: { roundMs: 600_000, quorum: 4 },
    evaluate: false,
  });
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

const floats = (bytes: Uint8Array) => {
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
};

/** Noise of ±0.05 everywhere, top-k + 2-bit: valid bytes, no training (the quarantined copycat's round-1 upload). */
const noisePayload = (seed: number) => encodeUpdate(compress(residual(seed, 0.05), NANO_LAYOUT.tensors, COMPRESSION), NANO_LAYOUT.tensors, COMPRESSION);

/**
 * Lets the event loop run after seconds of synchronous training in this
 * thread, which also runs the relay: its keep-alive timers fire late, and a
 * request sent on an idle connection at that instant would be reset
 * (ECONNRESET). Not a timing assertion; it only lets pending timers run.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

async function waitForVersion(version: number): Promise<void> {
  for (let i = 0; i < 1200 && (await getJson(server.url, 'api/round')).version < version; i++) await new Promise((r) => setTimeout(r, 50));
  expect((await getJson(server.url, 'api/round')).version).toBe(version);
}

async function receiptOf(round: number, relayAddress: string): Promise<Receipt> {
  const body = parseSignedReceiptBody(await getJson(server.url, `api/rounds/${round}/receipt`));
  const receipt = verifyReceipt(body, relayAddress);
  // An independent reader and util-crypto's generic verifier agree with the protocol module.
  expect(relaySigned(fromHex(body.bytes), body.signature, relayAddress)).toBe(true);
  const independent = readReceiptIndependently(fromHex(body.bytes));
  expect(independent.entries.map((e) => [e.address, e.aggregated, e.weight, e.score])).toEqual(receipt.entries.map((e) => [e.address, e.aggregated, e.weight, e.score]));
  return receipt;
}

describe('Gauntlet on the relay', () => {
  it('aggregates and pays the honest, not the flipped update; quarantines the copycat; receipts verify and audit', async () => {
    const url = server.url;
    const run = await getJson(url, 'api/run');
    const { relayAddress, gauntlet } = parseGauntletRunInfo(run);
    expect(gauntlet).toMatchObject({ enabled: true, copy: { graceRounds: 0 } });
    const [honestA, honestB, attacker, copycat] = [walletFor(80), walletFor(81), walletFor(82), walletFor(83)];

    // ---------------------------------------------------------------- round 0
    let state = await getJson(url, 'api/round');
    let theta = floats((await getBytes(url, 'api/checkpoint')).bytes);
    const payloadA = trainedPayload(honestA.address, 0, 0, theta);
    const frames = [
      [honestA, payloadA],
      [honestB, trainedPayload(honestB.address, 0, 0, theta)],
      [attacker, trainedPayload(attacker.address, 0, 0, theta, { scale: -1 })],
      [copycat, payloadA], // the same bytes, signed by another key, after the original
    ] as const;
    await settle();
    for (const [wallet, payload] of frames) {
      const answer = await post(url, await signedFrame({ wallet, round: 0, version: 0, modelHash: state.modelHash, payload }));
      expect(answer.status).toBe(200);
    }
    await waitForVersion(1);
    const r0 = await receiptOf(0, relayAddress);
    const entry = (r: Receipt, address: string) => r.entries.find((e) => e.address === address)!;
    for (const honest of [honestA, honestB]) {
      expect(entry(r0, honest.address)).toMatchObject({ status: 'evaluated', indicator: 1, aggregated: true, reason: null });
      expect(entry(r0, honest.address).score).toBeGreaterThan(0);
    }
    const flipped = entry(r0, attacker.address);
    expect(flipped.status).toBe('evaluated');
    expect(flipped.score).toBeLessThan(0);
    expect(flipped).toMatchObject({ aggregated: false, reason: 'not-improving', weight: 0 });
    expect(entry(r0, copycat.address).overlap).toBeCloseTo(1, 12);
    expect(entry(r0, copycat.address)).toMatchObject({
      overlapWith: honestA.address,
      penalties: ['copy-reset', 'copy-quarantined'],
      aggregated: false,
      reason: 'copy',
      weight: 0,
      finalScore: 0,
    });
    // The published aggregate holds exactly the two honest updates.
    const pushedRound = (await getJson(url, 'api/stats')).rounds.at(-1);
    expect(pushedRound).toMatchObject({ round: 0, submissions: 4, aggregated: 2 });
    const ledger = await getJson(url, `api/ledger/${copycat.address}`);
    expect(ledger.entries).toMatchObject([{ round: 0, status: 'accepted', aggregated: false, reason: 'copy' }]);

    // The audit recomputes round 0 from published data.
    const audit0 = await auditRound(url, 0, { dataset: ensureDataset() });
    expect(audit0.checks.filter((c) => !c.ok)).toEqual([]);
    expect(audit0.bitForBit).toBe(true);

    // ---------------------------------------------------------------- round 1
    state = await getJson(url, 'api/round');
    theta = floats((await getBytes(url, 'api/checkpoint')).bytes);
    const round1 = [
      [honestA, trainedPayload(honestA.address, 1, 1, theta)],
      [honestB, trainedPayload(honestB.address, 1, 1, theta)],
      [attacker, trainedPayload(attacker.address, 1, 1, theta, { scale: -1 })],
      [copycat, noisePayload(183)],
    ] as const;
    await settle();
    for (const [wallet, payload] of round1) {
      expect((await post(url, await signedFrame({ wallet, round: 1, version: 1, modelHash: state.modelHash, payload }))).status).toBe(200);
    }
    await waitForVersion(2);
    const r1 = await receiptOf(1, relayAddress);
    expect(entry(r1, copycat.address)).toMatchObject({ status: 'quarantined', aggregated: false, reason: 'quarantined' });
    expect(entry(r1, attacker.address)).toMatchObject({ aggregated: false, reason: 'not-improving', weight: 0 });

    // Weights and leaderboard: only the honest are paid.
    const weights = parseWeightsFile(await getJson(url, 'api/weights'));
    expect(weights.round).toBe(1);
    for (const w of weights.weights) expect([honestA.address, honestB.address]).toContain(w.address);
    expect(parseWeightsFile(await getJson(url, 'api/weights?round=0')).round).toBe(0);
    const board = parseScoreboard(await getJson(url, 'api/leaderboard'));
    expect(board.rows.find((r) => r.address === attacker.address)).toMatchObject({ weight: 0, submitted: 2 });
    expect(board.rows.find((r) => r.address === copycat.address)).toMatchObject({ weight: 0, rounds: 0, submitted: 2 });
    const audit1 = await auditRound(url, 1, { dataset: ensureDataset() });
    expect(audit1.checks.filter((c) => !c.ok)).toEqual([]);

    // A receipt the relay's own key signed over changed weights does not audit.
    const mnemonic = JSON.parse(readFileSync(join(dataDir, 'relay-key.json'), 'utf8')).mnemonic;
    const key = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(mnemonic);
    const forged = encodeReceipt({ ...r1, entries: r1.entries.map((e) => (e.address === attacker.address ? { ...e, weight: 0.5 } : e)) });
    const scoresPath = join(dataDir, 'rounds', 'r0000000001', 'scores.json');
    const scores = JSON.parse(readFileSync(scoresPath, 'utf8'));
    scores.receipt = { bytes: u8aToHex(forged), signature: u8aToHex(key.sign(receiptSigningBytes(forged))) };
    writeFileSync(scoresPath, JSON.stringify(scores));
    const forgedAudit = await auditRound(url, 1, { dataset: ensureDataset() });
    expect(forgedAudit.ok).toBe(false);
    expect(forgedAudit.checks.find((c) => c.name === 'decisions')).toMatchObject({ ok: false });
  }, 300_000);
});
