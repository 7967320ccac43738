// Submission framing, JSON parsers of the relay API, round membership and data seeds.
// The data-seed golden value was computed independently with Python
// (struct.pack + hashlib.blake2b, digest_size=32).
import { beforeAll, describe, expect, it } from 'vitest';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { hashToHex, MAX_HEADER_BYTES, modelHash, payloadHash, type SubmissionHeader } from '../../src/protocol/header.ts';
import {
  isErrorBody,
  continuationBytes,
  isLoopbackUrl,
  parseAddressLedger,
  parseErrorBody,
  parseHealthBody,
  parseJoinUrl,
  parseJson,
  parseLeaderboard,
  parseModelCard,
  parsePushEvent,
  parseRoundState,
  parseRoundStatus,
  parseRunInfo,
  parseSampleBody,
  parseStatsBody,
  parseSubmissionAck,
  type RoundState,
} from '../../src/protocol/api.ts';
import { deriveDataSeed } from '../../src/protocol/data-seed.ts';
import {
  checkHeaderForRound,
  decodeSubmission,
  encodeSubmission,
  maxSubmissionBytes,
  verifySignedSubmission,
} from '../../src/protocol/submission.ts';
import { signHeader, type SignedHeader } from '../../src/protocol/sign.ts';
import { createTestWallet } from '../support/test-wallet.ts';
import { protocolCodeOf } from '../support/protocol-error-code.ts';

const alice = createTestWallet({ uri: '//Alice' });
const bob = createTestWallet({ uri: '//Bob' });
const model = new Float32Array([0.25, -1, 3, 0]);
const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);

function headerFor(address: string, bytes = payload): SubmissionHeader {
  return {
    runId: 'frame-run',
    round: 11,
    baseModelVersion: 10,
    baseModelHash: modelHash(model),
    payloadHash: payloadHash(bytes),
    payloadBytes: bytes.length,
    address,
    innerSteps: 30,
    tokens: 30 * 8 * 128,
    clientVersion: 'tessera/test',
  };
}

const codeOf = protocolCodeOf;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

let signed: SignedHeader;
let frame: Uint8Array;

beforeAll(async () => {
  await cryptoWaitReady();
  signed = await signHeader(alice.signer, headerFor(alice.address));
  frame = encodeSubmission(signed, payload);
});

