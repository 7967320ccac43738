// An independently written receipt check, from docs/protocol.md alone: its own
// byte walker (no code shared with src/protocol/receipt.ts) and
// @polkadot/util-crypto's general signatureVerify (not the project's strict
// verifier). Tests run it on receipts a real relay signed, so the documented
// layout, the code and the relay cannot drift apart unnoticed.
// Leaves out: every check beyond "the bytes say this and the relay signed them".
import { signatureVerify } from '@polkadot/util-crypto';

export interface CheckedEntry {
  address: string;
  payloadHash: string;
  status: number;
  score: number;
  ownImprovement: number;
  finalScore: number;
  aggregated: boolean;
  reason: number;
  weight: number;
}

export interface CheckedReceipt {
  runId: string;
  round: number;
  baseVersion: number;
  version: number;
  modelHashBefore: string;
  modelHashAfter: string;
  relayAddress: string;
  entries: CheckedEntry[];
}

function hex(bytes: Uint8Array): string {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Walks the documented layout; throws on any mismatch or leftover byte. */
export function readReceiptIndependently(bytes: Uint8Array): CheckedReceipt {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const str = () => {
    const n = view.getUint16(p, true);
    const s = new TextDecoder('ascii').decode(bytes.subarray(p + 2, p + 2 + n));
    p += 2 + n;
    return s;
  };
  const u32 = () => ((p += 4), view.getUint32(p - 4, true));
  const u64 = () => ((p += 8), Number(view.getBigUint64(p - 8, true)));
  const f64 = () => ((p += 8), view.getFloat64(p - 8, true));
  const u8 = () => bytes[p++];
  const h32 = () => ((p += 32), hex(bytes.subarray(p - 32, p)));
  if (str() !== 'tessera/receipt/v1') throw new Error('domain');
  const runId = str();
  const round = u32();
  const baseVersion = u32();
  const modelHashBefore = h32();
  const version = u32();
  const modelHashAfter = h32();
  h32(); // stateHashBefore
  h32(); // stateHashAfter
  h32(); // weightsHash
  h32(); // roundSeed
  const relayAddress = str();
  u64(); // closedAt
  const n = u32();
  const entries: CheckedEntry[] = [];
  for (let i = 0; i < n; i++) {
    const address = str();
    const payloadHash = h32();
    u64(); // receivedAt
    const status = u8();
    const losses = [f64(), f64(), f64(), f64(), f64(), f64()]; // before/after random and own, consensus random and own
    const score = f64();
    const ownImprovement = f64();
    void losses;
    u8(); // indicator
    f64(); // overlap
    str(); // overlapWith
    f64(); // mu
    f64(); // sigma
    f64(); // bma
    const finalScore = f64();
    u32(); // penalties
    const aggregated = u8() === 1;
    const reason = u8();
    const weight = f64();
    entries.push({ address, payloadHash, status, score, ownImprovement, finalScore, aggregated, reason, weight });
  }
  if (p !== bytes.length) throw new Error(`${bytes.length - p} trailing bytes`);
  return { runId, round, baseVersion, version, modelHashBefore, modelHashAfter, relayAddress, entries };
}

/** True if `signature` (hex) is the relay's sr25519 signature over <Bytes>receipt</Bytes>. */
export function relaySigned(bytes: Uint8Array, signature: string, relayAddress: string): boolean {
  const wrapped = new Uint8Array([...new TextEncoder().encode('<Bytes>'), ...bytes, ...new TextEncoder().encode('</Bytes>')]);
  const result = signatureVerify(wrapped, signature, relayAddress);
  return result.isValid && result.crypto === 'sr25519';
}

export function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.slice(2).match(/../g) ?? [], (b) => parseInt(b, 16));
}
