// SubmissionHeader bytes and the protocol's hashes. The golden vectors were
// computed independently with Python (struct.pack + hashlib.blake2b,
// digest_size=32), not by running the encoder, so a change of layout or hash
// fails here.
import { describe, expect, it } from 'vitest';
import { blake2AsU8a, cryptoWaitReady, decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import {
  decodeHeader,
  encodeHeader,
  hashToHex,
  hexToHash,
  MAX_HEADER_BYTES,
  MAX_SUBMISSION_TOKENS,
  modelHash,
  payloadHash,
  type SubmissionHeader,
} from '../../src/protocol/header.ts';
import type { ProtocolErrorCode } from '../../src/protocol/errors.ts';
import { protocolCodeOf } from '../support/protocol-error-code.ts';

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

const golden: SubmissionHeader = {
  runId: 'demo-run',
  round: 7,
  baseModelVersion: 6,
  baseModelHash: Uint8Array.from({ length: 32 }, (_, i) => i),
  payloadHash: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i),
  payloadBytes: 1234,
  address: ALICE,
  innerSteps: 15,
  tokens: 4_000_000_000, // above 2^31: exercises the top bit of the u64's low half (the high half must be 0)
  clientVersion: 'tessera/0.1.0',
};

const goldenHex =
  '0x' +
  ['1500', '746573736572612f7375626d697373696f6e2f7631'].join('') + // domain "tessera/submission/v1"
  ['0800', '64656d6f2d72756e'].join('') + // runId "demo-run"
  '07000000' + // round 7
  '06000000' + // baseModelVersion 6
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f' + // baseModelHash
  'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf' + // payloadHash
  'd2040000' + // payloadBytes 1234
  ['3000', '3547727776614546357a58623236467a397263517044575335374374455248704e6568584350634e6f48474b75745159'].join('') + // address
  '0f000000' + // innerSteps 15
  '00286bee00000000' + // tokens 4e9
  ['0d00', '746573736572612f302e312e30'].join(''); // clientVersion "tessera/0.1.0"

const codeOf = protocolCodeOf;

describe('hashes (BLAKE2b-256)', () => {
  // util-crypto starts loading its wasm at import; calls made before it is ready
  // take the @noble/hashes path. Both paths must give the same bytes.
  it('give the same bytes from the wasm backend and the JavaScript fallback', async () => {
    expect(await cryptoWaitReady()).toBe(true);
    const payload = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 2654435761) >>> 24);
    const params = Float32Array.from({ length: 4099 }, (_, i) => Math.sin(i) * 3);
    const onlyJs = true;
    expect(u8aToHex(payloadHash(payload))).toBe(u8aToHex(blake2AsU8a(payload, 256, undefined, onlyJs)));
    const paramBytes = new Uint8Array(params.buffer);
    expect(u8aToHex(modelHash(params))).toBe(u8aToHex(blake2AsU8a(paramBytes, 256, undefined, onlyJs)));
  });

  it('payloadHash matches BLAKE2b-256 test vectors', () => {
    expect(hashToHex(payloadHash(new Uint8Array(0)))).toBe('0x0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8');
    expect(hashToHex(payloadHash(new TextEncoder().encode('abc')))).toBe('0xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
  });

  it('modelHash hashes little-endian float32 bytes, including from a subarray view', () => {
    // bytes 0000803f 000000c0 0000003f
    const expected = '0x6415de351cbc593d62dfba17b55c20ee096b071b3ef6bec870449d34b9a9d357';
    expect(hashToHex(modelHash(new Float32Array([1, -2, 0.5])))).toBe(expected);
    const padded = new Float32Array([9, 1, -2, 0.5, 9]);
    expect(hashToHex(modelHash(padded.subarray(1, 4)))).toBe(expected);
    // One flipped mantissa bit changes the hash: "same hash" means bit-identical.
    const nudged = new Float32Array([1, -2, 0.5]);
    new Uint32Array(nudged.buffer)[2] ^= 1;
    expect(hashToHex(modelHash(nudged))).not.toBe(expected);
  });

  it('hex forms are strict', () => {
    const h = hexToHash('0x' + 'ab'.repeat(32));
    expect(hashToHex(h)).toBe('0x' + 'ab'.repeat(32));
    for (const bad of ['ab'.repeat(32), '0x' + 'AB'.repeat(32), '0x' + 'ab'.repeat(31), '0x' + 'ab'.repeat(33), 42]) {
      expect(codeOf(() => hexToHash(bad))).toBe('bad-message');
    }
  });
});

