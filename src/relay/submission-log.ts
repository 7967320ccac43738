// The embedded store's record of a round's acknowledged submissions: one
// append-only file per round, written with group commit. Submissions that
// arrive while an fsync is running queue up; the next write appends all of
// them and one fsync covers the batch. A submission's promise resolves only
// after the fsync that covers its bytes, so "acknowledge after the durable
// write" holds while a burst of R submissions costs a handful of fsyncs
// instead of 2·R (a file per submission: fsync of the file, then of the
// directory). Group commit is how databases batch their log flushes
// (PostgreSQL's WAL does the same for concurrent commits).
//
// Entry (little-endian):
//   "TSLE" u32 bodyLength
//   body: u64 receivedAt ‖ u32 verifiedBy ‖ u8 addressLength ‖ address (ASCII) ‖ frame
//   [32] verification record: BLAKE2b-256 of ("tessera/verified-submission/v1",
//        round, address, receivedAt, verifiedBy, frame) — see file-store.ts
// The record is also the entry's checksum. An entry whose framing holds (its
// magic, its length, and the next entry's magic or the end of the file right
// after it) but whose record does not match was damaged in place: it is read
// back unverified, and the relay checks it in full (and refuses it). Where the
// framing itself is broken (a crash tore the last batch, a garbled length),
// the reader skips to the next "TSLE" that starts a framed entry, so damage
// costs the damaged entry and never the ones after it. Opening a log for
// appending cuts whatever follows the last framed entry (a torn tail: nothing
// in it was acknowledged), so new entries never follow garbage. A
// write that fails (a full disk) rejects its whole batch, cuts the file back
// to where the batch began, and the store opens the log afresh next time.
//
// Leaves out: what the frames mean (relay.ts checks them again on restore
// unless their record vouches for them).
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { u8aConcat } from '@polkadot/util';
import { blake2AsU8a } from '@polkadot/util-crypto';
import { bytesEqual } from '../protocol/index.ts';
import { readIfExists, syncDirectory } from './durable-file.ts';
import { failpoint } from './failpoint.ts';

const ENTRY_MAGIC = 0x454c5354; // "TSLE" read as u32 LE
const PREFIX_BYTES = 8; // magic + bodyLength
const RECORD_BYTES = 32;
const FIXED_BODY_BYTES = 8 + 4 + 1;
const MAX_ADDRESS_BYTES = 255;
const VERIFIED_DOMAIN = new TextEncoder().encode('tessera/verified-submission/v1');

export interface LoggedSubmission {
  address: string;
  frame: Uint8Array;
  receivedAt: number;
  /** The checks version the record vouches for; 0: none. */
  verifiedBy: number;
}

/** What a verification record vouches for: these bytes, in this round, under this address, checked by `verifiedBy`. */
export function verificationRecord(round: number, address: string, receivedAt: number, verifiedBy: number, frame: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode(address);
  const fields = new Uint8Array(2 + VERIFIED_DOMAIN.length + 4 + 2 + name.length + 8 + 4);
  const view = new DataView(fields.buffer);
  let at = 0;
  view.setUint16(at, VERIFIED_DOMAIN.length, true);
  fields.set(VERIFIED_DOMAIN, at + 2);
  at += 2 + VERIFIED_DOMAIN.length;
  view.setUint32(at, round, true);
  view.setUint16(at + 4, name.length, true);
  fields.set(name, at + 6);
  at += 6 + name.length;
  view.setBigUint64(at, BigInt(receivedAt), true);
  view.setUint32(at + 8, verifiedBy, true);
  return blake2AsU8a(u8aConcat(fields, frame), 256);
}

/** One entry's bytes. */
export function encodeLogEntry(round: number, entry: LoggedSubmission): Uint8Array {
  const address = new TextEncoder().encode(entry.address);
  if (address.length > MAX_ADDRESS_BYTES) throw new RangeError(`address of ${address.length} bytes is too long for the submission log`);
  const bodyLength = FIXED_BODY_BYTES + address.length + entry.frame.length;
  const out = new Uint8Array(PREFIX_BYTES + bodyLength + RECORD_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, ENTRY_MAGIC, true);
  view.setUint32(4, bodyLength, true);
  view.setBigUint64(8, BigInt(entry.receivedAt), true);
  view.setUint32(16, entry.verifiedBy, true);
  out[20] = address.length;
  out.set(address, 21);
  out.set(entry.frame, 21 + address.length);
  out.set(verificationRecord(round, entry.address, entry.receivedAt, entry.verifiedBy, entry.frame), PREFIX_BYTES + bodyLength);
  return out;
}

/** A logged submission as read back: `recordMatches` false means its bytes are not what was written (damage). */
export type ReadSubmission = LoggedSubmission & { recordMatches: boolean };

