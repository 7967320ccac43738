// HTTP API, push channel and static app server around one Relay: node:http
// plus `ws` (the WebSocket library most of npm uses; already in the tree via
// @polkadot/api) rather than a framework, so the whole surface is one route
// switch a reader can scan. One origin serves the app (dist/, with the COOP/COEP
// headers that cross-origin isolation needs for threaded wasm), the API and
// the events, so a tab never needs CORS — though the API allows it, for a dev
// server on another port.
//
//   GET  /api/run                 SwarmRunInfo (RunInfo + swarm spec)
//   GET  /api/round               RoundStatus (RoundState + openedAt, submissions, quorum, closing)
//   GET  /api/checkpoint          θ(v) float32 LE; ETag = "modelHash", 304 on If-None-Match
//   GET  /api/updates?since=v     catch-up bundle (protocol/bundle.ts), ≤ maxCatchUp entries
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
//   WS   /api/events              PushEvent: round-opened, round-closed, stats
//   GET  /*                       the built app; unknown paths without an extension get index.html
// Every JSON body is a type of src/protocol/api.ts, where the clients' parsers live.
//
// Leaves out: TLS (put a reverse proxy in front, and set trustProxy), auth
// beyond signatures, rate limits on reads.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { isValidAddress, maxSubmissionBytes, ProtocolError, type HealthBody, type PushEvent } from '../protocol/index.ts';
import { errorResponse, RelayError } from './errors.ts';
import type { Relay } from './relay.ts';

export interface RelayServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The built app (vite build output); null serves the API only. */
  distDir: string | null;
  log?: (message: string) => void;
}

export interface RelayServer {
  readonly url: string;
  readonly port: number;
  readonly relay: Relay;
  /** Stops accepting, drops connections, then stops the relay. */
  close(): Promise<void>;
}

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

const API_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, X-Tessera-Model-Version, X-Tessera-Model-Hash, X-Tessera-Latest-Version, Retry-After',
  'Cross-Origin-Resource-Policy': 'cross-origin',
} as const;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.bin': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.wgsl': 'text/plain; charset=utf-8',
};

