// The embedded store and the pieces of the client round loop that need no
// GPU: integrity checks on everything the store reads back, pruning of what
// an uncommitted close left behind, the catch-up bundle's strict framing, the
// run spec validator, per-peer sampler seeds, the compressor's restore of an
// undelivered update, and the keyring signer against the strict verifier.
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { decompress } from '../../src/compress/sparseloco.ts';
import { encodeHeader, hashToHex, modelHash, payloadHash, ProtocolError, verifySubmission, signHeader, type HexHash } from '../../src/protocol/index.ts';
import { CorruptStoreError } from '../../src/relay/store.ts';
import { FileRelayStore } from '../../src/relay/file-store.ts';
import { verificationRecord } from '../../src/relay/submission-log.ts';
import { logEntries } from '../support/submission-log-entries.ts';
import { CpuRoundCompressor } from '../../src/swarm/compressor.ts';
import { keyringSigner } from '../../src/swarm/keyring-signer.ts';
import { decodeBundle, encodeBundle, parseSwarmRunInfo, samplerSeed } from '../../src/protocol/index.ts';
import { COMPRESSION, NANO_LAYOUT, getJson, headerFor, removeTempDirs, residual, startTestRelay, tempDir } from './relay-fixtures.ts';

beforeAll(async () => {
  await cryptoWaitReady();
});

afterAll(() => removeTempDirs());

const state = (version: number, round: number, hash: HexHash) => ({ format: 1, round, version, modelHash: hash, openedAt: 1, deadline: 2 });

