// The signed score receipt (src/protocol/receipt.ts): canonical bytes that
// round-trip, strict refusals, the relay-key signature over <Bytes>…</Bytes>,
// and agreement with an independently written reader (tests/support).
import { beforeAll, describe, expect, it } from 'vitest';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import {
  decodeReceipt,
  encodeReceipt,
  isProtocolError,
  parseGauntletState,
  parseSignedReceiptBody,
  receiptSigningBytes,
  stateHash,
  verifyReceipt,
  weightsHash,
  type Receipt,
} from '../../src/protocol/index.ts';
import { fromHex, readReceiptIndependently, relaySigned } from '../support/independent-receipt-check.ts';
import { walletFor } from './relay-fixtures.ts';

const h = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const;
let receipt: Receipt;
let relay: ReturnType<Keyring['addFromUri']>;

beforeAll(async () => {
  await cryptoWaitReady();
  relay = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//RelayTest');
  const [a, b] = [walletFor(1).address, walletFor(2).address].sort();
  receipt = {
    runId: 'relay-test',
    round: 7,
    baseVersion: 7,
    modelHashBefore: h(1),
    version: 8,
    modelHashAfter: h(2),
    stateHashBefore: h(3),
    stateHashAfter: h(4),
    weightsHash: h(5),
    roundSeed: h(6),
    relayAddress: relay.address,
    closedAt: 1_790_000_000_123,
    entries: [
      {
        address: a, payloadHash: h(10), receivedAt: 1_790_000_000_001, status: 'evaluated',
        lossBeforeRandom: 2.5, lossAfterRandom: 2.49, lossBeforeOwn: 2.4, lossAfterOwn: 2.3, lossReferenceRandom: 2.495, lossReferenceOwn: 2.39, score: 0.004, ownImprovement: 1 / 24,
        indicator: 1, overlap: 0.031, overlapWith: b, mu: 27.25, sigma: 8.1, bma: 0.05, finalScore: 0.13, penalties: ['copy-halved', 'negative-majority'],
        aggregated: true, reason: null, weight: 0.75,
      },
      {
        address: b, payloadHash: h(11), receivedAt: 1_790_000_000_000, status: 'not-drawn',
        lossBeforeRandom: 0, lossAfterRandom: 0, lossBeforeOwn: 0, lossAfterOwn: 0, lossReferenceRandom: 0, lossReferenceOwn: 0, score: 0, ownImprovement: 0,
        indicator: 0, overlap: 0, overlapWith: '', mu: 25, sigma: 25 / 3, bma: 0, finalScore: 0, penalties: [],
        aggregated: false, reason: 'unproven', weight: 0,
      },
    ],
  };
});

describe('score receipt', () => {
  it('encodes canonically and decodes to the same receipt; the independent reader agrees', () => {
    const bytes = encodeReceipt(receipt);
    expect(bytes[0]).toBe(18); // the domain's length, never '<'
    expect(decodeReceipt(bytes)).toEqual(receipt);
    const independent = readReceiptIndependently(bytes);
    expect(independent).toMatchObject({ runId: 'relay-test', round: 7, baseVersion: 7, version: 8, modelHashAfter: h(2), relayAddress: relay.address });
    expect(independent.entries.map((e) => [e.address, e.status, e.score, e.aggregated, e.reason, e.weight])).toEqual([
      [receipt.entries[0].address, 1, 0.004, true, 0, 0.75],
      [receipt.entries[1].address, 0, 0, false, 6, 0],
    ]);
  });

  it('refuses trailing, truncated, non-finite, unordered and non-canonical bytes', () => {
    const bytes = encodeReceipt(receipt);
    const refuses = (b: Uint8Array) => expect(() => decodeReceipt(b)).toThrow(expect.objectContaining({ code: 'bad-receipt' }));
    refuses(new Uint8Array([...bytes, 0]));
    refuses(bytes.subarray(0, bytes.length - 1));
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat64(nan.length - 8, NaN, true); // the last weight
    refuses(nan);
    expect(() => encodeReceipt({ ...receipt, entries: [...receipt.entries].reverse() })).toThrow(/ascend/);
    expect(() => encodeReceipt({ ...receipt, entries: [{ ...receipt.entries[0], aggregated: false }] })).toThrow(/exclusion reason/);
    const unknownPenalty = bytes.slice();
    // The first entry's penalty mask: a bit no penalty uses.
    const at = indexOfPenalties(bytes);
    new DataView(unknownPenalty.buffer).setUint32(at, 1 << 20, true);
    refuses(unknownPenalty);
  });

  it('verifies the relay key over <Bytes>receipt</Bytes> and refuses another signer or a changed byte', () => {
    const bytes = encodeReceipt(receipt);
    const signature = u8aToHex(relay.sign(receiptSigningBytes(bytes)));
    const body = parseSignedReceiptBody({ round: 7, signer: relay.address, bytes: u8aToHex(bytes), signature });
    expect(verifyReceipt(body, relay.address)).toEqual(receipt);
    expect(relaySigned(fromHex(body.bytes), signature, relay.address)).toBe(true);
    const other = walletFor(3).address;
    expect(() => verifyReceipt(body, other)).toThrow(expect.objectContaining({ code: 'receipt-signature' }));
    const changed = encodeReceipt({ ...receipt, entries: [{ ...receipt.entries[0], weight: 0.76 }, receipt.entries[1]] });
    let error: unknown;
    try {
      verifyReceipt({ ...body, bytes: u8aToHex(changed) });
    } catch (e) {
      error = e;
    }
    expect(isProtocolError(error, 'receipt-signature')).toBe(true);
    // Signed bare (not wrapped): refused.
    const bare = u8aToHex(relay.sign(bytes));
    expect(() => verifyReceipt({ ...body, signature: bare })).toThrow(expect.objectContaining({ code: 'receipt-signature' }));
  });

  it('state and weights hashes are of canonical JSON: member order in the input does not matter', () => {
    const [a] = [walletFor(1).address];
    const record = { address: a, mu: 25, sigma: 1, bma: 0, score: 0, firstRound: 0, lastSubmitted: 0, lastEvaluated: -1, recent: '', negativeStreak: 0, skipStreak: 0, quarantinedUntil: 0, submitted: 1, aggregated: 1 };
    const shuffled = Object.fromEntries(Object.entries(record).reverse());
    const state = parseGauntletState({ format: 1, round: 3, peers: [shuffled] });
    expect(stateHash(state)).toBe(stateHash({ format: 1, round: 3, peers: [record] }));
    expect(stateHash(state)).not.toBe(stateHash({ format: 1, round: 4, peers: [record] }));
    const weights = { round: 3, version: 4, burn: 0, weights: [{ address: a, rank: 1, weight: 1, score: 2 }] };
    expect(weightsHash(weights)).toBe(weightsHash({ weights: [{ score: 2, weight: 1, rank: 1, address: a }], burn: 0, version: 4, round: 3 }));
  });
});

/** Byte offset of the first entry's penalty mask (walks the documented layout). */
function indexOfPenalties(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const str = () => (p += 2 + view.getUint16(p, true));
  str(); // domain
  str(); // runId
  p += 4 + 4 + 32 + 4 + 32 * 5;
  str(); // relay
  p += 8 + 4; // closedAt, n
  str(); // address
  p += 32 + 8 + 1 + 8 * 8 + 1 + 8;
  str(); // overlapWith
  p += 4 * 8;
  return p;
}
