// HTTP/1.1 on a bare TCP socket, for tests that must send what no HTTP client
// library will (malformed request lines, targets like "//" or "*", huge or
// broken headers, bad chunked framing, pipelining, early resets) and check
// exactly what comes back. The response parser is strict on purpose, and
// hand-written for that reason: a lenient parser (a browser's, undici's) would
// accept the sloppy answers this is meant to catch. It understands what the
// relay may send — Content-Length and chunked bodies, 1xx interim answers,
// bodiless 204/304 and HEAD answers, and a body that ends with the connection.
//
// Leaves out: TLS, HTTP/2, trailers beyond skipping them.
import { connect, type Socket } from 'node:net';

export interface WireResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ParseResult {
  responses: WireResponse[];
  /** Why the bytes are not a sequence of well-formed answers (null: they are, possibly with an unfinished tail). */
  malformed: string | null;
  /** Bytes after the last complete answer (an answer cut short by a closed connection). */
  rest: number;
}

const STATUS_LINE = /^HTTP\/1\.1 ([1-5]\d\d) [\x20-\x7e]*$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$/;

/**
 * Parses answers off `data`. `methods` are the request methods in order (a
 * HEAD answer has no body); `closed` says the connection ended, which is what
 * ends a body without a length.
 */
export function parseResponses(data: Buffer, methods: readonly string[], closed: boolean): ParseResult {
  const responses: WireResponse[] = [];
  let at = 0;
  let request = 0;
  for (;;) {
    if (at >= data.length) return { responses, malformed: null, rest: 0 };
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) return { responses, malformed: closed ? 'connection closed inside an answer head' : null, rest: data.length - at };
    const lines = data.toString('latin1', at, headEnd).split('\r\n');
    const statusMatch = STATUS_LINE.exec(lines[0]);
    if (!statusMatch) return { responses, malformed: `bad status line ${JSON.stringify(lines[0].slice(0, 80))}`, rest: data.length - at };
    const status = Number(statusMatch[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const header = HEADER_LINE.exec(line);
      if (!header) return { responses, malformed: `bad header line ${JSON.stringify(line.slice(0, 80))}`, rest: data.length - at };
      const name = header[1].toLowerCase();
      headers[name] = name in headers ? `${headers[name]}, ${header[2]}` : header[2];
    }
    let bodyStart = headEnd + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      at = bodyStart; // an interim answer (100 Continue): the real one follows
      continue;
    }
    const method = methods[request] ?? 'GET';
    let body: Buffer;
    if (status === 101 || status === 204 || status === 304 || method === 'HEAD') {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding'] !== undefined) {
      if (headers['transfer-encoding'].toLowerCase() !== 'chunked') return { responses, malformed: `transfer-encoding ${headers['transfer-encoding']}`, rest: data.length - at };
      if (headers['content-length'] !== undefined) return { responses, malformed: 'both content-length and chunked', rest: data.length - at };
      const chunks: Buffer[] = [];
      let cursor = bodyStart;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor, 'latin1');
        if (lineEnd < 0) return { responses, malformed: closed ? 'connection closed inside a chunk size' : null, rest: data.length - at };
        const sizeText = data.toString('latin1', cursor, lineEnd).split(';')[0];
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { responses, malformed: `bad chunk size ${JSON.stringify(sizeText)}`, rest: data.length - at };
        const size = parseInt(sizeText, 16);
        cursor = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', cursor - 2, 'latin1');
          if (trailerEnd < 0) return { responses, malformed: closed ? 'connection closed inside the trailer' : null, rest: data.length - at };
          cursor = trailerEnd + 4;
          break;
        }
        if (cursor + size + 2 > data.length) return { responses, malformed: closed ? 'connection closed inside a chunk' : null, rest: data.length - at };
        chunks.push(data.subarray(cursor, cursor + size));
        if (data.toString('latin1', cursor + size, cursor + size + 2) !== '\r\n') return { responses, malformed: 'chunk without CRLF', rest: data.length - at };
        cursor += size + 2;
      }
      body = Buffer.concat(chunks);
      bodyStart = cursor;
      at = cursor;
      responses.push({ status, headers, body });
      request += 1;
      continue;
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d{1,15}$/.test(headers['content-length'])) return { responses, malformed: `bad content-length ${headers['content-length']}`, rest: data.length - at };
      const length = Number(headers['content-length']);
      if (bodyStart + length > data.length) return { responses, malformed: closed ? 'connection closed inside a body' : null, rest: data.length - at };
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      // No length: the body runs to the end of the connection.
      if (!closed) return { responses, malformed: null, rest: data.length - at };
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    responses.push({ status, headers, body });
    request += 1;
    at = bodyStart;
    // After 101 Switching Protocols the bytes are WebSocket frames, not HTTP.
    if (status === 101) return { responses, malformed: null, rest: data.length - at };
  }
}

export interface ExchangeStep {
  /** Bytes to write (nothing: just wait). */
  write?: Buffer | string;
  /** Milliseconds to wait after this step. */
  pauseMs?: number;
  /** Reset the connection (RST) here instead of continuing. */
  reset?: boolean;
  /** Half-close our side (FIN) after this step. */
  end?: boolean;
}

export interface ExchangeResult {
  data: Buffer;
  /** The server closed (or reset) the connection before `waitMs` ran out. */
  closedByServer: boolean;
  /** We reset the connection ourselves. */
  resetByUs: boolean;
  error: string | null;
}

export interface ExchangeOptions {
  port: number;
  host?: string;
  /** Source address (any 127.x.y.z on Linux): how a test plays many clients. */
  localAddress?: string;
  steps: readonly ExchangeStep[];
  /** After the last step, wait at most this long for the server to finish answering and close. */
  waitMs: number;
  /** Stop waiting early once this predicate holds for what arrived (e.g. one whole answer). */
  doneWhen?: (data: Buffer) => boolean;
}

/** Runs the steps on one connection and collects everything the server sends. Never throws. */
export function exchange(options: ExchangeOptions): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let resetByUs = false;
    let error: string | null = null;
    let finished = false;
    let socket: Socket;
    let waitTimer: ReturnType<typeof setTimeout> | null = null;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (waitTimer) clearTimeout(waitTimer);
      if (!socket.destroyed) socket.destroy();
      resolve({ data: Buffer.concat(chunks), closedByServer, resetByUs, error });
    };
    socket = connect({ port: options.port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.doneWhen?.(Buffer.concat(chunks))) finish();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!resetByUs) error = e.code ?? e.message;
    });
    socket.on('close', () => {
      if (!resetByUs) closedByServer = true;
      finish();
    });
    socket.once('connect', async () => {
      for (const step of options.steps) {
        if (finished || socket.destroyed) return;
        if (step.reset) {
          resetByUs = true;
          socket.resetAndDestroy();
          return;
        }
        if (step.write !== undefined && step.write.length > 0) {
          // A server that closed mid-write makes this fail; that is an outcome, not an error of ours.
          await new Promise<void>((done) => socket.write(step.write!, () => done()));
        }
        if (step.end) socket.end();
        if (step.pauseMs) await new Promise((r) => setTimeout(r, step.pauseMs));
      }
      if (!finished) waitTimer = setTimeout(finish, options.waitMs);
    });
  });
}

/** True once `data` holds `count` complete answers (for ExchangeOptions.doneWhen). */
export function hasAnswers(count: number, methods: readonly string[] = []): (data: Buffer) => boolean {
  return (data) => parseResponses(data, methods, false).responses.length >= count;
}