describe('submission frame', () => {
  it('has the documented layout and decodes back to its parts', () => {
    const hl = signed.headerBytes.length;
    expect(frame.length).toBe(4 + hl + 64 + payload.length);
    expect(Array.from(frame.subarray(0, 4))).toEqual([hl & 0xff, hl >> 8, 0, 0]);
    expect(u8aToHex(frame.subarray(4, 4 + hl))).toBe(u8aToHex(signed.headerBytes));
    expect(u8aToHex(frame.subarray(4 + hl, 4 + hl + 64))).toBe(u8aToHex(signed.signature));
    const decoded = decodeSubmission(frame);
    expect(decoded.header).toEqual(signed.header);
    expect(u8aToHex(decoded.payload)).toBe(u8aToHex(payload));
    expect(u8aToHex(decoded.signature)).toBe(u8aToHex(signed.signature));
    expect(codeOf(() => verifySignedSubmission(decoded))).toBe('no error');
  });

  it('refuses every truncation', () => {
    // Lengths are checked before the header is parsed, so every cut reads as truncation.
    for (let n = 0; n < frame.length; n++) expect(codeOf(() => decodeSubmission(frame.subarray(0, n))), `cut at ${n}`).toBe('frame-truncated');
    expect(codeOf(() => decodeSubmission(frame.subarray(0, frame.length - 1)))).toBe('frame-truncated');
  });

  it('refuses trailing bytes', () => {
    expect(codeOf(() => decodeSubmission(concat(frame, new Uint8Array([0]))))).toBe('frame-trailing');
    expect(codeOf(() => decodeSubmission(concat(frame, frame)))).toBe('frame-trailing');
  });

  it('refuses oversize lengths: header length and payload length', () => {
    for (const hl of [0, MAX_HEADER_BYTES + 1, 0xffff_ffff]) {
      const bad = frame.slice();
      new DataView(bad.buffer).setUint32(0, hl, true);
      expect(codeOf(() => decodeSubmission(bad)), `header length ${hl}`).toBe('frame-oversize');
    }
    // A relay with a smaller payload limit refuses before hashing anything.
    expect(codeOf(() => decodeSubmission(frame, { maxPayloadBytes: payload.length - 1 }))).toBe('frame-oversize');
    expect(decodeSubmission(frame, { maxPayloadBytes: payload.length }).payload.length).toBe(payload.length);
    expect(maxSubmissionBytes(1000)).toBe(4 + MAX_HEADER_BYTES + 64 + 1000);
  });

  it('refuses a header length that points past the header (bad-header)', () => {
    const bad = frame.slice();
    new DataView(bad.buffer).setUint32(0, signed.headerBytes.length + 1, true);
    expect(codeOf(() => decodeSubmission(bad))).toBe('bad-header');
  });

  it('verifySignedSubmission refuses a swapped payload, a bad signature and another claimed address', () => {
    const tamperedPayload = frame.slice();
    tamperedPayload[tamperedPayload.length - 1] ^= 1;
    expect(codeOf(() => verifySignedSubmission(decodeSubmission(tamperedPayload)))).toBe('payload-mismatch');
    const tamperedSignature = frame.slice();
    tamperedSignature[4 + signed.headerBytes.length + 3] ^= 1;
    expect(codeOf(() => verifySignedSubmission(decodeSubmission(tamperedSignature)))).toBe('bad-signature');
    expect(codeOf(() => verifySignedSubmission(decodeSubmission(frame), bob.address))).toBe('address-mismatch');
    expect(codeOf(() => verifySignedSubmission(decodeSubmission(frame), alice.address))).toBe('no error');
  });

  it('encodeSubmission refuses a payload the header was not signed for', () => {
    const other = payload.slice();
    other[0] ^= 1;
    expect(codeOf(() => encodeSubmission(signed, other))).toBe('payload-mismatch');
    expect(codeOf(() => encodeSubmission(signed, payload.subarray(1)))).toBe('payload-mismatch');
    expect(codeOf(() => encodeSubmission({ headerBytes: signed.headerBytes, signature: new Uint8Array(63) }, payload))).toBe('bad-signature');
  });
});

const round: RoundState = {
  round: 11,
  version: 10,
  modelHash: hashToHex(modelHash(model)),
  deadline: 1_790_000_000_000,
  dataSeed: ('0x' + '11'.repeat(32)) as `0x${string}`,
};

describe('checkHeaderForRound', () => {
  it('accepts the matching round and names each mismatch', () => {
    const h = signed.header;
    expect(codeOf(() => checkHeaderForRound(h, 'frame-run', round))).toBe('no error');
    expect(codeOf(() => checkHeaderForRound(h, 'other-run', round))).toBe('wrong-run');
    expect(codeOf(() => checkHeaderForRound(h, 'frame-run', { ...round, round: 12 }))).toBe('wrong-round');
    expect(codeOf(() => checkHeaderForRound(h, 'frame-run', { ...round, version: 11 }))).toBe('stale-model');
    const drifted = hashToHex(modelHash(new Float32Array([0.25, -1, 3, 1e-30])));
    expect(codeOf(() => checkHeaderForRound(h, 'frame-run', { ...round, modelHash: drifted }))).toBe('model-hash-mismatch');
  });
});

