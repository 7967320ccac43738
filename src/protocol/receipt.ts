// The relay's signed score receipt for one round (Gauntlet, SPEC §2): what the
// relay decided about every submission, in one canonical byte string signed
// by the relay's own sr25519 key, so a contributor (or anyone) can check it in
// a browser and recompute it from published data (`npm run audit`).
//
// Byte layout (version 1). Integers little-endian; "str" = u16 byte length +
// ASCII bytes; f64 = IEEE-754 binary64, little-endian, always finite; nothing
// between fields, nothing after the last. docs/protocol.md has the same table.
//
//   str   domain            exactly "tessera/receipt/v1"
//   str   runId
//   u32   round
//   u32   baseVersion       model version the round trained from
//   32    modelHashBefore   modelHash(θ(baseVersion))
//   u32   version           model version after the round's outer step
//   32    modelHashAfter    modelHash(θ(version))
//   32    stateHashBefore   stateHash of the Gauntlet state the round started from (gauntlet.ts)
//   32    stateHashAfter    stateHash of the state it left
//   32    weightsHash       weightsHash of the payout vector after the round
//   32    roundSeed         the round's public randomness (src/gauntlet/assigned-data.ts)
//   str   relayAddress      SS58 address of the signing key
//   u64   closedAt          ms since the Unix epoch, relay clock
//   u32   n                 submissions, then n entries in ascending address order:
//     str   address
//     32    payloadHash
//     u64   receivedAt      ms since the epoch: arrival order decides who copied whom
//     u8    status          EVALUATION_STATUSES index
//     f64   lossBeforeRandom, lossAfterRandom, lossBeforeOwn, lossAfterOwn   (0 unless evaluated)
//     f64   lossReferenceRandom, lossReferenceOwn   the round's consensus step on the same windows (0 unless evaluated)
//     f64   score           s = (lossBeforeRandom − lossAfterRandom) / lossBeforeRandom
//     f64   ownImprovement  the same on the contributor's own assigned batch
//     i8    indicator       +1 it improved its own data, by more than the consensus step's advantage there; −1 not; 0 not evaluated
//     f64   overlap         largest index overlap with an earlier submission of the round
//     str   overlapWith     that submission's address ('' if none)
//     f64   mu, sigma       OpenSkill rating after the round
//     f64   bma             binary moving average after the round
//     f64   finalScore      F after the round's penalties
//     u32   penalties       bit i = PENALTIES[i]
//     u8    aggregated      1 if it went into the aggregate
//     u8    reason          0 if aggregated, else 1 + EXCLUSION_REASONS index
//     f64   weight          the address's payout share after the round
//
// Signature: sr25519 by relayAddress over "<Bytes>" ‖ receipt ‖ "</Bytes>",
// the wrapping wallet extensions use (sign.ts), so the same check serves both.
// The first byte is 0x12 (the domain's length), never '<': the bytes are
// always wrapped. Served as JSON {round, signer, bytes, signature} (hex).
//
// Leaves out: how the numbers are computed (src/gauntlet/) and HTTP.
import { hexToU8a, u8aWrapBytes } from '@polkadot/util';
import { isValidAddress, publicKeyFromAddress } from './address.ts';
import { ProtocolError } from './errors.ts';
import { EVALUATION_STATUSES, EXCLUSION_REASONS, PENALTIES, type EvaluationStatus, type ExclusionReason, type Penalty } from './gauntlet.ts';
import { bytesEqual, hashToHex, hexToHash, isValidRunId, type HexHash } from './header.ts';
import { address, object, text, u32 } from './json.ts';
import { SIGNATURE_BYTES, signatureFromHex, sr25519Verifies } from './sign.ts';

export const RECEIPT_DOMAIN = 'tessera/receipt/v1';
/** A receipt lists at most this many submissions (far beyond one round of any relay). */
export const MAX_RECEIPT_ENTRIES = 1_000_000;

