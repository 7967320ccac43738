// HTTP API, push channel and static app server around one Relay: node:http
// plus `ws` (the WebSocket library most of npm uses; already in the tree via
// @polkadot/api) rather than a framework, so the whole surface is one route
// switch a reader can scan. One origin serves the app (dist/), the API and the
// events; every answer carries the security headers of http-headers.ts.
//
//   GET  /api/run                 SwarmRunInfo (RunInfo + swarm spec)
//   GET  /api/round               RoundStatus (RoundState + openedAt, submissions, quorum, closing)
//   GET  /api/checkpoint          θ(v) float32 LE; ETag = "modelHash", 304 on If-None-Match
//   GET  /api/updates?since=v&format=2  catch-up bundle (protocol/bundle.ts), ≤ maxCatchUp entries
//   POST /api/submissions         submission frame → SubmissionAck | ErrorBody
//   GET  /api/ledger              LeaderboardRow[]: addresses by tokens contributed
//   GET  /api/ledger/:address     AddressLedger: one address's contributions, round by round
//   GET  /api/stats               StatsBody: swarm stats, loss history, recent rounds
//   GET  /api/weights[?round=r]   WeightsFile: Gauntlet's payout vector after the last (or round r's) close
//   GET  /api/leaderboard         Scoreboard: addresses by payout share and score
//   GET  /api/rounds/:r/receipt   SignedReceiptBody: the round's signed score receipt
//   GET  /api/rounds/:r/submissions  the round's signed frames (round archive, binary)
//   GET  /api/rounds/:r/state     GauntletState: the state round r started from
//   GET  /api/checkpoint?version=0  θ(0), kept forever (rebuild any version with /api/updates)
//   GET  /api/health              HealthBody {ok: true}
//   GET  /api/sample              SampleBody: what the current model writes (sample-writer.ts)
//   GET  /api/model.json          ModelCard: architecture, version, hash (model-files.ts)
//   GET  /api/model.safetensors   θ(v) as safetensors; ETag = "modelHash"
//   GET  /api/model.onnx          θ(v) as an ONNX model; ETag = "modelHash"
//   WS   /api/events              PushEvent: round-opened, round-closed, stats
//   GET  /metrics                 Prometheus text exposition (metrics.ts; docs/deploy.md)
//   GET  /*                       the built app (static-files.ts: the precompressed variant the
//                                 request's Accept-Encoding allows, Vary: Accept-Encoding);
//                                 unknown paths without an extension get index.html
// Every JSON body is a type of src/protocol/api.ts, where the clients' parsers live.
//
// No request can reach the process: every request, whatever its target or
// method, runs inside one error boundary (handleRequest → answerError) that
// answers a typed error body; malformed HTTP (Node's parser, timeouts) is
// answered the same way from 'clientError'; every socket — HTTP, upgraded,
// WebSocket — has an 'error' listener from the moment it exists, and a refused
// socket is destroyed once its answer is flushed (or when it stops moving),
// never left half-open. Resource bounds (config.ts ServerLimits, docs/relay.md)
// are applied before any work: connections, submission bodies in flight and
// push channels per address and in total; request rates per address before a
// body is read; timeouts for headers, bodies and silent sockets.
//
// close() (SIGTERM in main.ts) refuses new requests, lets in-flight ones finish
// for shutdownGraceMs, then destroys every socket that is still open and stops
// the relay — it cannot be held up by any client.
//
// TLS: with a certificate and key (tls.ts) the same server is node:https and
// the push channel wss; a connection refused before its handshake is closed
// (there is no HTTP to answer on yet). Without them, put a reverse proxy in
// front and set trustProxy (docs/demo.md).
//
// Leaves out: auth beyond signatures, HTTP/2.
import { createReadStream } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { BUNDLE_FORMAT, isValidAddress, maxSubmissionBytes, ProtocolError, type HealthBody, type PushEvent } from '../protocol/index.ts';
import { ConcurrencyLimit, type AdmissionRefusal } from './admission.ts';
import { errorResponse, RelayError } from './errors.ts';
import { APP_HEADERS, apiHeaders, PREFLIGHT_HEADERS } from './http-headers.ts';
import { silentLogger, type Logger } from './log.ts';
import { routeLabel } from './metrics.ts';
import { RateLimiter } from './rate-limit.ts';
import { ModelFiles, type CurrentModel } from './model-files.ts';
import type { Relay } from './relay.ts';
import { SampleWriter } from './sample-writer.ts';
import { findStaticFile } from './static-files.ts';
import type { TlsPair } from './tls.ts';