describe('deriveDataSeed', () => {
  const runSeed = new Uint8Array(32).fill(0x11);
  it('matches the independently computed value and is deterministic', () => {
    const expected = '0x5f920fb120842371388c041ee7ab4601fce89ead28e7ae44224bc1beaea9592c';
    expect(u8aToHex(deriveDataSeed(runSeed, alice.address, 7))).toBe(expected);
    expect(u8aToHex(deriveDataSeed(runSeed.slice(), alice.address, 7))).toBe(expected);
  });

  it('changes with the seed, the address and the round', () => {
    const base = u8aToHex(deriveDataSeed(runSeed, alice.address, 7));
    const seeds = new Set([
      base,
      u8aToHex(deriveDataSeed(runSeed, bob.address, 7)),
      u8aToHex(deriveDataSeed(runSeed, alice.address, 8)),
      u8aToHex(deriveDataSeed(new Uint8Array(32).fill(0x12), alice.address, 7)),
      u8aToHex(deriveDataSeed(runSeed.subarray(0, 31), alice.address, 7)),
    ]);
    expect(seeds.size).toBe(5);
  });

  it('refuses bad inputs', () => {
    expect(codeOf(() => deriveDataSeed(new Uint8Array(0), alice.address, 1))).toBe('bad-seed');
    expect(codeOf(() => deriveDataSeed(new Uint8Array(65), alice.address, 1))).toBe('bad-seed');
    expect(codeOf(() => deriveDataSeed(runSeed, alice.address, -1))).toBe('bad-seed');
    expect(codeOf(() => deriveDataSeed(runSeed, alice.address, 2 ** 32))).toBe('bad-seed');
    expect(codeOf(() => deriveDataSeed(runSeed, u8aToHex(alice.publicKey), 1))).toBe('bad-address');
  });
});

