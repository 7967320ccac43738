// Samples made fit to show (src/app/readable-text.ts): printable UTF-8 passes
// through, every other byte becomes one middle dot (never U+FFFD), and the
// readable share counts bytes.
import { describe, expect, it } from 'vitest';
import { readableText, UNREADABLE_MARK } from '../../src/app/readable-text.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('readableText', () => {
  it('passes printable ASCII, newlines and multi-byte characters through', () => {
    const text = 'The café — naïve\n\tend';
    const result = readableText(new TextEncoder().encode(text));
    expect(result).toEqual({ text, readableShare: 1 });
  });

  it('marks control bytes, stray continuation bytes and cut sequences, one dot per byte', () => {
    const result = readableText(bytes(0x41, 0x00, 0x80, 0xc3, 0x41, 0xe2, 0x82, 0x1b, 0x42));
    // A, NUL, stray 0x80, 0xC3 followed by a non-continuation, A, E2 82 cut short, ESC, B
    expect(result.text).toBe(`A${UNREADABLE_MARK}${UNREADABLE_MARK}${UNREADABLE_MARK}A${UNREADABLE_MARK}${UNREADABLE_MARK}${UNREADABLE_MARK}B`);
    expect(result.text).not.toContain('\ufffd');
    expect(result.readableShare).toBeCloseTo(3 / 9, 10);
  });

  it('refuses overlong encodings, surrogates and a sequence that ends the bytes', () => {
    expect(readableText(bytes(0xc0, 0xaf)).text).toBe(UNREADABLE_MARK.repeat(2)); // overlong '/'
    expect(readableText(bytes(0xed, 0xa0, 0x80)).text).toBe(UNREADABLE_MARK.repeat(3)); // a UTF-16 surrogate
    expect(readableText(bytes(0x41, 0xf0, 0x9f)).text).toBe(`A${UNREADABLE_MARK}${UNREADABLE_MARK}`);
    expect(readableText(bytes()).readableShare).toBe(1);
  });
});
