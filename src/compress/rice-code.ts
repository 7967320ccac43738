// Golomb–Rice codes of the gaps between sorted indices (SPEC §1.4 "going
// further"). A gap g with parameter r is written as the quotient g >>> r in
// unary (that many 1 bits, then a 0) followed by the r low bits of g, least
// significant first. Bits fill each byte from its least significant bit
// (DEFLATE order). Top-k positions in a 4096-chunk are close to uniform, so
// gaps are close to geometric, the case Rice codes are optimal for: at 64 of
// 4096 the best r is 5 or 6 and costs ≈ 7.5 bits per index against the
// log2 C(4096, 64)/64 ≈ 7.4-bit floor and 12 bits for plain packing.
//
// The encoder picks, per tensor, the r with the fewest total bits (the lowest
// such r on a tie), and the decoder insists on it, so one index set has exactly
// one encoding.
//
// Leaves out: any adaptive/arithmetic coder (≈ 0.1 bit per index better, much
// harder to mirror on a GPU or to validate).
// Source: S. W. Golomb, "Run-length encodings" (1966); R. F. Rice (1979).

/** Appends bits to a preallocated byte array. */
export class BitWriter {
  private bitPosition = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly startByte: number,
  ) {}

  /** Writes the `count` (≤ 31) low bits of value, least significant first. */
  write(value: number, count: number): void {
    for (let b = 0; b < count; b++) {
      if ((value >>> b) & 1) {
        const p = this.bitPosition + b;
        this.bytes[this.startByte + (p >>> 3)] |= 1 << (p & 7);
      }
    }
    this.bitPosition += count;
  }

  /** Writes `count` one bits and a terminating zero. */
  writeUnary(count: number): void {
    for (let b = 0; b < count; b++) {
      const p = this.bitPosition + b;
      this.bytes[this.startByte + (p >>> 3)] |= 1 << (p & 7);
    }
    this.bitPosition += count + 1;
  }

  get bitsWritten(): number {
    return this.bitPosition;
  }
}

/** Reads bits from bytes[start, end); reading past end returns null so callers can raise their own error. */
export class BitReader {
  private bitPosition = 0;
  private readonly bitLength: number;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly startByte: number,
    endByte: number,
  ) {
    this.bitLength = (endByte - startByte) * 8;
  }

  /** The next `count` (≤ 31) bits as an unsigned number, or null past the end. */
  read(count: number): number | null {
    if (this.bitPosition + count > this.bitLength) return null;
    let value = 0;
    for (let b = 0; b < count; b++) {
      const p = this.bitPosition + b;
      value |= ((this.bytes[this.startByte + (p >>> 3)] >>> (p & 7)) & 1) << b;
    }
    this.bitPosition += count;
    return value >>> 0;
  }

  /**
   * A unary count (ones up to the first zero), or null past the end, or -1 once
   * the count exceeds `limit` — the caller's bound, so a run of ones in hostile
   * bytes costs at most limit + 1 steps.
   */
  readUnary(limit: number): number | null {
    let count = 0;
    for (;;) {
      if (this.bitPosition >= this.bitLength) return null;
      const p = this.bitPosition++;
      if (((this.bytes[this.startByte + (p >>> 3)] >>> (p & 7)) & 1) === 0) return count;
      if (++count > limit) return -1;
    }
  }

  get bitsRead(): number {
    return this.bitPosition;
  }

  /** True when every bit after the read position (to the end) is zero. */
  restIsZero(): boolean {
    for (let p = this.bitPosition; p < this.bitLength; p++) {
      if ((this.bytes[this.startByte + (p >>> 3)] >>> (p & 7)) & 1) return false;
    }
    return true;
  }
}

/** Bits the Rice code with parameter r spends on gap g. */
export function riceBits(gap: number, r: number): number {
  return (gap >>> r) + 1 + r;
}

/**
 * The r in [0, maxParameter] that codes all gaps in the fewest bits (lowest r
 * on a tie), and that many bits. `gaps` is visited once per candidate r.
 */
export function bestRiceParameter(
  forEachGap: (visit: (gap: number) => void) => void,
  maxParameter: number,
): { parameter: number; bits: number } {
  const totals = new Float64Array(maxParameter + 1);
  forEachGap((gap) => {
    for (let r = 0; r <= maxParameter; r++) totals[r] += (gap >>> r) + 1 + r;
  });
  let parameter = 0;
  for (let r = 1; r <= maxParameter; r++) if (totals[r] < totals[parameter]) parameter = r;
  return { parameter, bits: totals[parameter] };
}

/** Number of bits needed to write any value below `limit` (limit ≥ 1). */
export function bitWidth(limit: number): number {
  let width = 0;
  while (width < 31 && 2 ** width < limit) width++;
  return width;
}