export interface RelayServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The built app (vite build output); null serves the API only. */
  distDir: string | null;
  /** Certificate and key (PEM, checked by tls.ts loadTls): serve https and wss; null: plain http. */
  tls?: TlsPair | null;
  logger?: Logger;
}

export interface RelayServer {
  readonly url: string;
  readonly port: number;
  readonly relay: Relay;
  /** Refuses new work, gives in-flight requests shutdownGraceMs, destroys every socket, then stops the relay. */
  close(): Promise<void>;
}


/** Static files at least this large count against the bulk-read rate (training data, wasm). */
const BULK_FILE_BYTES = 1024 * 1024;
/** A refused socket whose answer does not flush (the client stopped reading) is destroyed after this. */
const REFUSAL_FLUSH_MS = 5_000;
/** How long a push client we closed has to answer the close frame before its socket is destroyed. */
const CLOSE_HANDSHAKE_MS = 1_000;
/** Retry-After for a refusal at a total limit: the slot frees up when someone else's upload ends. */
const BUSY_RETRY_SECONDS = 2;
/** The one host every request target is resolved against: the Host header never routes anything. */
const BASE = 'http://relay.invalid';

const noop = () => {};

/**
 * The URL of a request target (RFC 9112 §3.2): origin-form ("/path?query",
 * resolved against a fixed base, so "//x" is the path "//x", not a host) or
 * absolute-form ("http://host/path", of which only path and query count).
 * The asterisk-form, authority-form and anything else are 'bad-request'.
 */
export function parseTarget(target: string | undefined): URL {
  try {
    if (target?.startsWith('/')) return new URL(BASE + target);
    if (target && /^https?:\/\//i.test(target)) {
      const absolute = new URL(target);
      return new URL(BASE + absolute.pathname + absolute.search);
    }
  } catch {
    // Falls through to the typed refusal below.
  }
  throw new RelayError('bad-request', 'the request target must be a path ("/…") or an absolute http URL');
}