describe('FileRelayStore', () => {
  it('round-trips checkpoints and refuses damaged ones', async () => {
    const dir = tempDir('store');
    const store = await FileRelayStore.open(dir);
    const params = residual(3);
    const hash = hashToHex(modelHash(params));
    await store.putCheckpoint(4, params, hash);
    expect(await store.getCheckpoint(4, hash)).toEqual(params);
    expect(await store.getCheckpoint(5)).toBeNull();
    await expect(store.getCheckpoint(4, `0x${'00'.repeat(32)}`)).rejects.toBeInstanceOf(CorruptStoreError);

    const path = join(dir, 'checkpoints', 'v0000000004.ckpt');
    const good = readFileSync(path);
    const flipped = Buffer.from(good);
    flipped[100] ^= 1; // one parameter bit
    writeFileSync(path, flipped);
    await expect(store.getCheckpoint(4)).rejects.toThrow(/do not match the stored model hash/);
    writeFileSync(path, good.subarray(0, good.length - 4)); // a torn file (what rename prevents)
    await expect(store.getCheckpoint(4)).rejects.toThrow(/header announces/);
    writeFileSync(join(dir, 'checkpoints', 'v0000000007.ckpt'), good);
    await expect(store.getCheckpoint(7)).rejects.toThrow(/holds version 4/);
  });

  it('verifies aggregates and submissions, and prunes what no committed state names', async () => {
    const dir = tempDir('store');
    const store = await FileRelayStore.open(dir);
    const hash = hashToHex(modelHash(residual(1)));
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    await store.putAggregate({ version: 2, modelHash: hash, bytes });
    expect(await store.getAggregate(2)).toEqual({ version: 2, modelHash: hash, bytes });
    const path = join(dir, 'aggregates', 'v0000000002.agg');
    const file = readFileSync(path);
    file[file.length - 1] ^= 1;
    writeFileSync(path, file);
    await expect(store.getAggregate(2)).rejects.toThrow(/content hash/);

    await store.putSubmission(3, { address: 'A', frame: new Uint8Array([9, 8, 7]), receivedAt: 1234, verifiedBy: 5 });
    expect(await store.listSubmissions(3)).toEqual([{ address: 'A', frame: new Uint8Array([9, 8, 7]), receivedAt: 1234, verifiedBy: 5 }]);
    expect(await store.listSubmissions(4)).toEqual([]);

    // A close of round 3 that crashed before its commit left v4 objects, a round-3 record and round-3 scores behind.
    for (const v of [0, 1, 2, 3, 4]) await store.putCheckpoint(v, residual(v), hashToHex(modelHash(residual(v))));
    const scores = (round: number) => ({
      round,
      receipt: { bytes: hash, signature: hash },
      weights: { round, version: round + 1, burn: 0, weights: [] },
      state: { format: 1 as const, round: round + 1, peers: [] },
    });
    await store.putRoundScores(scores(2));
    await store.putRoundScores(scores(3));
    expect(await store.getRoundScores(3)).toEqual(scores(3));
    expect(readdirSync(join(dir, 'weights'))).toEqual(['r0000000002.json', 'r0000000003.json']);
    await store.putAggregate({ version: 4, modelHash: hash, bytes });
    await store.putRoundRecord({ round: 2, baseVersion: 2, version: 3, modelHash: hash, aggregateHash: hash, aggregateBytes: 5, reason: 'quorum', openedAt: 0, closedAt: 1, skippedTensors: [], submissions: [] });
    await store.putRoundRecord({ round: 3, baseVersion: 3, version: 4, modelHash: hash, aggregateHash: hash, aggregateBytes: 5, reason: 'quorum', openedAt: 0, closedAt: 1, skippedTensors: [], submissions: [] });
    writeFileSync(join(dir, 'checkpoints', 'v0000000005.ckpt.tmp-1-abc'), 'half');
    await store.prune(state(3, 3, hash), 1);
    expect(await store.listCheckpoints()).toEqual([0, 2, 3]); // θ(0) always stays
    expect(await store.getAggregate(4)).toBeNull();
    expect((await store.listRoundRecords()).map((r) => r.round)).toEqual([2]);
    expect(await store.getRoundScores(2)).toEqual(scores(2));
    expect(await store.getRoundScores(3)).toBeNull();
    expect(readdirSync(join(dir, 'weights'))).toEqual(['r0000000002.json']);
    await FileRelayStore.open(dir); // opening removes temporaries
    expect(readdirSync(join(dir, 'checkpoints')).some((n) => n.includes('.tmp-'))).toBe(false);
  });

  it('gives back a submission\'s verification record only for the very bytes, round, address and time it was written for', async () => {
    const dir = tempDir('store');
    const store = await FileRelayStore.open(dir);
    const frame = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    await store.putSubmission(6, { address: 'Alice', frame, receivedAt: 5_000, verifiedBy: 2 });
    await store.putSubmission(6, { address: 'Bob', frame: frame.slice(0, 200), receivedAt: 5_001, verifiedBy: 2 });
    await store.putSubmission(6, { address: 'Carol', frame, receivedAt: 5_002, verifiedBy: null });
    expect(await store.putSubmission(6, { address: 'Alice', frame, receivedAt: 5_003, verifiedBy: 2 })).toEqual({ outcome: 'duplicate' });
    const listed = await store.listSubmissions(6);
    expect(listed.map((s) => [s.address, s.verifiedBy])).toEqual([['Alice', 2], ['Bob', 2], ['Carol', null]]);
    expect(listed[0].frame).toEqual(frame);
    await store.close();

    const roundDir = join(dir, 'rounds', 'r0000000006');
    const log = join(roundDir, 'submissions.log');
    const original = readFileSync(log);
    const alice = logEntries(original)[0];
    const verifiedOf = async (name: string, round = 6) => (await (await FileRelayStore.open(dir)).listSubmissions(round)).find((s) => s.address === name)?.verifiedBy;
    const tampered: [string, (b: Buffer) => void][] = [
      ['a flipped frame bit', (b) => (b[alice.frameAt + 100] ^= 0x04)],
      ['a frame byte rewritten', (b) => (b[alice.recordAt - 1] = 0)],
      ['another receivedAt', (b) => (b[alice.receivedAt] ^= 1)],
      ['another checks version', (b) => (b[alice.verifiedBy] = 3)],
      ['a damaged record', (b) => (b[alice.recordAt + 10] ^= 0x80)],
    ];
    for (const [what, edit] of tampered) {
      const bytes = Buffer.from(original);
      edit(bytes);
      writeFileSync(log, bytes);
      // Damaged in place: still read back (the relay checks it in full), never as verified; the others keep theirs.
      expect([what, await verifiedOf('Alice'), await verifiedOf('Bob')]).toEqual([what, null, 2]);
    }
    // The same entry under another address (same length), or in another round's log: no record either.
    const moved = Buffer.from(original);
    moved.set(new TextEncoder().encode('Malle'), alice.addressAt);
    writeFileSync(log, moved);
    expect(await verifiedOf('Malle')).toBeNull();
    writeFileSync(log, original);
    mkdirSync(join(dir, 'rounds', 'r0000000007'));
    writeFileSync(join(dir, 'rounds', 'r0000000007', 'submissions.log'), original);
    expect(await verifiedOf('Alice', 7)).toBeNull();
    expect(await verifiedOf('Alice')).toBe(2);
    // A garbled length (or a torn last batch) costs only what it garbles: the entries after it are read.
    const garbled = Buffer.from(original);
    garbled.writeUInt32LE(0xffffff, alice.start + 4);
    writeFileSync(log, garbled);
    expect((await (await FileRelayStore.open(dir)).listSubmissions(6)).map((s) => [s.address, s.verifiedBy])).toEqual([['Bob', 2], ['Carol', null]]);
    // Opening for a write cuts a torn tail, so the next entry is framed right after the last whole one.
    writeFileSync(log, Buffer.concat([original, original.subarray(0, 40)]));
    const reopened = await FileRelayStore.open(dir);
    expect(await reopened.putSubmission(6, { address: 'Erin', frame, receivedAt: 5_010, verifiedBy: 2 })).toEqual({ outcome: 'stored', count: 4 });
    await reopened.close();
    expect(logEntries(readFileSync(log)).map((e) => e.address)).toEqual(['Alice', 'Bob', 'Carol', 'Erin']);
    // Frames older relays stored one file each are read back: format 2 with its record, the first format without.
    const legacy = Buffer.alloc(8 + frame.length);
    legacy.writeBigUInt64LE(4_321n, 0);
    legacy.set(frame, 8);
    writeFileSync(join(roundDir, 'Dave.sub'), legacy);
    const header = Buffer.alloc(52);
    header.writeUInt32LE(0x42535354, 0);
    header.writeUInt32LE(2, 4);
    header.writeBigUInt64LE(4_322n, 8);
    header.writeUInt32LE(2, 16);
    header.set(verificationRecord(6, 'Faye', 4_322, 2, frame), 20);
    writeFileSync(join(roundDir, 'Faye.sub'), Buffer.concat([header, frame]));
    const withOlder = await (await FileRelayStore.open(dir)).listSubmissions(6);
    expect(withOlder.find((s) => s.address === 'Dave')).toEqual({ address: 'Dave', frame, receivedAt: 4_321, verifiedBy: null });
    expect(withOlder.find((s) => s.address === 'Faye')).toEqual({ address: 'Faye', frame, receivedAt: 4_322, verifiedBy: 2 });
  });

  it('acknowledges a burst of submissions with few fsyncs (group commit), each after the fsync that covers it', async () => {
    const dir = tempDir('store');
    const store = await FileRelayStore.open(dir);
    const frame = new Uint8Array(500).fill(3);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => store.putSubmission(2, { address: `A${i}`, frame, receivedAt: i, verifiedBy: 2 })));
    expect(answers.filter((a) => a.outcome === 'stored')).toHaveLength(200);
    expect(Math.max(...answers.map((a) => (a.outcome === 'stored' ? a.count : 0)))).toBe(200);
    expect(await store.countSubmissions(2)).toBe(200);
    // Every entry is in the file and whole once its promise resolved.
    expect(logEntries(readFileSync(join(dir, 'rounds', 'r0000000002', 'submissions.log')))).toHaveLength(200);
    expect((await store.listSubmissions(2)).filter((s) => s.verifiedBy === 2)).toHaveLength(200);
    expect((await store.listSubmissions(2, new Set(['A0', 'A1']))).map((s) => s.address)).not.toContain('A0');
    await store.close();
  });

  it('skips a torn last line of the evaluation log', async () => {
    const dir = tempDir('store');
    const store = await FileRelayStore.open(dir);
    await store.appendEvaluation({ version: 0, loss: 5.5, evaluatedAt: 1 });
    await store.appendEvaluation({ version: 1, loss: 5.4, evaluatedAt: 2 });
    writeFileSync(join(dir, 'evaluations.jsonl'), readFileSync(join(dir, 'evaluations.jsonl'), 'utf8') + '{"version":2,"lo');
    expect((await store.listEvaluations()).map((e) => e.version)).toEqual([0, 1]);
  });
});