export interface ReceiptEntry {
  address: string;
  payloadHash: HexHash;
  receivedAt: number;
  status: EvaluationStatus;
  lossBeforeRandom: number;
  lossAfterRandom: number;
  lossBeforeOwn: number;
  lossAfterOwn: number;
  lossReferenceRandom: number;
  lossReferenceOwn: number;
  score: number;
  ownImprovement: number;
  indicator: -1 | 0 | 1;
  overlap: number;
  /** '' when no earlier submission overlaps. */
  overlapWith: string;
  mu: number;
  sigma: number;
  bma: number;
  finalScore: number;
  penalties: Penalty[];
  aggregated: boolean;
  reason: ExclusionReason | null;
  weight: number;
}

export interface Receipt {
  runId: string;
  round: number;
  baseVersion: number;
  modelHashBefore: HexHash;
  version: number;
  modelHashAfter: HexHash;
  stateHashBefore: HexHash;
  stateHashAfter: HexHash;
  weightsHash: HexHash;
  roundSeed: HexHash;
  relayAddress: string;
  closedAt: number;
  /** Ascending by address. */
  entries: ReceiptEntry[];
}

/** The HTTP body of GET /api/rounds/:r/receipt. */
export interface SignedReceiptBody {
  round: number;
  /** The relay's address; must equal the receipt's relayAddress and the run's. */
  signer: string;
  /** The receipt bytes, 0x hex. */
  bytes: string;
  /** sr25519 signature over <Bytes>receipt</Bytes>, 0x hex (64 bytes). */
  signature: string;
}

const bad = (message: string): never => {
  throw new ProtocolError('bad-receipt', message);
};

class ByteWriter {
  private readonly parts: number[] = [];
  private readonly scratch = new DataView(new ArrayBuffer(8));
  u8(v: number) {
    this.parts.push(v & 0xff);
  }
  u16(v: number) {
    this.parts.push(v & 0xff, (v >>> 8) & 0xff);
  }
  u32(v: number) {
    this.scratch.setUint32(0, v, true);
    for (let i = 0; i < 4; i++) this.parts.push(this.scratch.getUint8(i));
  }
  u64(v: number) {
    this.scratch.setBigUint64(0, BigInt(v), true);
    for (let i = 0; i < 8; i++) this.parts.push(this.scratch.getUint8(i));
  }
  f64(v: number) {
    this.scratch.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.parts.push(this.scratch.getUint8(i));
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.parts.push(x);
  }
  str(s: string) {
    this.u16(s.length);
    for (let i = 0; i < s.length; i++) this.parts.push(s.charCodeAt(i));
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

class ByteReader {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number, what: string) {
    if (this.at + n > this.b.length) bad(`receipt truncated in ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.at++];
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} beyond 2^53`);
    return Number(v);
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isFinite(v)) bad(`${what} is not finite`);
    return v;
  }
  hash(what: string): HexHash {
    this.need(32, what);
    const v = hashToHex(this.b.subarray(this.at, this.at + 32));
    this.at += 32;
    return v;
  }
  str(what: string, max = 256): string {
    const n = this.u16(what);
    if (n > max) bad(`${what} longer than ${max} bytes`);
    this.need(n, what);
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = this.b[this.at + i];
      if (c < 0x20 || c > 0x7e) bad(`${what} has a non-printable byte`);
      s += String.fromCharCode(c);
    }
    this.at += n;
    return s;
  }
  end() {
    if (this.at !== this.b.length) bad(`${this.b.length - this.at} bytes after the receipt`);
  }
}

function checkReceipt(r: Receipt): void {
  if (!isValidRunId(r.runId)) bad('runId');
  for (const [name, v] of [['round', r.round], ['baseVersion', r.baseVersion], ['version', r.version]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) bad(`${name} must be a u32`);
  }
  if (!isValidAddress(r.relayAddress)) bad('relayAddress is not an SS58 prefix-42 address');
  if (!Number.isSafeInteger(r.closedAt) || r.closedAt < 0) bad('closedAt');
  if (r.entries.length > MAX_RECEIPT_ENTRIES) bad('too many entries');
  r.entries.forEach((e, i) => {
    if (!isValidAddress(e.address)) bad(`entry ${i}: address`);
    if (i > 0 && !(r.entries[i - 1].address < e.address)) bad(`entry ${i}: addresses must ascend strictly`);
    if (e.overlapWith !== '' && !isValidAddress(e.overlapWith)) bad(`entry ${i}: overlapWith`);
    if (!Number.isSafeInteger(e.receivedAt) || e.receivedAt < 0) bad(`entry ${i}: receivedAt`);
    if (![-1, 0, 1].includes(e.indicator)) bad(`entry ${i}: indicator`);
    if (e.aggregated !== (e.reason === null)) bad(`entry ${i}: a submission is aggregated exactly when it has no exclusion reason`);
    for (const key of ['lossBeforeRandom', 'lossAfterRandom', 'lossBeforeOwn', 'lossAfterOwn', 'lossReferenceRandom', 'lossReferenceOwn', 'score', 'ownImprovement', 'overlap', 'mu', 'sigma', 'bma', 'finalScore', 'weight'] as const) {
      if (!Number.isFinite(e[key])) bad(`entry ${i}: ${key} is not finite`);
    }
  });
}

