// Where each entry of a submission log (src/relay/submission-log.ts) lies in
// its file, for tests that damage one entry on purpose: "TSLE" u32 bodyLength
// ‖ u64 receivedAt ‖ u32 verifiedBy ‖ u8 addressLength ‖ address ‖ frame ‖
// [32] record. Reads a well-formed log only (tests tamper after writing).
// Leaves out: validation (the store's reader does that).
export interface LogEntrySpan {
  start: number;
  end: number;
  address: string;
  /** Offsets of the fields inside the file. */
  receivedAt: number;
  verifiedBy: number;
  addressAt: number;
  frameAt: number;
  recordAt: number;
}

export function logEntries(bytes: Uint8Array): LogEntrySpan[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const spans: LogEntrySpan[] = [];
  for (let at = 0; at < bytes.length; ) {
    const end = at + 8 + view.getUint32(at + 4, true) + 32;
    const addressLength = bytes[at + 20];
    spans.push({
      start: at,
      end,
      address: new TextDecoder().decode(bytes.subarray(at + 21, at + 21 + addressLength)),
      receivedAt: at + 8,
      verifiedBy: at + 16,
      addressAt: at + 21,
      frameAt: at + 21 + addressLength,
      recordAt: end - 32,
    });
    at = end;
  }
  return spans;
}