/** A whole HTTP/1.1 error answer as bytes, for sockets no ServerResponse owns (malformed requests, upgrades). */
function rawErrorAnswer(error: unknown): string {
  const { status, body, retryAfter } = errorResponse(error);
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    ...apiHeaders('*', undefined),
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    Connection: 'close',
  };
  if (retryAfter !== undefined) headers['Retry-After'] = retryAfter;
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${text}`;
}

/** Answers `error` on a bare socket and destroys it once flushed — or after REFUSAL_FLUSH_MS if the client stops reading. */
function refuseSocket(socket: Duplex, error: unknown): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), REFUSAL_FLUSH_MS);
  timer.unref();
  socket.end(rawErrorAnswer(error), () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/** The typed error for a refusal by a ConcurrencyLimit. */
function admissionError(refusal: AdmissionRefusal, what: string): RelayError {
  return refusal === 'per-address'
    ? new RelayError('rate-limited', `too many ${what} from this address at once; retry in 1 s`, 1)
    : new RelayError('unavailable', `the relay holds as many ${what} as it allows; retry in ${BUSY_RETRY_SECONDS} s`, BUSY_RETRY_SECONDS);
}

/** The typed error for a failure Node's HTTP parser or timers report on a connection ('clientError'). */
function clientErrorFor(error: NodeJS.ErrnoException): RelayError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RelayError('timeout', 'the request did not arrive in time');
    case 'HPE_HEADER_OVERFLOW':
      return new RelayError('headers-too-large', 'the request line and headers exceed this relay\'s limit');
    default:
      return new RelayError('bad-request', `malformed HTTP request (${error.code ?? 'parse error'})`);
  }
}

export async function startRelayServer(relay: Relay, options: RelayServerOptions): Promise<RelayServer> {
  const logger = options.logger ?? silentLogger();
  const { metrics } = relay;
  /** Counts a response body's bytes for /metrics, by route. */
  const sent = (req: IncomingMessage, bytes: number) => {
    if (req.method !== 'HEAD') metrics.bytesOut.inc({ route: routeLabel((req.url ?? '/').split('?')[0]) }, bytes);
  };
  const distDir = options.distDir ? resolve(options.distDir) : null;
  const { limits, corsOrigins } = relay.options;
  const bodyLimit = maxSubmissionBytes(relay.options.maxPayloadBytes);

  const connections = new ConcurrencyLimit(relay.options.trustProxy ? Infinity : limits.connectionsPerIp, limits.maxConnections);
  const uploads = new ConcurrencyLimit(limits.uploadsPerIp, limits.maxUploads);
  const pushChannels = new ConcurrencyLimit(limits.webSocketsPerIp, limits.maxWebSockets);
  const submissionRate = new RateLimiter(relay.options.ipRateLimit);
  const apiReadRate = new RateLimiter(limits.apiReadRateLimit);
  const bulkReadRate = new RateLimiter(limits.bulkReadRateLimit);

  /** Every open socket (HTTP and upgraded), so close() can destroy what is left. */
  const openSockets = new Set<Duplex>();
  /** The answer each socket's current request is waiting for, so a timeout is answered through it. */
  const pendingAnswers = new WeakMap<Duplex, ServerResponse>();
  /** An upload's slot, to free before a timeout's answer goes out (the client may retry at once). */
  const uploadSlots = new WeakMap<ServerResponse, () => void>();
  /**
   * Answers a socket still owes to requests pipelined before an upgrade or a
   * CONNECT. Node hands such a socket over at once; whatever is written to it
   * must wait until those answers are out, or they are lost and the client
   * pairs its requests with the wrong answers.
   */
  const answersOwed = new WeakMap<Duplex, Set<ServerResponse>>();
  const whenAnswered = new WeakMap<Duplex, () => void>();
  const afterOwedAnswers = (socket: Duplex, then: () => void) => {
    const owed = answersOwed.get(socket);
    if (!owed || owed.size === 0) return then();
    // Owed answers that never finish (a client that stops reading) do not keep the socket.
    const timer = setTimeout(() => socket.destroy(), limits.requestTimeoutMs + REFUSAL_FLUSH_MS);
    timer.unref();
    whenAnswered.set(socket, () => {
      clearTimeout(timer);
      then();
    });
    // Node took its own 'drain' listener off the handed-over socket; an owed answer
    // larger than the socket's buffer (a checkpoint) would wait for it forever.
    socket.on('drain', () => {
      for (const res of owed) if (res.writableNeedDrain) res.emit('drain');
    });
  };
  let inFlight = 0;
  let onIdle: (() => void) | null = null;
  let stopping = false;

  /** θ as the relay holds it now (replaced on every close, never mutated). */
  const currentModel = (): CurrentModel => {
    const { version, modelHash, bytes } = relay.checkpoint();
    return { version, modelHash, params: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
  };
  const modelFiles = new ModelFiles(relay.config, currentModel);
  const samples = new SampleWriter(relay.config.model, currentModel);

  // ------------------------------------------------------------- responses

  const sendJson = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    sent(req, Buffer.byteLength(text));
    res.writeHead(status, {
      ...apiHeaders(corsOrigins, req.headers.origin),
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  /** The one place a request's failure becomes its answer. */
  const answerError = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    if (res.headersSent) {
      // Part of a success was already sent: the only honest end is a cut connection.
      res.destroy();
      return;
    }
    const { status, body, retryAfter } = errorResponse(error);
    if (status >= 500 && status !== 503) logger.error({ err: error, status, code: body.error.code }, 'request failed');
    const headers: Record<string, string> = {};
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    // A body we did not read to its end cannot be skipped on a kept-alive connection.
    if (!req.complete || stopping) headers.Connection = 'close';
    sendJson(req, res, status, body, headers);
  };

  const sendBytes = (req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, headers: Record<string, string>) => {
    sent(req, bytes.length);
    res.writeHead(200, { ...apiHeaders(corsOrigins, req.headers.origin), 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, ...headers });
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };

  /** θ(version) in some format: ETag = the model hash (304 on If-None-Match), version and hash in headers. */
  const sendModelBytes = (req: IncomingMessage, res: ServerResponse, model: { version: number; modelHash: string }, bytes: Uint8Array, extra: Record<string, string> = {}) => {
    const etag = `"${model.modelHash}"`;
    const headers = { ETag: etag, 'Cache-Control': 'no-cache', 'X-Tessera-Model-Version': String(model.version), 'X-Tessera-Model-Hash': model.modelHash, ...extra };
    const match = req.headers['if-none-match'];
    if (match && match.split(',').some((tag) => tag.trim() === etag || tag.trim() === `W/${etag}`)) {
      res.writeHead(304, { ...apiHeaders(corsOrigins, req.headers.origin), ...headers });
      res.end();
      return;
    }
    sendBytes(req, res, bytes, headers);
  };

  const clientIp = (req: IncomingMessage): string => {
    if (relay.options.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return first.slice(0, 64);
    }
    return req.socket.remoteAddress ?? 'unknown';
  };

  /** 302 to object storage: the same bytes (verified by their content-addressed key and the hash the tab checks). */
  const redirect = (req: IncomingMessage, res: ServerResponse, location: string, headers: Record<string, string>) => {
    res.writeHead(302, { ...apiHeaders(corsOrigins, req.headers.origin), ...headers, Location: location, 'Content-Length': 0 });
    res.end();
  };

  const spend = (limiter: RateLimiter, ip: string, what: string) => {
    const wait = limiter.take(ip, Date.now());
    if (wait > 0) throw new RelayError('rate-limited', `too many ${what} from ${ip}; retry in ${wait} s`, wait);
  };

  // ------------------------------------------------------------------ routes

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, ip: string): Promise<void> => {
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const path = url.pathname;
    if (method === 'OPTIONS') {
      spend(apiReadRate, ip, 'requests');
      res.writeHead(204, { ...apiHeaders(corsOrigins, req.headers.origin), ...PREFLIGHT_HEADERS });
      res.end();
      return;
    }
    const ledgerMatch = /^\/api\/ledger\/([^/]+)$/.exec(path);
    const roundMatch = /^\/api\/rounds\/(\d{1,10})\/(receipt|submissions|state)$/.exec(path);
    const route = ledgerMatch ? '/api/ledger/:address' : roundMatch ? `/api/rounds/:round/${roundMatch[2]}` : path;
    const roundNumber = roundMatch ? Number(roundMatch[1]) : -1;
    if (route !== '/api/submissions' && !read) throw new RelayError('method-not-allowed', `${method} ${path}: use GET`);
    if (route === '/api/checkpoint' || route === '/api/updates' || route === '/api/model.safetensors' || route === '/api/model.onnx' || route === '/api/rounds/:round/submissions') {
      // The round archive holds every signed frame of a round: a bulk read like the checkpoint.
      spend(bulkReadRate, ip, 'checkpoint, update, model and round-archive downloads');
    }
    else if (route !== '/api/submissions') spend(apiReadRate, ip, 'requests');
    switch (route) {
      case '/api/health':
        return sendJson(req, res, 200, { ok: true } satisfies HealthBody);
      case '/api/run':
        return sendJson(req, res, 200, relay.runInfo());
      case '/api/round':
        return sendJson(req, res, 200, relay.roundStatus());
      case '/api/stats':
        return sendJson(req, res, 200, relay.stats());
      case '/api/sample':
        return sendJson(req, res, 200, await samples.sample());
      case '/api/model.json':
        return sendJson(req, res, 200, modelFiles.card(), { 'Cache-Control': 'no-cache' });
      case '/api/model.safetensors':
      case '/api/model.onnx': {
        const { model, bytes } = route === '/api/model.onnx' ? modelFiles.onnx() : modelFiles.safetensors();
        const name = `${relay.config.runId}-v${model.version}.${route === '/api/model.onnx' ? 'onnx' : 'safetensors'}`;
        return sendModelBytes(req, res, model, bytes, { 'Content-Disposition': `attachment; filename="${name}"` });
      }
      case '/api/checkpoint': {
        const asked = url.searchParams.get('version');
        if (asked !== null) {
          if (asked !== '0') throw new RelayError('bad-request', 'only ?version=0 (θ(0)) is kept; rebuild other versions with /api/updates');
          return sendBytes(req, res, await relay.genesisCheckpoint(), { 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Tessera-Model-Version': '0' });
        }
        const { version, modelHash, bytes } = relay.checkpoint();
        const etag = `"${modelHash}"`;
        const match = req.headers['if-none-match'];
        const notModified = match?.split(',').some((tag) => tag.trim() === etag || tag.trim() === `W/${etag}`);
        const location = notModified ? null : await relay.checkpointUrl();
        if (location) return redirect(req, res, location, { ETag: etag, 'Cache-Control': 'no-cache', 'X-Tessera-Model-Version': String(version), 'X-Tessera-Model-Hash': modelHash });
        return sendModelBytes(req, res, { version, modelHash }, bytes);
      }
      case '/api/updates': {
        const sinceText = url.searchParams.get('since');
        if (sinceText === null || !/^\d{1,10}$/.test(sinceText)) throw new RelayError('bad-request', 'give ?since=<model version>&format=' + BUNDLE_FORMAT);
        const format = url.searchParams.get('format');
        if (format !== String(BUNDLE_FORMAT)) {
          throw new RelayError(
            'unsupported-format',
            `this relay serves catch-up bundles of format ${BUNDLE_FORMAT} (2-bit aggregates); ${format === null ? 'this tab asked for format 1' : `format ${format} was asked for`}: reload the page or update Tessera`,
          );
        }
        const location = await relay.updatesUrl(Number(sinceText));
        if (location) return redirect(req, res, location, { 'Cache-Control': 'no-cache', 'X-Tessera-Latest-Version': String(Number(sinceText) + 1) });
        const { bundle, latest } = await relay.updatesSince(Number(sinceText));
        return sendBytes(req, res, bundle, { 'Cache-Control': 'no-cache', 'X-Tessera-Latest-Version': String(latest) });
      }
      case '/api/submissions': {
        if (method !== 'POST') throw new RelayError('method-not-allowed', 'POST a submission frame (application/octet-stream)');
        // Both bounds before a single body byte is read.
        spend(submissionRate, ip, 'submissions');
        const release = uploads.acquire(ip);
        if (typeof release === 'string') throw admissionError(release, 'uploads');
        uploadSlots.set(res, release);
        let ack;
        try {
          const frame = await readBody(req, bodyLimit);
          metrics.bytesIn.inc({ route: 'submissions' }, frame.length);
          ack = await relay.submit(frame);
        } catch (error) {
          metrics.refused.inc({ code: errorResponse(error).body.error.code });
          throw error;
        } finally {
          release();
        }
        metrics.accepted.inc();
        return sendJson(req, res, 200, ack);
      }
      case '/api/ledger':
        return sendJson(req, res, 200, relay.leaderboard());
      case '/api/weights': {
        const roundText = url.searchParams.get('round');
        if (roundText !== null && !/^\d{1,10}$/.test(roundText)) throw new RelayError('bad-request', 'give ?round=<closed round>');
        const weights = await relay.weights(roundText === null ? undefined : Number(roundText));
        if (!weights) throw new RelayError('not-found', 'no payout vector yet: no round has closed with Gauntlet');
        return sendJson(req, res, 200, weights);
      }
      case '/api/leaderboard':
        return sendJson(req, res, 200, relay.scoreboard());
      case '/api/rounds/:round/receipt':
        return sendJson(req, res, 200, await relay.receipt(roundNumber), { 'Cache-Control': 'public, max-age=31536000, immutable' });
      case '/api/rounds/:round/state':
        return sendJson(req, res, 200, await relay.stateBefore(roundNumber));
      case '/api/rounds/:round/submissions':
        return sendBytes(req, res, await relay.roundArchive(roundNumber), { 'Cache-Control': 'public, max-age=31536000, immutable' });
      case '/api/ledger/:address': {
        let address = '';
        try {
          address = decodeURIComponent(ledgerMatch![1]);
        } catch {
          // Malformed percent-encoding: not an address either.
        }
        if (!isValidAddress(address)) throw new RelayError('bad-request', 'not an SS58 prefix-42 address');
        return sendJson(req, res, 200, relay.ledgerFor(address));
      }
      default:
        throw new RelayError('not-found', `no API route ${path}`);
    }
  };

  /** GET /metrics: the Prometheus text exposition (metrics.ts), under the API's read rate. */
  const serveMetrics = async (req: IncomingMessage, res: ServerResponse, ip: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new RelayError('method-not-allowed', `${req.method} /metrics: use GET`);
    spend(apiReadRate, ip, 'requests');
    const { text, contentType } = await metrics.exposition();
    sent(req, Buffer.byteLength(text));
    res.writeHead(200, { ...apiHeaders(corsOrigins, req.headers.origin), 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };

  const serveStatic = async (req: IncomingMessage, res: ServerResponse, url: URL, ip: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new RelayError('method-not-allowed', `${req.method} ${url.pathname}: the app takes GET and HEAD`);
    if (!distDir) throw new RelayError('not-found', 'this relay serves no app (started without a dist directory)');
    let file;
    try {
      file = await findStaticFile(distDir, url.pathname, req.headers['accept-encoding']);
    } catch {
      throw new RelayError('bad-request', 'malformed percent-encoding in the path');
    }
    if (!file) throw new RelayError('not-found', url.pathname === '/' ? 'no built app here: run `npm run build`' : 'no such file');
    if (file.size >= BULK_FILE_BYTES) spend(bulkReadRate, ip, 'large downloads');
    const fileHeaders: Record<string, string> = {
      ...APP_HEADERS,
      'Content-Type': file.contentType,
      'Cache-Control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ETag: file.etag,
    };
    if (file.encoding !== 'identity') fileHeaders['Content-Encoding'] = file.encoding;
    if (file.negotiated) fileHeaders.Vary = 'Accept-Encoding';
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, fileHeaders).end();
      return;
    }
    res.writeHead(200, { ...fileHeaders, 'Content-Length': file.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    sent(req, file.size);
    createReadStream(file.path)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  /** The error boundary: everything a request can do happens inside here. */
  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (stopping) throw new RelayError('unavailable', 'the relay is shutting down; retry shortly', BUSY_RETRY_SECONDS);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (checked here rather than by Node, for a typed answer).
    if (req.httpVersion === '1.1' && req.headers.host === undefined) throw new RelayError('bad-request', 'an HTTP/1.1 request needs a Host header');
    const url = parseTarget(req.url);
    const ip = clientIp(req);
    if (url.pathname.startsWith('/api/')) await api(req, res, url, ip);
    else if (url.pathname === '/metrics') await serveMetrics(req, res, ip);
    else await serveStatic(req, res, url, ip);
  };

  const serverOptions: ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    requireHostHeader: false, // handleRequest refuses it, with a typed body
    // Node checks the two timeouts above on this interval (default 30 s).
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight += 1;
    const owed = answersOwed.get(socket) ?? new Set<ServerResponse>();
    owed.add(res);
    answersOwed.set(socket, owed);
    pendingAnswers.set(socket, res);
    req.on('error', noop);
    res.on('error', noop);
    res.once('close', () => {
      inFlight -= 1;
      if (pendingAnswers.get(socket) === res) pendingAnswers.delete(socket);
      owed.delete(res);
      if (owed.size === 0) {
        const then = whenAnswered.get(socket);
        whenAnswered.delete(socket);
        then?.();
      }
      if (inFlight === 0) onIdle?.();
    });
    handleRequest(req, res).catch((error: unknown) => {
      try {
        answerError(req, res, error);
      } catch {
        res.destroy();
      }
    });
  };
  const tls = options.tls ?? null;
  const server: Server = tls ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, onRequest) : createServer(serverOptions, onRequest);
  // A failed TLS handshake (a client that does not trust the certificate, a scanner) ends that connection only.
  server.on('tlsClientError', (_error: Error, socket: Duplex) => socket.destroy());
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.timeout = limits.socketIdleTimeoutMs;
  server.on('timeout', (socket: Socket) => socket.destroy());

  server.on('connection', (socket: Socket) => {
    socket.on('error', noop); // Node's parser reports through 'clientError'; this keeps a late error from being unhandled
    const ip = socket.remoteAddress ?? 'unknown';
    const release = connections.acquire(ip);
    if (typeof release === 'string' || stopping) {
      // Before a TLS handshake there is no HTTP to answer with: the connection is closed.
      if (tls) {
        socket.destroy();
        return;
      }
      refuseSocket(socket, stopping ? new RelayError('unavailable', 'the relay is shutting down', BUSY_RETRY_SECONDS) : admissionError(release as AdmissionRefusal, 'connections'));
      return;
    }
    openSockets.add(socket);
    socket.once('close', () => {
      release();
      openSockets.delete(socket);
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const pending = pendingAnswers.get(socket);
    if (pending) {
      // A request is being handled (its body was cut short or timed out): answer through it, then drop the socket.
      uploadSlots.get(pending)?.();
      if (!pending.headersSent) {
        const { status, body, retryAfter } = errorResponse(clientErrorFor(error));
        const text = JSON.stringify(body);
        pending.writeHead(status, {
          ...apiHeaders(corsOrigins, undefined),
          'Content-Type': 'application/json; charset=utf-8',
          'Cache-Control': 'no-store',
          'Content-Length': Buffer.byteLength(text),
          Connection: 'close',
          ...(retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) }),
        });
        pending.end(text);
      }
      const timer = setTimeout(() => socket.destroy(), REFUSAL_FLUSH_MS);
      timer.unref();
      pending.once('finish', () => socket.destroy());
      return;
    }
    refuseSocket(socket, clientErrorFor(error));
  });

  // CONNECT has no place here (not a proxy); Node would otherwise drop the socket without an answer.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', noop);
    afterOwedAnswers(socket, () => refuseSocket(socket, new RelayError('method-not-allowed', 'CONNECT: this relay is not a proxy')));
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    answerError(req, res, new RelayError('bad-request', `Expect: ${req.headers.expect}: only 100-continue is understood`));
  });

  // ------------------------------------------------------------------- push

  const sockets = new WebSocketServer({ noServer: true, maxPayload: limits.webSocketMaxMessageBytes, perMessageDeflate: false });
  sockets.on('error', (error) => logger.warn({ reason: error.message }, 'push channel error'));
  // ws's own handshake refusals (bad key, version, subprotocol) come here, to be answered as typed errors.
  sockets.on('wsClientError', (error: Error, socket: Duplex) => refuseSocket(socket, new RelayError('bad-request', `WebSocket handshake: ${error.message}`)));
  const alive = new WeakMap<WebSocket, boolean>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    afterOwedAnswers(socket, () => upgrade(req, socket, head));
  });

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (stopping) throw new RelayError('unavailable', 'the relay is shutting down', BUSY_RETRY_SECONDS);
      const url = parseTarget(req.url);
      if (url.pathname !== '/api/events') throw new RelayError('not-found', `no WebSocket at ${url.pathname}; the push channel is /api/events`);
      const release = pushChannels.acquire(clientIp(req));
      if (typeof release === 'string') throw admissionError(release, 'push channels');
      socket.once('close', release);
      sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
    } catch (error) {
      refuseSocket(socket, error);
    }
  };

  sockets.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('error', () => ws.terminate());
    ws.on('pong', () => alive.set(ws, true));
    // The channel is one-way: a client that talks is not one of ours. It gets a close frame
    // (1008) and CLOSE_HANDSHAKE_MS to answer it, not the library's 30 s.
    ws.once('message', () => {
      ws.close(1008, 'this channel is one-way');
      setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
    });
    ws.on('close', () => relay.setPeers(sockets.clients.size));
    ws.send(JSON.stringify({ type: 'round-opened', state: relay.roundState() } satisfies PushEvent));
    relay.setPeers(sockets.clients.size);
    ws.send(JSON.stringify(relay.statsEvent()));
  });
  const unsubscribe = relay.subscribe((event) => {
    const text = JSON.stringify(event);
    let receivers = 0;
    for (const ws of sockets.clients) {
      // A client that cannot keep up misses stats rather than growing our memory; it polls /api/round anyway.
      if (ws.readyState === ws.OPEN && ws.bufferedAmount < 1 << 20) {
        ws.send(text);
        receivers += 1;
      }
    }
    metrics.bytesOut.inc({ route: 'events' }, receivers * Buffer.byteLength(text));
  });
  const heartbeat = setInterval(() => {
    for (const ws of sockets.clients) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, relay.options.heartbeatMs);

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  server.on('error', (error) => logger.warn({ reason: error.message }, 'server error'));
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed: Promise<void> | null = null;

  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}/`,
    port,
    relay,
    close() {
      closed ??= (async () => {
        stopping = true;
        clearInterval(heartbeat);
        unsubscribe();
        const listenerClosed = new Promise<void>((done) => server.close(() => done()));
        for (const ws of sockets.clients) ws.close(1001, 'the relay is shutting down');
        server.closeIdleConnections();
        // In-flight requests (a submission's durable write) finish, or the grace runs out.
        if (inFlight > 0) {
          await new Promise<void>((done) => {
            const timer = setTimeout(done, limits.shutdownGraceMs);
            onIdle = () => {
              clearTimeout(timer);
              done();
            };
          });
        }
        for (const ws of sockets.clients) ws.terminate();
        for (const socket of openSockets) socket.destroy();
        sockets.close();
        await listenerClosed;
        await relay.stop();
      })();
      return closed;
    },
  };
}

/**
 * The request body, at most `limit` bytes. A larger body is refused with
 * 'frame-oversize' after reading (and discarding) it up to twice the limit,
 * so the client gets the answer instead of a reset; beyond that the
 * connection is dropped. Memory: at most `limit` bytes per call.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolvePromise, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    const oversize = () => new ProtocolError('frame-oversize', `the body exceeds this relay's limit of ${limit} bytes`);
    if (declared > 2 * limit) {
      reject(oversize());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) chunks.push(chunk);
      else if (total > 2 * limit) req.destroy();
    });
    req.on('end', () => {
      ended = true;
      if (total > limit) return reject(oversize());
      const body = Buffer.concat(chunks, total);
      resolvePromise(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    });
    req.on('close', () => {
      if (ended) return;
      reject(total > limit ? oversize() : new RelayError('bad-request', 'the client closed the connection before the body ended'));
    });
  });
}