describe('JSON validators', () => {
  const runInfo = {
    runId: 'demo',
    protocol: 'tessera/submission/v1',
    ss58Prefix: 42,
    model: { name: 'tiny', parameterCount: 123_456 },
    innerSteps: 15,
    roundMs: 60_000,
    maxPayloadBytes: 1 << 24,
    relayVersion: '0.1.0',
    joinUrl: null,
    futureField: 'ignored',
  };

  it('accept well-formed messages (ignoring unknown fields) and refuse malformed ones', () => {
    const { futureField: _ignored, ...known } = runInfo;
    expect(parseRunInfo(parseJson(JSON.stringify(runInfo)))).toEqual(known);
    expect(codeOf(() => parseRunInfo({ ...runInfo, runId: 'bad id' }))).toBe('bad-message');
    expect(codeOf(() => parseRunInfo({ ...runInfo, model: { name: 'tiny', parameterCount: -1 } }))).toBe('bad-message');
    expect(codeOf(() => parseRunInfo([runInfo]))).toBe('bad-message');

    expect(parseRoundState(round)).toEqual(round);
    expect(codeOf(() => parseRoundState({ ...round, modelHash: round.modelHash.toUpperCase() }))).toBe('bad-message');
    expect(codeOf(() => parseRoundState({ ...round, round: 1.5 }))).toBe('bad-message');
    expect(codeOf(() => parseRoundState({ ...round, deadline: '1790000000000' }))).toBe('bad-message');
    expect(codeOf(() => parseRoundState(null))).toBe('bad-message');

    const ack = { round: 11, address: alice.address, payloadHash: hashToHex(payloadHash(payload)), receivedAt: 1_790_000_000_123 };
    expect(parseSubmissionAck(ack)).toEqual(ack);
    expect(codeOf(() => parseSubmissionAck({ ...ack, address: u8aToHex(alice.publicKey) }))).toBe('bad-message');

    expect(codeOf(() => parseJson('{"round": 1,'))).toBe('bad-message');
  });

  it('accept a join URL only as an absolute http(s) URL without credentials, query or fragment, and end its path with /', () => {
    expect(parseRunInfo({ ...runInfo, joinUrl: 'https://tessera.example.org' }).joinUrl).toBe('https://tessera.example.org/');
    expect(parseJoinUrl('https://192.168.1.20:8443/demo')).toBe('https://192.168.1.20:8443/demo/');
    for (const bad of ['tessera.example.org', 'ftp://example.org/', 'https://user:pw@example.org/', 'https://example.org/?x=1', 'https://example.org/#a', 42, `https://example.org/${'a'.repeat(600)}`]) {
      let field: string | null = null;
      try {
        parseRunInfo({ ...runInfo, joinUrl: bad }, 'run');
      } catch (error) {
        field = error instanceof ProtocolError ? error.field : null;
      }
      expect(field, String(bad)).toBe('run.joinUrl');
    }
    expect(isLoopbackUrl('http://127.0.0.1:8787/')).toBe(true);
    expect(isLoopbackUrl('https://localhost/')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:8787/')).toBe(true);
    expect(isLoopbackUrl('https://192.168.1.20:8443/')).toBe(false);
    expect(isLoopbackUrl('https://tessera.example.org/')).toBe(false);
  });

  it('parse /api/sample and /api/model.json strictly', () => {
    const sample = { version: 3, modelHash: round.modelHash, prompt: 'The ', temperature: 0.8, continuation: '0x68650aff' };
    expect(parseSampleBody(sample)).toEqual(sample);
    expect(Array.from(continuationBytes(sample.continuation))).toEqual([0x68, 0x65, 0x0a, 0xff]);
    expect(codeOf(() => parseSampleBody({ ...sample, continuation: '0x123' }))).toBe('bad-message');
    expect(codeOf(() => parseSampleBody({ ...sample, continuation: '0xZZ' }))).toBe('bad-message');
    expect(codeOf(() => parseSampleBody({ ...sample, temperature: -1 }))).toBe('bad-message');

    const card = {
      architecture: 'tessera-gpt', runId: 'demo', preset: 'nano', version: 3, modelHash: round.modelHash, parameterCount: 120_576,
      config: { vocabSize: 256, blockSize: 64, nLayer: 2, nHead: 2, nEmbd: 64, layerNormEpsilon: 1e-5, activation: 'gelu-tanh', tiedEmbeddings: true, weightLayout: 'out-in', tokenizer: 'bytes' },
      files: { safetensors: '/api/model.safetensors', onnx: '/api/model.onnx' },
    };
    expect(parseModelCard(card)).toEqual(card);
    expect(codeOf(() => parseModelCard({ ...card, architecture: 'gpt2' }))).toBe('bad-message');
    expect(codeOf(() => parseModelCard({ ...card, config: { ...card.config, activation: 'relu' } }))).toBe('bad-message');
  });

  it('parse push events by type and refuse unknown types', () => {
    expect(parsePushEvent({ type: 'round-opened', state: round })).toEqual({ type: 'round-opened', state: round });
    const closed = { type: 'round-closed', round: 11, submitted: 5, accepted: 4, version: 11, modelHash: round.modelHash };
    expect(parsePushEvent(closed)).toEqual(closed);
    const stats = { type: 'stats', round: 11, peers: 3, trainers: 2, recent: [{ address: alice.address, round: 11, tokens: 256, receivedAt: 1_790_000_000_000 }], submissions: 2, tokens: 99_000, loss: null };
    expect(parsePushEvent(stats)).toEqual(stats);
    expect(codeOf(() => parsePushEvent({ ...stats, trainers: -1 }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({ ...stats, recent: [{ ...stats.recent[0], address: 'alice' }] }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({ ...stats, recent: Array(9).fill(stats.recent[0]) }))).toBe('bad-message');
    expect(parsePushEvent({ ...stats, loss: 2.5 })).toEqual({ ...stats, loss: 2.5 });
    expect(codeOf(() => parsePushEvent({ ...stats, loss: 'NaN' }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({ ...stats, loss: undefined }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({ type: 'round-opened', state: { ...round, dataSeed: '0x11' } }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({ type: 'shutdown' }))).toBe('bad-message');
    expect(codeOf(() => parsePushEvent({}))).toBe('bad-message');
  });

  it('error bodies parse, and anything without an error member is not one', () => {
    const body = { error: { code: 'wrong-round', message: 'round 3 is closed' } };
    expect(isErrorBody(body)).toBe(true);
    expect(parseErrorBody(JSON.parse(JSON.stringify(body)))).toEqual(body);
    expect(isErrorBody(round)).toBe(false);
    expect(codeOf(() => parseErrorBody({ error: { code: '', message: 'x' } }))).toBe('bad-message');
  });

  it('refuse a run whose rounds no tab could complete (H = 0, H = 2.5) and name the field', () => {
    for (const innerSteps of [0, 2.5, -1]) {
      let field: string | null = null;
      try {
        parseRunInfo({ ...runInfo, innerSteps }, 'run');
      } catch (error) {
        field = error instanceof ProtocolError ? error.field : null;
      }
      expect(field, `innerSteps ${innerSteps}`).toBe('run.innerSteps');
    }
  });

  const summary = { round: 3, version: 4, modelHash: round.modelHash, submissions: 2, aggregated: 1, tokens: 512, reason: 'quorum', closedAt: 1_790_000_000_500, closeMs: 12.5 };

  it('parse /api/round, /api/stats and /api/health strictly', () => {
    const status = { ...round, openedAt: 1_789_999_999_000, submissions: 2, quorum: 16, closing: false, now: 1_790_000_000_050, futureField: 1 };
    const { futureField: _ignored, ...known } = status;
    expect(parseRoundStatus(status)).toEqual(known);
    expect(codeOf(() => parseRoundStatus({ ...status, closing: 'no' }))).toBe('bad-message');
    expect(codeOf(() => parseRoundStatus({ ...status, quorum: 0 }))).toBe('bad-message');
    expect(codeOf(() => parseRoundStatus({ ...status, submissions: undefined }))).toBe('bad-message');
    expect(codeOf(() => parseRoundStatus({ ...status, now: undefined }))).toBe('bad-message'); // a tab times its round by it

    const stats = {
      type: 'stats', round: 11, peers: 3, trainers: 1, recent: [], submissions: 2, tokens: 99_000, loss: 2.5,
      version: 10, contributors: 7, losses: [{ version: 10, loss: 2.5, evaluatedAt: 1_790_000_000_000 }],
      rounds: [summary, { ...summary, round: 4, reason: 'deadline', closeMs: null }],
    };
    expect(parseStatsBody(stats)).toEqual(stats);
    expect(codeOf(() => parseStatsBody({ ...stats, type: 'round-closed' }))).toBe('bad-message');
    expect(codeOf(() => parseStatsBody({ ...stats, rounds: [{ ...summary, reason: 'timeout' }] }))).toBe('bad-message');
    expect(codeOf(() => parseStatsBody({ ...stats, losses: [{ version: 10, loss: null, evaluatedAt: 1 }] }))).toBe('bad-message');
    expect(codeOf(() => parseStatsBody({ ...stats, rounds: {} }))).toBe('bad-message');

    expect(parseHealthBody({ ok: true })).toEqual({ ok: true });
    expect(codeOf(() => parseHealthBody({ ok: 'yes' }))).toBe('bad-message');
  });

  it('parse /api/ledger and /api/ledger/:address strictly', () => {
    const row = { address: alice.address, rounds: 3, tokens: 768 };
    expect(parseLeaderboard([row])).toEqual([row]);
    expect(codeOf(() => parseLeaderboard([{ ...row, address: 'alice' }]))).toBe('bad-message');
    expect(codeOf(() => parseLeaderboard(row))).toBe('bad-message');

    const accepted = { round: 3, status: 'accepted', version: 4, aggregated: true, reason: null, payloadHash: round.modelHash, payloadBytes: 3400, tokens: 256, innerSteps: 2, receivedAt: 1_790_000_000_100 };
    const excluded = { ...accepted, round: 2, aggregated: false, reason: 'not-improving' };
    const pending = { ...accepted, round: 4, status: 'pending', version: null, aggregated: null };
    const ledger = { address: alice.address, totals: { accepted: 2, pending: 1, tokens: 512 }, entries: [excluded, accepted, pending] };
    expect(parseAddressLedger(ledger)).toEqual(ledger);
    // Gauntlet's verdict: aggregated or why not; an exclusion without a reason is refused.
    expect(codeOf(() => parseAddressLedger({ ...ledger, entries: [{ ...excluded, reason: null }] }))).toBe('bad-message');
    expect(codeOf(() => parseAddressLedger({ ...ledger, entries: [{ ...excluded, reason: 'bad-luck' }] }))).toBe('bad-message');
    expect(codeOf(() => parseAddressLedger({ ...ledger, entries: [{ ...accepted, aggregated: null }] }))).toBe('bad-message');
    expect(codeOf(() => parseAddressLedger({ ...ledger, entries: [{ ...accepted, version: null }] }))).toBe('bad-message');
    expect(codeOf(() => parseAddressLedger({ ...ledger, entries: [{ ...accepted, status: 'refused' }] }))).toBe('bad-message');
    expect(codeOf(() => parseAddressLedger({ ...ledger, totals: undefined }))).toBe('bad-message');
  });
});