describe('encodeHeader / decodeHeader', () => {
  it('produces the exact golden bytes and decodes them back', () => {
    const bytes = encodeHeader(golden);
    expect(u8aToHex(bytes)).toBe(goldenHex);
    expect(bytes.length).toBe(186);
    expect(bytes.length).toBeLessThanOrEqual(MAX_HEADER_BYTES);
    expect(decodeHeader(bytes)).toEqual(golden);
    // Decoding from a view inside a larger buffer (as the framing does).
    const framed = new Uint8Array(bytes.length + 10);
    framed.set(bytes, 7);
    expect(decodeHeader(framed.subarray(7, 7 + bytes.length))).toEqual(golden);
  });

  it('round-trips varied headers, and re-encoding what it decodes gives the same bytes', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let trial = 0; trial < 50; trial++) {
      const h: SubmissionHeader = {
        runId: 'r'.repeat(1 + (next() % 64)),
        round: next(),
        baseModelVersion: next(),
        baseModelHash: Uint8Array.from({ length: 32 }, next),
        payloadHash: Uint8Array.from({ length: 32 }, next),
        payloadBytes: next(),
        address: ALICE,
        innerSteps: next() % 1000,
        tokens: trial === 0 ? MAX_SUBMISSION_TOKENS : next(),
        clientVersion: 'v ~'.repeat(1 + (next() % 21)),
      };
      const bytes = encodeHeader(h);
      const back = decodeHeader(bytes);
      expect(back).toEqual(h);
      expect(u8aToHex(encodeHeader(back))).toBe(u8aToHex(bytes));
    }
  });

  it('refuses every truncation and any trailing byte', () => {
    const bytes = encodeHeader(golden);
    for (let n = 0; n < bytes.length; n++) expect(codeOf(() => decodeHeader(bytes.subarray(0, n)))).toBe('bad-header');
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(codeOf(() => decodeHeader(longer))).toBe('bad-header');
  });

  it('refuses another domain tag with wrong-domain', () => {
    const bytes = encodeHeader(golden);
    bytes[2 + 20] = '2'.charCodeAt(0); // "tessera/submission/v2"
    expect(codeOf(() => decodeHeader(bytes))).toBe('wrong-domain');
  });

  it('refuses malformed fields inside well-framed bytes', () => {
    const bytes = () => hexToU8a(goldenHex);
    // a non-printable byte in runId
    const control = bytes();
    control[2 + 21 + 2] = 0x01;
    expect(codeOf(() => decodeHeader(control))).toBe('bad-header');
    // tokens above 2^53-1: set the top byte of the u64 (offset 186-2-13-8+7)
    const huge = bytes();
    huge[186 - 15 - 1] = 0xff;
    expect(codeOf(() => decodeHeader(huge))).toBe('bad-header');
    // tokens = 2^32, just past MAX_SUBMISSION_TOKENS (sums of tokens must stay exact)
    const past = bytes();
    past.set([0, 0, 0, 0, 1, 0, 0, 0], 186 - 15 - 8);
    expect(codeOf(() => decodeHeader(past))).toBe('bad-header');
    past[186 - 15 - 4] = 0;
    past.fill(0xff, 186 - 15 - 8, 186 - 15 - 4);
    expect(decodeHeader(past).tokens).toBe(MAX_SUBMISSION_TOKENS);
    // runId length prefix claims more than the limit
    const longRun = bytes();
    longRun[23] = 65;
    expect(codeOf(() => decodeHeader(longRun))).toBe('bad-header');
    // an address with one character changed: checksum fails, address code kept
    const badAddress = bytes();
    const addressAt = 23 + 2 + 8 + 4 + 4 + 32 + 32 + 4 + 2;
    badAddress[addressAt + 10] ^= 0x01;
    expect(codeOf(() => decodeHeader(badAddress))).toBe('bad-address');
    // header longer than any valid header
    expect(codeOf(() => decodeHeader(new Uint8Array(MAX_HEADER_BYTES + 1)))).toBe('bad-header');
  });

  it('refuses an address field that is no prefix-42 address with the identity codes, however long', () => {
    const addressAt = 23 + 2 + 8 + 4 + 4 + 32 + 32 + 4;
    const original = hexToU8a(goldenHex);
    const withAddress = (text: string) => {
      const field = Uint8Array.from([text.length & 0xff, text.length >> 8, ...Array.from(text, (c) => c.charCodeAt(0))]);
      const out = new Uint8Array(original.length - (2 + ALICE.length) + field.length);
      out.set(original.subarray(0, addressAt));
      out.set(field, addressAt);
      out.set(original.subarray(addressAt + 2 + ALICE.length), addressAt + field.length);
      return out;
    };
    expect(decodeHeader(withAddress(ALICE))).toEqual(golden);
    const key = u8aToHex(decodeAddress(ALICE));
    const cases: [string, ProtocolErrorCode][] = [
      [key, 'bad-address'], // a hex public key: 66 characters
      [encodeAddress(decodeAddress(ALICE), 0), 'wrong-prefix'], // Polkadot
      [encodeAddress(decodeAddress(ALICE), 2), 'wrong-prefix'], // Kusama
      [encodeAddress(decodeAddress(ALICE), 255), 'wrong-prefix'], // a two-byte prefix: 49 characters
      [encodeAddress(decodeAddress(ALICE), 16383), 'wrong-prefix'], // the largest two-byte prefix
      ['5'.repeat(120), 'bad-address'],
      ['\u0001\u00ff', 'bad-address'],
    ];
    for (const [address, code] of cases) expect([address, codeOf(() => decodeHeader(withAddress(address)))]).toEqual([address, code]);
  });

  it('refuses invalid fields on encode', () => {
    const cases: [Partial<SubmissionHeader>, ProtocolErrorCode][] = [
      [{ runId: '' }, 'bad-header'],
      [{ runId: 'has space' }, 'bad-header'],
      [{ runId: 'x'.repeat(65) }, 'bad-header'],
      [{ runId: 'ünïcode' }, 'bad-header'],
      [{ round: -1 }, 'bad-header'],
      [{ round: 2 ** 32 }, 'bad-header'],
      [{ round: 1.5 }, 'bad-header'],
      [{ baseModelVersion: Number.NaN }, 'bad-header'],
      [{ baseModelHash: new Uint8Array(31) }, 'bad-header'],
      [{ payloadHash: new Uint8Array(33) }, 'bad-header'],
      [{ payloadBytes: 2 ** 32 }, 'bad-header'],
      [{ innerSteps: -3 }, 'bad-header'],
      [{ tokens: 2 ** 53 }, 'bad-header'],
      [{ tokens: MAX_SUBMISSION_TOKENS + 1 }, 'bad-header'],
      [{ tokens: -1 }, 'bad-header'],
      [{ clientVersion: '' }, 'bad-header'],
      [{ clientVersion: 'tab\tversion' }, 'bad-header'],
      [{ address: '0x' + 'd4'.repeat(32) }, 'bad-address'],
      [{ address: '15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5' }, 'wrong-prefix'],
    ];
    for (const [patch, code] of cases) {
      expect([patch, codeOf(() => encodeHeader({ ...golden, ...patch }))]).toEqual([patch, code]);
    }
  });
});
