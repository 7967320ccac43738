// The relay's outer edge: no request, socket or signal handling can take it
// down, and no client holds more of it than the limits allow.
//   - as a child process (so an exit is seen as an exit): odd request targets
//     ("//", "*", absolute-form, …) and WebSocket upgrades to any path, reset
//     by the client, leave it running and are answered with typed errors;
//     SIGTERM stops it whatever sockets are open (idle, half-sent headers, a
//     slow upload, a half-open refused upgrade, a push channel, a silent TCP
//     connection, a client that stops reading), and what it acknowledged is
//     still there after a restart;
//   - in this process, with small limits: uploads per address and in total are
//     refused before any body byte is read, rates are applied before the body,
//     a stalled body or header times out with a typed answer, oversized and
//     malformed HTTP is answered typed, push channels are capped per address and
//     in total and a talking or oversized client is disconnected, and the big
//     reads are metered per address.
// Clients play many addresses by binding to 127.0.0.x source addresses.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { RelayServer } from '../../src/relay/server.ts';
import { exchange, hasAnswers, parseResponses, type WireResponse } from '../support/http-wire.ts';
import { answerProblem, codeOf } from '../support/relay-answers.ts';
import {
  getJson,
  post,
  removeTempDirs,
  signedFrame,
  spawnTrackedRelay,
  killSpawnedRelays,
  startTestRelay,
  tempDir,
  updatePayload,
  walletFor,
  type RelayProcess,
} from './relay-fixtures.ts';

beforeAll(async () => {
  await cryptoWaitReady();
});

afterEach(killSpawnedRelays);

afterAll(() => removeTempDirs());

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** One request on its own connection; resolves with every answer that came back. */
async function ask(port: number, request: string, options: { localAddress?: string; methods?: string[]; waitMs?: number } = {}): Promise<WireResponse[]> {
  const methods = options.methods ?? [request.split(' ')[0]];
  const result = await exchange({ port, localAddress: options.localAddress, steps: [{ write: request }], waitMs: options.waitMs ?? 5_000, doneWhen: hasAnswers(methods.length, methods) });
  const parsed = parseResponses(result.data, methods, result.closedByServer);
  expect(parsed.malformed, request.slice(0, 60)).toBeNull();
  return parsed.responses;
}

function expectTyped(responses: WireResponse[], code: string): void {
  expect(responses.length).toBeGreaterThanOrEqual(1);
  expect(answerProblem(responses[0])).toBeNull();
  expect(codeOf(responses[0])).toBe(code);
}

function alive(relay: RelayProcess): boolean {
  return relay.child.exitCode === null && relay.child.signalCode === null;
}

