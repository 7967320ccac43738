// What a byte-level model wrote, made fit to show: its bytes decoded as UTF-8
// where they form printable characters, every other byte (a control byte, a
// stray continuation byte, a truncated sequence) shown as a middle dot — so a
// young model's output never fills a projector with replacement characters —
// and the share of bytes that were readable, so a screen can wait until the
// model writes text before it shows any.
// Leaves out: language detection; "readable" means printable Unicode.

export interface ReadableText {
  text: string;
  /** Bytes that formed printable characters (or newline/tab), over all bytes; 1 for none. */
  readableShare: number;
}

/** Shown in place of a byte that is not part of a printable character. */
export const UNREADABLE_MARK = '·';

/** Share of readable bytes from which a sample is worth showing to a room. */
export const SHOW_FROM_SHARE = 0.9;

function isPrintable(codePoint: number): boolean {
  if (codePoint === 0x0a || codePoint === 0x09) return true;
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return false;
  // Private use, surrogates and non-characters read as garbage too.
  if ((codePoint >= 0xd800 && codePoint <= 0xf8ff) || codePoint === 0xfffd || codePoint === 0xfffe || codePoint === 0xffff) return false;
  return true;
}

/** Length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

export function readableText(bytes: Uint8Array): ReadableText {
  let text = '';
  let readable = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; ) {
    const n = sequenceLength(bytes[i]);
    let char: string | null = null;
    if (n > 0 && i + n <= bytes.length) {
      try {
        char = decoder.decode(bytes.subarray(i, i + n));
      } catch {
        char = null; // a malformed sequence (bad continuation, overlong, surrogate)
      }
    }
    if (char !== null && isPrintable(char.codePointAt(0)!)) {
      text += char;
      readable += n;
      i += n;
    } else {
      text += UNREADABLE_MARK;
      i += 1;
    }
  }
  return { text, readableShare: bytes.length ? readable / bytes.length : 1 };
}