describe('protocol: run spec, sampler seeds, catch-up bundle', () => {
  it('parses what the relay serves and refuses a broken spec', async () => {
    const server = await startTestRelay(tempDir('spec'));
    try {
      const json = await getJson(server.url, 'api/run');
      const run = parseSwarmRunInfo(json);
      expect(run.swarm.model).toMatchObject({ preset: 'nano', nEmbd: 64 });
      expect(run.swarm.train).toMatchObject({ batchSize: 2, seqLen: 32, totalSteps: 100 });
      expect(run.model.parameterCount).toBe(NANO_LAYOUT.paramCount);
      expect(() => parseSwarmRunInfo({ ...json, swarm: { ...json.swarm, runSeed: '0x12' } })).toThrow(ProtocolError);
      expect(() => parseSwarmRunInfo({ ...json, swarm: { ...json.swarm, compression: { ...json.swarm.compression, oneDimPolicy: 'zip' } } })).toThrow(/oneDimPolicy/);
      expect(() => parseSwarmRunInfo({ ...json, swarm: undefined })).toThrow(/swarm/);
    } finally {
      await server.close();
    }
  });

  it('derives a distinct sampler seed per address and round', () => {
    const seed: HexHash = `0x${'00'.repeat(31)}01`;
    const alice = keyringSigner('//Alice').address;
    const bob = keyringSigner('//Bob').address;
    const seeds = [samplerSeed(seed, alice, 0), samplerSeed(seed, alice, 1), samplerSeed(seed, bob, 0)];
    expect(new Set(seeds).size).toBe(3);
    expect(samplerSeed(seed, alice, 0)).toBe(seeds[0]);
    for (const s of seeds) expect(s < 2n ** 64n && s >= 0n).toBe(true);
  });

  it('frames a bundle strictly', () => {
    const entries = [2, 3].map((version) => ({ version, modelHash: new Uint8Array(32).fill(version), aggregate: new Uint8Array(version * 3).fill(7) }));
    const bytes = encodeBundle(entries);
    expect(decodeBundle(bytes, 1)).toEqual(entries);
    // Format 2: "TSUB", u16 2, u16 0, then the entries.
    expect([...bytes.subarray(0, 8)]).toEqual([0x54, 0x53, 0x55, 0x42, 2, 0, 0, 0]);
    expect(decodeBundle(encodeBundle([]), 5)).toEqual([]);
    expect(() => decodeBundle(bytes, 0)).toThrow(/version 2 where 1 belongs/);
    expect(() => decodeBundle(bytes.subarray(0, bytes.length - 1), 1)).toThrow(/runs past the end/);
    expect(() => decodeBundle(bytes.subarray(0, 18), 1)).toThrow(/truncated/);
    expect(() => encodeBundle([entries[1], entries[0]])).toThrow(/consecutive/);
    // A format-1 bundle (no preamble) or another format is refused, not misread.
    expect(() => decodeBundle(bytes.subarray(8), 1)).toThrow(/no "TSUB" preamble/);
    expect(() => decodeBundle(new Uint8Array(0), 5)).toThrow(/no "TSUB" preamble/);
    const format3 = bytes.slice();
    format3[4] = 3;
    expect(() => decodeBundle(format3, 1)).toThrow(/format 3; this tab reads 2/);
  });
});

