// A closed round's submissions as the relay publishes them
// (GET /api/rounds/:r/submissions), so anyone can re-verify each signed frame
// and recompute the round's evaluation (`npm run audit`). Binary,
// little-endian, entries in ascending address order, nothing between or after:
//
//   u64  receivedAt   ms since the Unix epoch, relay clock (arrival order decides copy suspects)
//   u32  length       frame bytes that follow
//   ..   frame        the exact signed submission frame (submission.ts)
//
// Leaves out: checking the frames (verifySubmissionFrame does that per entry).
import { ProtocolError } from './errors.ts';

export interface ArchivedSubmission {
  receivedAt: number;
  frame: Uint8Array;
}

const ENTRY_OVERHEAD = 12;

export function encodeRoundArchive(entries: readonly ArchivedSubmission[]): Uint8Array {
  let length = 0;
  for (const e of entries) length += ENTRY_OVERHEAD + e.frame.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    view.setBigUint64(at, BigInt(e.receivedAt), true);
    view.setUint32(at + 8, e.frame.length, true);
    out.set(e.frame, at + ENTRY_OVERHEAD);
    at += ENTRY_OVERHEAD + e.frame.length;
  }
  return out;
}

/** Whole entries only; throws ProtocolError('bad-archive'). The frames are views into `bytes`. */
export function decodeRoundArchive(bytes: Uint8Array): ArchivedSubmission[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: ArchivedSubmission[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < ENTRY_OVERHEAD) throw new ProtocolError('bad-archive', `round archive truncated at byte ${at}`);
    const receivedAt = view.getBigUint64(at, true);
    if (receivedAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('bad-archive', `receivedAt beyond 2^53 at byte ${at}`);
    const length = view.getUint32(at + 8, true);
    if (length > bytes.length - at - ENTRY_OVERHEAD) throw new ProtocolError('bad-archive', `round archive entry at byte ${at} runs past the end`);
    entries.push({ receivedAt: Number(receivedAt), frame: bytes.subarray(at + ENTRY_OVERHEAD, at + ENTRY_OVERHEAD + length) });
    at += ENTRY_OVERHEAD + length;
  }
  return entries;
}