/** The canonical bytes of a receipt (what the relay signs). Throws ProtocolError('bad-receipt') on a malformed one. */
export function encodeReceipt(receipt: Receipt): Uint8Array {
  checkReceipt(receipt);
  const w = new ByteWriter();
  w.str(RECEIPT_DOMAIN);
  w.str(receipt.runId);
  w.u32(receipt.round);
  w.u32(receipt.baseVersion);
  w.bytes(hexToHash(receipt.modelHashBefore));
  w.u32(receipt.version);
  w.bytes(hexToHash(receipt.modelHashAfter));
  w.bytes(hexToHash(receipt.stateHashBefore));
  w.bytes(hexToHash(receipt.stateHashAfter));
  w.bytes(hexToHash(receipt.weightsHash));
  w.bytes(hexToHash(receipt.roundSeed));
  w.str(receipt.relayAddress);
  w.u64(receipt.closedAt);
  w.u32(receipt.entries.length);
  for (const e of receipt.entries) {
    w.str(e.address);
    w.bytes(hexToHash(e.payloadHash));
    w.u64(e.receivedAt);
    w.u8(EVALUATION_STATUSES.indexOf(e.status));
    for (const v of [e.lossBeforeRandom, e.lossAfterRandom, e.lossBeforeOwn, e.lossAfterOwn, e.lossReferenceRandom, e.lossReferenceOwn, e.score, e.ownImprovement]) w.f64(v);
    w.u8(e.indicator & 0xff);
    w.f64(e.overlap);
    w.str(e.overlapWith);
    for (const v of [e.mu, e.sigma, e.bma, e.finalScore]) w.f64(v);
    let mask = 0;
    for (const p of e.penalties) mask |= 1 << PENALTIES.indexOf(p);
    w.u32(mask >>> 0);
    w.u8(e.aggregated ? 1 : 0);
    w.u8(e.reason === null ? 0 : 1 + EXCLUSION_REASONS.indexOf(e.reason));
    w.f64(e.weight);
  }
  return w.done();
}