const magicAt = (bytes: Uint8Array, view: DataView, at: number) => bytes.length - at >= 4 && view.getUint32(at, true) === ENTRY_MAGIC;

/**
 * The entry starting at `at`, if it is framed: magic, a length that fits, and
 * either a matching record or the next entry's magic (or the end of the file)
 * right after it. A framed entry whose record does not match is damaged in
 * place: it is returned, unverified, so the relay checks (and refuses) it.
 */
function entryAt(bytes: Uint8Array, view: DataView, at: number, round: number): { entry: ReadSubmission; end: number } | null {
  if (bytes.length - at < PREFIX_BYTES + FIXED_BODY_BYTES + RECORD_BYTES || !magicAt(bytes, view, at)) return null;
  const bodyLength = view.getUint32(at + 4, true);
  const end = at + PREFIX_BYTES + bodyLength + RECORD_BYTES;
  if (bodyLength < FIXED_BODY_BYTES || end > bytes.length) return null;
  const addressLength = bytes[at + 20];
  if (FIXED_BODY_BYTES + addressLength > bodyLength) return null;
  const entry = {
    receivedAt: Number(view.getBigUint64(at + 8, true)),
    verifiedBy: view.getUint32(at + 16, true),
    address: new TextDecoder().decode(bytes.subarray(at + 21, at + 21 + addressLength)),
    frame: bytes.slice(at + 21 + addressLength, end - RECORD_BYTES),
  };
  const record = verificationRecord(round, entry.address, entry.receivedAt, entry.verifiedBy, entry.frame);
  const recordMatches = bytesEqual(record, bytes.subarray(end - RECORD_BYTES, end));
  if (!recordMatches && end !== bytes.length && !magicAt(bytes, view, end)) return null;
  return { entry: { ...entry, recordMatches }, end };
}

/**
 * Every framed entry (skipping stretches that are not: a torn or garbled
 * region), where the last one ends (a writer cuts the file there), and how
 * many bytes were skipped before it.
 */
export function decodeLog(bytes: Uint8Array, round: number): { entries: ReadSubmission[]; intactEnd: number; damagedBytes: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: ReadSubmission[] = [];
  let at = 0;
  let intactEnd = 0;
  let damagedBytes = 0;
  while (at < bytes.length) {
    const found = entryAt(bytes, view, at, round);
    if (found) {
      entries.push(found.entry);
      damagedBytes += at - intactEnd;
      at = intactEnd = found.end;
    } else {
      at += 1; // resynchronise on the next framed entry
    }
  }
  return { entries, intactEnd, damagedBytes };
}

interface Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** An open log, appending with group commit (see the file header). */
export class SubmissionLog {
  private pending: Pending[] = [];
  private writing: Promise<void> | null = null;
  /** Set when a write failed: the store reopens the log (which cuts whatever that write left). */
  broken: unknown = null;

  private constructor(
    private readonly handle: FileHandle,
    private length: number,
  ) {}

  /** Opens (creating) the log of `round` at `path`, cutting a torn tail; returns it with the entries already there. */
  static async open(path: string, round: number): Promise<{ log: SubmissionLog; entries: ReadSubmission[]; damagedBytes: number }> {
    const existing = await readIfExists(path);
    const { entries, intactEnd, damagedBytes } = decodeLog(existing ?? new Uint8Array(0), round);
    const handle = await open(path, 'a+');
    try {
      if (existing === null) {
        await handle.sync();
        await syncDirectory(dirname(path)); // the new name itself must survive a crash
      } else if (intactEnd < existing.length) {
        await handle.truncate(intactEnd);
        await handle.sync();
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return { log: new SubmissionLog(handle, intactEnd), entries, damagedBytes };
  }

  /** Resolves once an fsync has covered the entry. */
  append(entry: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      this.pending.push({ bytes: entry, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const start = this.length;
      try {
        const buffer = Buffer.concat(batch.map((p) => p.bytes));
        let written = 0;
        while (written < buffer.length) written += (await this.handle.write(buffer, written)).bytesWritten;
        failpoint('submission-log:written');
        await this.handle.sync();
        this.length += buffer.length;
        for (const p of batch) p.resolve();
      } catch (error) {
        // Nothing of this batch (or of what queued behind it) was acknowledged. Cut the batch off
        // so a later entry never follows garbage; the store opens the log afresh for the next one.
        this.broken = error;
        for (const p of [...batch, ...this.pending.splice(0)]) p.reject(error);
        await this.handle.truncate(start).catch(() => {});
      }
    }
    this.writing = null;
  }

  /** Resolves when every append queued so far has been written or refused. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    await this.flushed();
    await this.handle.close();
  }
}