/** Resolves with the exit code, or 'still running' after `ms` (the test then fails on it). */
function exitWithin(relay: RelayProcess, ms: number): Promise<number | null | 'still running'> {
  return Promise.race([relay.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);
}

function tinyDist(): string {
  const dist = tempDir('dist');
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Tessera</title>');
  writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
  mkdirSync(join(dist, 'data'));
  writeFileSync(join(dist, 'data', 'big.bin'), Buffer.alloc(1_100_000, 7)); // larger than a socket's buffer
  return dist;
}

describe('relay process: requests cannot kill it', () => {
  it('answers every request target with the app, the API or a typed error, and keeps running', async () => {
    const relay = await spawnTrackedRelay(tempDir('targets'), ['--dist', tinyDist()]);
    const port = portOf(relay.url);
    const targets = ['//', '///', '//evil.example/api/run', '//api/health', '*', 'http://x/api/health', 'HTTPS://x:99/api/run?y', 'http://', 'x', '/\\evil', '/%', '/%00', '/api/ledger/%zz', '/api/updates?since=-1', '/' + 'a'.repeat(4000)];
    const seen: string[] = [];
    for (const target of targets) {
      for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE']) {
        const responses = await ask(port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
        expect(responses.length, `${method} ${target}`).toBe(1);
        expect(answerProblem(responses[0], method), `${method} ${target}`).toBeNull();
        seen.push(`${method} ${target.slice(0, 30)} → ${responses[0].status} ${codeOf(responses[0])}`);
      }
    }
    // Scheme-relative targets are paths here, never hosts.
    expect(codeOf((await ask(port, 'GET //api/health HTTP/1.1\r\nHost: x\r\n\r\n'))[0])).toBe('ok');
    expect(codeOf((await ask(port, 'GET * HTTP/1.1\r\nHost: x\r\n\r\n'))[0])).toBe('bad-request');
    // A large answer owed before a pipelined CONNECT still arrives whole (Node hands the socket over mid-answer).
    const big = await ask(port, 'GET /data/big.bin HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n', { methods: ['GET', 'CONNECT'], waitMs: 10_000 });
    expect(big.map((r) => [r.status, r.body.length])).toEqual([[200, 1_100_000], [405, big[1]?.body.length]]);
    expect(alive(relay)).toBe(true);
    expect(await getJson(relay.url, 'api/health')).toEqual({ ok: true });
    console.log(`${seen.length} odd requests answered; e.g. ${seen.filter((_, i) => i % 9 === 0).join('; ')}`);
  });

  it('survives upgrades to any path reset by the client, and answers bad handshakes with typed errors', async () => {
    const relay = await spawnTrackedRelay(tempDir('upgrades'));
    const port = portOf(relay.url);
    const upgrade = (path: string, key = 'dGhlIHNhbXBsZSBub25jZQ==', extra = '') =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
    // Reset right after the request, before the answer is read: the write of the refusal meets ECONNRESET.
    for (const path of ['/nope', '/', '//', '/api/run', '/api/events/x']) {
      for (let i = 0; i < 5; i++) await exchange({ port, steps: [{ write: upgrade(path) }, { reset: true }], waitMs: 0 });
    }
    // Reset after a completed upgrade, and during one.
    for (let i = 0; i < 5; i++) {
      await exchange({ port, steps: [{ write: upgrade('/api/events'), pauseMs: 50 }, { reset: true }], waitMs: 0 });
      await exchange({ port, steps: [{ write: upgrade('/api/events').slice(0, 40) }, { reset: true }], waitMs: 0 });
    }
    expectTyped(await ask(port, upgrade('/nope')), 'not-found');
    expectTyped(await ask(port, upgrade('/api/events', 'short')), 'bad-request');
    expectTyped(await ask(port, upgrade('/api/events', 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: a,,b\r\n')), 'bad-request');
    expectTyped(await ask(port, upgrade('/api/events').replace('Version: 13', 'Version: 99')), 'bad-request');
    expectTyped(await ask(port, upgrade('*')), 'bad-request');
    expectTyped(await ask(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 'method-not-allowed');
    const accepted = await ask(port, upgrade('/api/events'), { waitMs: 1_000 });
    expect(accepted[0].status).toBe(101);
    // Behind pipelined requests, an upgrade or a CONNECT is answered after them, in order (found by the fuzzer).
    const health = 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n';
    const connectAfter = await ask(port, health.repeat(3) + 'CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n', { methods: ['GET', 'GET', 'GET', 'CONNECT'] });
    expect(connectAfter.map((r) => r.status)).toEqual([200, 200, 200, 405]);
    const upgradeAfter = await ask(port, health + 'HEAD /api/run HTTP/1.1\r\nHost: x\r\n\r\n' + upgrade('/nope'), { methods: ['GET', 'HEAD', 'GET'] });
    expect(upgradeAfter.map((r) => r.status)).toEqual([200, 200, 404]);
    const eventsAfter = await ask(port, health + upgrade('/api/events'), { methods: ['GET', 'GET'], waitMs: 1_000 });
    expect(eventsAfter.map((r) => r.status)).toEqual([200, 101]);
    expect(alive(relay)).toBe(true);
    expect(await getJson(relay.url, 'api/health')).toEqual({ ok: true });
  });

  it('stops on SIGTERM whatever sockets are open, and keeps what it acknowledged', async () => {
    const dir = tempDir('sigterm');
    const relay = await spawnTrackedRelay(dir, ['--round-ms', '600000', '--quorum', '100']);
    const port = portOf(relay.url);
    const round = await getJson(relay.url, 'api/round');
    const wallet = walletFor(300);
    const frame = await signedFrame({ wallet, round: 0, version: 0, modelHash: round.modelHash, payload: updatePayload(300) });
    expect((await post(relay.url, frame)).status).toBe(200);

    // Every kind of socket a client can leave open, none of them ever finished by the client.
    const held = [
      // an idle keep-alive connection after one answer
      exchange({ port, steps: [{ write: 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n' }], waitMs: 120_000 }),
      // half-sent headers
      exchange({ port, steps: [{ write: 'GET /api/run HTTP/1.1\r\nHost: x\r\nX-Slow: ' }], waitMs: 120_000 }),
      // a submission upload stalled mid-body
      exchange({ port, steps: [{ write: `POST /api/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: ${frame.length}\r\n\r\n` }, { write: Buffer.from(frame.subarray(0, 100)) }], waitMs: 120_000 }),
      // a refused upgrade whose client never reads nor closes
      exchange({ port, steps: [{ write: 'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' }], waitMs: 120_000 }),
      // a TCP connection that never says anything
      exchange({ port, steps: [], waitMs: 120_000 }),
      // a client that asks for the checkpoint over and over and never reads
      exchange({ port, steps: [{ write: 'GET /api/checkpoint HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50) }], waitMs: 120_000 }),
    ];
    const socket = new WebSocket(relay.url.replace(/^http/, 'ws') + 'api/events');
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the server see every socket

    relay.child.kill('SIGTERM');
    // shutdownGraceMs (5 s) + the relay's own stop; a relay that waits on its clients never gets here.
    expect(await exitWithin(relay, 45_000)).toBe(0);
    expect(relay.output()).toMatch(/SIGTERM/);
    const outcomes = await Promise.all(held);
    for (const outcome of outcomes) {
      expect(outcome.closedByServer).toBe(true);
      const parsed = parseResponses(outcome.data, [], true);
      for (const response of parsed.responses) expect(answerProblem(response)).toBeNull();
    }
    socket.terminate();

    const again = await spawnTrackedRelay(dir);
    expect((await getJson(again.url, `api/ledger/${wallet.address}`)).entries.map((e: { round: number }) => e.round)).toEqual([0]);
    expect((await post(again.url, frame)).json.error.code).toBe('duplicate');
  });
});

describe('relay limits (small ones, in this process)', () => {
  let server: RelayServer;
  let port: number;
  let frame: Uint8Array;

  beforeAll(async () => {
    server = await startTestRelay(tempDir('limits'), {
      ipRateLimit: { burst: 1000, perSecond: 1000 },
      limits: {
        uploadsPerIp: 2,
        maxUploads: 3,
        headersTimeoutMs: 1_500,
        requestTimeoutMs: 2_500,
        maxHeaderBytes: 4_096,
        webSocketsPerIp: 2,
        maxWebSockets: 3,
        webSocketMaxMessageBytes: 1_024,
        bulkReadRateLimit: { burst: 2, perSecond: 0.001 },
        apiReadRateLimit: { burst: 5, perSecond: 0.001 },
      },
    });
    port = server.port;
    const round = await getJson(server.url, 'api/round');
    frame = await signedFrame({ wallet: walletFor(310), round: 0, version: 0, modelHash: round.modelHash, payload: updatePayload(310) });
  });

  afterAll(async () => {
    await server?.close();
  });

  const postHead = (length: number) => `POST /api/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

  it('refuses uploads beyond the per-address and total caps before reading a body byte, and times stalled ones out', async () => {
    // Three uploads that send their headers and 10 body bytes, then stall: two from .2 (its cap), one from .3 (the total).
    const stalled = ['127.0.0.2', '127.0.0.2', '127.0.0.3'].map((localAddress) =>
      exchange({ port, localAddress, steps: [{ write: postHead(frame.length) }, { write: Buffer.from(frame.subarray(0, 10)) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Headers only, no body at all: the answer must not wait for one.
    const perAddress = await exchange({ port, localAddress: '127.0.0.2', steps: [{ write: postHead(frame.length) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
    const total = await exchange({ port, localAddress: '127.0.0.4', steps: [{ write: postHead(frame.length) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
    const [perAddressAnswer] = parseResponses(perAddress.data, ['POST'], true).responses;
    const [totalAnswer] = parseResponses(total.data, ['POST'], true).responses;
    expectTyped([perAddressAnswer], 'rate-limited');
    expect(perAddressAnswer.headers['retry-after']).toBe('1');
    expectTyped([totalAnswer], 'unavailable');
    expect(Number(totalAnswer.headers['retry-after'])).toBeGreaterThan(0);
    // The stalled bodies time out (requestTimeoutMs), each with a typed answer.
    for (const outcome of await Promise.all(stalled)) expectTyped(parseResponses(outcome.data, ['POST'], true).responses, 'timeout');
    // Slots are free again: an honest upload from .2 goes through.
    const honest = await exchange({ port, localAddress: '127.0.0.2', steps: [{ write: postHead(frame.length) }, { write: Buffer.from(frame) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
    expect(codeOf(parseResponses(honest.data, ['POST'], true).responses[0])).toBe('ok');
  });

  it('applies the submission rate before the body, and answers slow headers, huge headers and broken framing with typed errors', async () => {
    const limited = await startTestRelay(tempDir('rate'), { ipRateLimit: { burst: 1, perSecond: 0.001 } });
    try {
      const first = await exchange({ port: limited.port, localAddress: '127.0.0.5', steps: [{ write: postHead(frame.length) }, { write: Buffer.from(frame) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
      expect(codeOf(parseResponses(first.data, ['POST'], true).responses[0])).toBe('ok');
      // The second declares a body and sends none: the refusal comes anyway.
      const second = await exchange({ port: limited.port, localAddress: '127.0.0.5', steps: [{ write: postHead(frame.length) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
      const [answer] = parseResponses(second.data, ['POST'], true).responses;
      expectTyped([answer], 'rate-limited');
      expect(answer.headers.connection).toBe('close');
    } finally {
      await limited.close();
    }
    expectTyped(await ask(port, `GET /api/run HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8_000)}\r\n\r\n`), 'headers-too-large');
    expectTyped(await ask(port, 'POST /api/submissions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', { methods: ['POST'] }), 'bad-request');
    expectTyped(await ask(port, 'GET /api/run HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), 'bad-request');
    expectTyped(await ask(port, 'GET /api/run HTTP/9.9\r\n\r\n'), 'bad-request');
    expectTyped(await ask(port, '\x00\x01\x02 garbage\r\n\r\n'), 'bad-request');
    const slow = await exchange({ port, steps: [{ write: 'GET /api/run HTTP/1.1\r\nHost: x\r\n' }], waitMs: 20_000 });
    expectTyped(parseResponses(slow.data, ['GET'], true).responses, 'timeout');
    expect(slow.closedByServer).toBe(true);
  });

  it('caps push channels per address and in total, and drops a client that talks or sends too much', async () => {
    const url = server.url.replace(/^http/, 'ws') + 'api/events';
    const open = (localAddress: string) =>
      new Promise<{ socket: WebSocket; status: number; body: string }>((resolve) => {
        const socket = new WebSocket(url, { localAddress });
        socket.once('open', () => resolve({ socket, status: 101, body: '' }));
        socket.once('unexpected-response', (_, response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk));
          response.on('end', () => resolve({ socket, status: response.statusCode ?? 0, body }));
        });
        socket.on('error', () => {});
      });
    const a1 = await open('127.0.0.6');
    const a2 = await open('127.0.0.6');
    const a3 = await open('127.0.0.6');
    const b1 = await open('127.0.0.7');
    const c1 = await open('127.0.0.8');
    expect([a1.status, a2.status, a3.status, b1.status, c1.status]).toEqual([101, 101, 429, 101, 503]);
    expect(JSON.parse(a3.body).error.code).toBe('rate-limited');
    expect(JSON.parse(c1.body).error.code).toBe('unavailable');
    const closeCode = (socket: WebSocket) => new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const talking = closeCode(a1.socket);
    a1.socket.send('hello');
    expect(await talking).toBe(1008);
    const oversized = closeCode(a2.socket);
    a2.socket.send(Buffer.alloc(2_048));
    expect(await oversized).toBe(1009);
    // Freed slots are usable again.
    const again = await open('127.0.0.6');
    expect(again.status).toBe(101);
    for (const s of [again, b1]) s.socket.terminate();
  });

  it('keeps a push channel opened behind a pipelined request past the timeouts', async () => {
    // The guard that drops a socket whose owed answers never finish must not drop it once they have.
    const handshake = 'GET /api/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const held = await exchange({ port, localAddress: '127.0.0.12', steps: [{ write: 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n' + handshake }], waitMs: 2_500 + 5_000 + 2_000 });
    expect(parseResponses(held.data, ['GET', 'GET'], false).responses.map((r) => r.status)).toEqual([200, 101]);
    expect(held.closedByServer).toBe(false);
  });

  it('meters the big reads and the API reads per address', async () => {
    const get = (path: string, localAddress: string) => ask(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, { localAddress });
    const bulk = [];
    for (let i = 0; i < 3; i++) bulk.push((await get('/api/checkpoint', '127.0.0.9'))[0]);
    expect(bulk.map(codeOf)).toEqual(['ok', 'ok', 'rate-limited']);
    expect(answerProblem(bulk[2])).toBeNull();
    expect(Number(bulk[2].headers['retry-after'])).toBeGreaterThan(0);
    expect(codeOf((await get('/api/checkpoint', '127.0.0.10'))[0])).toBe('ok');
    const reads = [];
    for (let i = 0; i < 6; i++) reads.push(codeOf((await get('/api/round', '127.0.0.11'))[0]));
    expect(reads).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'rate-limited']);
  });
});