/** Strict decode: every field in range, nothing trailing, and the bytes re-encode to themselves. */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  const r = new ByteReader(bytes);
  const domain = r.str('domain', 64);
  if (domain !== RECEIPT_DOMAIN) bad(`domain "${domain}", expected "${RECEIPT_DOMAIN}"`);
  const receipt: Receipt = {
    runId: r.str('runId', 64),
    round: r.u32('round'),
    baseVersion: r.u32('baseVersion'),
    modelHashBefore: r.hash('modelHashBefore'),
    version: r.u32('version'),
    modelHashAfter: r.hash('modelHashAfter'),
    stateHashBefore: r.hash('stateHashBefore'),
    stateHashAfter: r.hash('stateHashAfter'),
    weightsHash: r.hash('weightsHash'),
    roundSeed: r.hash('roundSeed'),
    relayAddress: r.str('relayAddress', 48),
    closedAt: r.u64('closedAt'),
    entries: [],
  };
  const n = r.u32('entry count');
  if (n > MAX_RECEIPT_ENTRIES) bad('too many entries');
  for (let i = 0; i < n; i++) {
    const what = (field: string) => `entry ${i} ${field}`;
    const address = r.str(what('address'), 48);
    const payloadHash = r.hash(what('payloadHash'));
    const receivedAt = r.u64(what('receivedAt'));
    const status = EVALUATION_STATUSES[r.u8(what('status'))] ?? bad(what('status'));
    const [lossBeforeRandom, lossAfterRandom, lossBeforeOwn, lossAfterOwn, lossReferenceRandom, lossReferenceOwn, score, ownImprovement] = [0, 1, 2, 3, 4, 5, 6, 7].map(() =>
      r.f64(what('losses')),
    );
    const indicatorByte = r.u8(what('indicator'));
    const indicator = indicatorByte === 0xff ? -1 : indicatorByte === 1 ? 1 : indicatorByte === 0 ? 0 : bad(what('indicator'));
    const overlap = r.f64(what('overlap'));
    const overlapWith = r.str(what('overlapWith'), 48);
    const [mu, sigma, bma, finalScore] = [0, 1, 2, 3].map(() => r.f64(what('rating')));
    const mask = r.u32(what('penalties'));
    if (mask >>> PENALTIES.length !== 0) bad(what('penalties: unknown bits'));
    const penalties = PENALTIES.filter((_, bit) => (mask >>> bit) & 1);
    const aggregatedByte = r.u8(what('aggregated'));
    if (aggregatedByte > 1) bad(what('aggregated'));
    const reasonByte = r.u8(what('reason'));
    const reason = reasonByte === 0 ? null : (EXCLUSION_REASONS[reasonByte - 1] ?? bad(what('reason')));
    const weight = r.f64(what('weight'));
    receipt.entries.push({
      address,
      payloadHash,
      receivedAt,
      status,
      lossBeforeRandom,
      lossAfterRandom,
      lossBeforeOwn,
      lossAfterOwn,
      lossReferenceRandom,
      lossReferenceOwn,
      score,
      ownImprovement,
      indicator: indicator as -1 | 0 | 1,
      overlap,
      overlapWith,
      mu,
      sigma,
      bma,
      finalScore,
      penalties,
      aggregated: aggregatedByte === 1,
      reason,
      weight,
    });
  }
  r.end();
  checkReceipt(receipt);
  if (!bytesEqual(encodeReceipt(receipt), bytes)) bad('receipt bytes are not canonical');
  return receipt;
}

/** What the relay's key signs: the wallet-style wrapping of the receipt bytes. */
export function receiptSigningBytes(receiptBytes: Uint8Array): Uint8Array {
  return u8aWrapBytes(receiptBytes);
}

export function parseSignedReceiptBody(json: unknown, path = 'receipt'): SignedReceiptBody {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    signer: address(o, 'signer', path),
    bytes: text(o, 'bytes', path, 2 + 2 * 64 * 1024 * 1024, /^0x([0-9a-f]{2})+$/),
    signature: text(o, 'signature', path, 130, /^0x[0-9a-f]{128}$/),
  };
}

/**
 * Decodes a signed receipt and checks it: canonical bytes, the signer is the
 * receipt's relayAddress (and `expectedSigner`, the run's published relay
 * address, when given), the round matches, and the sr25519 signature verifies
 * over <Bytes>receipt</Bytes>. Returns the receipt; throws ProtocolError.
 */
export function verifyReceipt(body: SignedReceiptBody, expectedSigner?: string): Receipt {
  const bytes = hexToU8a(body.bytes);
  const receipt = decodeReceipt(bytes);
  if (receipt.round !== body.round) bad(`receipt is for round ${receipt.round}, the body says ${body.round}`);
  if (receipt.relayAddress !== body.signer) bad(`receipt names ${receipt.relayAddress} as its relay, the body says ${body.signer}`);
  if (expectedSigner !== undefined && body.signer !== expectedSigner) {
    throw new ProtocolError('receipt-signature', `signed by ${body.signer}, the run's relay is ${expectedSigner}`);
  }
  const signature = signatureFromHex(body.signature, [SIGNATURE_BYTES]);
  if (!sr25519Verifies(receiptSigningBytes(bytes), signature, publicKeyFromAddress(body.signer))) {
    throw new ProtocolError('receipt-signature', `the signature does not verify as sr25519 by ${body.signer} over this receipt`);
  }
  return receipt;
}