export async function startRelayServer(relay: Relay, options: RelayServerOptions): Promise<RelayServer> {
  const log = options.log ?? (() => {});
  const distDir = options.distDir ? resolve(options.distDir) : null;
  const bodyLimit = maxSubmissionBytes(relay.options.maxPayloadBytes);

  // ------------------------------------------------------------- responses

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...ISOLATION_HEADERS, ...API_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const sendError = (res: ServerResponse, error: unknown, close = false) => {
    const { status, body, retryAfter } = errorResponse(error);
    if (status >= 500) log(`${status} ${body.error.code}: ${(error as Error)?.stack ?? String(error)}`);
    const headers: Record<string, string> = {};
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    if (close) headers.Connection = 'close';
    sendJson(res, status, body, headers);
  };

  const sendBytes = (res: ServerResponse, bytes: Uint8Array, headers: Record<string, string>, head: boolean) => {
    res.writeHead(200, { ...ISOLATION_HEADERS, ...API_HEADERS, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, ...headers });
    res.end(head ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };

  const clientIp = (req: IncomingMessage): string => {
    if (relay.options.trustProxy) {
      const forwarded = req.headers['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  };

  // ------------------------------------------------------------------ routes

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...API_HEADERS, 'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS', 'Access-Control-Allow-Headers': 'Content-Type, If-None-Match', 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    const path = url.pathname;
    const ledgerMatch = /^\/api\/ledger\/([^/]+)$/.exec(path);
    const roundMatch = /^\/api\/rounds\/(\d{1,10})\/(receipt|submissions|state)$/.exec(path);
    const route = ledgerMatch ? '/api/ledger/:address' : roundMatch ? `/api/rounds/:round/${roundMatch[2]}` : path;
    const roundNumber = roundMatch ? Number(roundMatch[1]) : -1;
    if (route !== '/api/submissions' && !read) throw new RelayError('method-not-allowed', `${method} ${path}: use GET`);
    switch (route) {
      case '/api/health':
        return sendJson(res, 200, { ok: true } satisfies HealthBody);
      case '/api/run':
        return sendJson(res, 200, relay.runInfo());
      case '/api/round':
        return sendJson(res, 200, relay.roundStatus());
      case '/api/stats':
        return sendJson(res, 200, relay.stats());
      case '/api/checkpoint': {
        const asked = url.searchParams.get('version');
        if (asked !== null) {
          if (asked !== '0') throw new RelayError('bad-request', 'only ?version=0 (θ(0)) is kept; rebuild other versions with /api/updates');
          return sendBytes(res, await relay.genesisCheckpoint(), { 'Cache-Control': 'public, max-age=31536000, immutable', 'X-Tessera-Model-Version': '0' }, method === 'HEAD');
        }
        const { version, modelHash, bytes } = relay.checkpoint();
        const etag = `"${modelHash}"`;
        const headers = { ETag: etag, 'Cache-Control': 'no-cache', 'X-Tessera-Model-Version': String(version), 'X-Tessera-Model-Hash': modelHash };
        const match = req.headers['if-none-match'];
        if (match && match.split(',').some((tag) => tag.trim() === etag || tag.trim() === `W/${etag}`)) {
          res.writeHead(304, { ...ISOLATION_HEADERS, ...API_HEADERS, ...headers });
          res.end();
          return;
        }
        return sendBytes(res, bytes, headers, method === 'HEAD');
      }
      case '/api/updates': {
        const sinceText = url.searchParams.get('since');
        if (sinceText === null || !/^\d{1,10}$/.test(sinceText)) throw new RelayError('bad-request', 'give ?since=<model version>');
        const { bundle, latest } = await relay.updatesSince(Number(sinceText));
        return sendBytes(res, bundle, { 'Cache-Control': 'no-cache', 'X-Tessera-Latest-Version': String(latest) }, method === 'HEAD');
      }
      case '/api/submissions': {
        if (method !== 'POST') throw new RelayError('method-not-allowed', 'POST a submission frame (application/octet-stream)');
        const frame = await readBody(req, bodyLimit);
        const ack = await relay.submit(frame, clientIp(req));
        return sendJson(res, 200, ack);
      }
      case '/api/ledger':
        return sendJson(res, 200, relay.leaderboard());
      case '/api/weights': {
        const roundText = url.searchParams.get('round');
        if (roundText !== null && !/^\d{1,10}$/.test(roundText)) throw new RelayError('bad-request', 'give ?round=<closed round>');
        const weights = await relay.weights(roundText === null ? undefined : Number(roundText));
        if (!weights) throw new RelayError('not-found', 'no payout vector yet: no round has closed with Gauntlet');
        return sendJson(res, 200, weights);
      }
      case '/api/leaderboard':
        return sendJson(res, 200, relay.scoreboard());
      case '/api/rounds/:round/receipt':
        return sendJson(res, 200, await relay.receipt(roundNumber), { 'Cache-Control': 'public, max-age=31536000, immutable' });
      case '/api/rounds/:round/state':
        return sendJson(res, 200, await relay.stateBefore(roundNumber));
      case '/api/rounds/:round/submissions':
        return sendBytes(res, await relay.roundArchive(roundNumber), { 'Cache-Control': 'public, max-age=31536000, immutable' }, method === 'HEAD');
      case '/api/ledger/:address': {
        let address = '';
        try {
          address = decodeURIComponent(ledgerMatch![1]);
        } catch {
          // Malformed percent-encoding: not an address either.
        }
        if (!isValidAddress(address)) throw new RelayError('bad-request', 'not an SS58 prefix-42 address');
        return sendJson(res, 200, relay.ledgerFor(address));
      }
      default:
        throw new RelayError('not-found', `no API route ${path}`);
    }
  };

  const serveStatic = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const headers = { ...ISOLATION_HEADERS, 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    if (!distDir) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('This relay serves no app (started without a dist directory).\n');
      return;
    }
    let relative: string;
    try {
      relative = normalize(decodeURIComponent(url.pathname));
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    let file = join(distDir, relative);
    // normalize() resolved any "..": anything outside distDir is refused.
    if (file !== distDir && !file.startsWith(distDir + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => null);
    }
    if (!info && extname(relative) === '') {
      file = join(distDir, 'index.html'); // client-side routes
      info = await stat(file).catch(() => null);
    }
    if (!info || !info.isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(distDir && relative === '/' ? 'No built app here: run `npm run build`.\n' : 'Not found\n');
      return;
    }
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const immutable = relative.startsWith(`${sep}assets${sep}`);
    const fileHeaders = {
      ...headers,
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ETag: etag,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, fileHeaders).end();
      return;
    }
    res.writeHead(200, { ...fileHeaders, 'Content-Length': info.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const handler = url.pathname.startsWith('/api/') ? api : serveStatic;
    handler(req, res, url).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendError(res, error, error instanceof ProtocolError && error.code === 'frame-oversize');
    });
  });

  // ------------------------------------------------------------------- push

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const alive = new WeakMap<WebSocket, boolean>();
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
    if (path !== '/api/events') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });
  sockets.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    // The channel is one-way; anything a client sends is ignored.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => relay.setPeers(sockets.clients.size));
    ws.send(JSON.stringify({ type: 'round-opened', state: relay.roundState() } satisfies PushEvent));
    relay.setPeers(sockets.clients.size);
    ws.send(JSON.stringify(relay.statsEvent()));
  });
  const unsubscribe = relay.subscribe((event) => {
    const text = JSON.stringify(event);
    for (const ws of sockets.clients) {
      // A client that cannot keep up misses stats rather than growing our memory; it polls /api/round anyway.
      if (ws.readyState === ws.OPEN && ws.bufferedAmount < 1 << 20) ws.send(text);
    }
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
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed: Promise<void> | null = null;

  return {
    url: `http://${host}:${port}/`,
    port,
    relay,
    close() {
      closed ??= (async () => {
        clearInterval(heartbeat);
        unsubscribe();
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        const stopped = new Promise<void>((done) => server.close(() => done()));
        server.closeAllConnections();
        await stopped;
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
 * connection is dropped.
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