describe('swarm: compressor and signer', () => {
  it('puts an undelivered update back into the residual', async () => {
    const manifest = NANO_LAYOUT.tensors;
    const compressor = new CpuRoundCompressor(NANO_LAYOUT.size, manifest, COMPRESSION, 0.95);
    const global = residual(1, 0.02);
    const step = residual(2, 1e-3);
    const local = global.map((x, i) => x - step[i]);
    const update = await compressor.compress(global, { read: async () => local, gpuBuffer: null });
    const afterSend = await compressor.residual();
    await compressor.restore(update);
    const restored = await compressor.residual();
    // e_after_EF = e_after_send + sent: rebuild it and compare.
    const expected = afterSend.slice();
    decompress(update, manifest).forEach((c, t) => {
      const base = manifest[t].offset;
      if (c.kind === 'dense') c.values.forEach((v, i) => (expected[base + i] = Math.fround(expected[base + i] + v)));
      else c.indices.forEach((index, j) => (expected[base + index] = Math.fround(expected[base + index] + c.values[j])));
    });
    expect(restored).toEqual(expected);
    // And that is β·0 + (global − local) up to float32 rounding of the two steps.
    let maxError = 0;
    for (let i = 0; i < restored.length; i++) maxError = Math.max(maxError, Math.abs(restored[i] - Math.fround(global[i] - local[i])));
    expect(maxError).toBeLessThan(1e-9);
  });

  it('signs like an extension: the strict verifier accepts it, another address is refused', async () => {
    const { address, signer } = keyringSigner('//Charlie');
    const payload = new Uint8Array([1, 2, 3]);
    const header = headerFor({ round: 0, version: 0, modelHash: hashToHex(payloadHash(payload)), payload, address });
    const signed = await signHeader(signer, header);
    expect(verifySubmission(encodeHeader(header), signed.signature, address)).toEqual(header);
    await expect(signer.signRaw({ address: keyringSigner('//Dave').address, data: '0x00', type: 'bytes' })).rejects.toThrow('Unable to find keypair');
  });
});
