// The relay fuzzer: a hostile client that speaks raw HTTP and WebSocket to a
// real relay started as a child process on 127.0.0.1 (`npm run relay`'s
// main.ts, so an exit is seen as an exit), mixing the wire attacks of
// wire-cases.ts with signed-frame attacks and honest traffic:
//
//   frame-mutation     a real signed frame with flipped bits, cuts, extensions,
//                      splices, edited length fields (the signature no longer holds)
//   resigned-mutant    a mutated payload or header field, signed again with a
//                      real key, so it passes the signature and reaches the codec
//                      and the run checks
//   connection-flood   more TCP connections from one address than it may hold
//   websocket-flood    more push channels from one address than it may hold
//   honest-read        every read route from well-behaved addresses: must succeed
//   honest-submission  signed updates from honest keys, once per round (a second
//                      send is a replay: 'duplicate'); must be acknowledged unless
//                      the round closed first
//
// Every case is drawn from its own seeded stream (seed, case index), so a
// seed replays the same cases; their interleaving with the relay's rounds and
// with each other is not replayed. Source addresses are spread over 127/8.
//
// Asserted: the process never exits; every answer is well-formed HTTP and a
// success or a typed error body with a documented code and its status, and
// none is 'internal'; every refusal the relay owes is sent and every
// connection it must drop is dropped; honest reads succeed; honest submissions
// are acknowledged (or meet a round that closed first); and every acknowledged
// submission is in the ledger — after the run, and again after kill -9 and a
// restart, which then takes a new honest submission and stops on SIGTERM.
//
// Leaves out: throughput claims (the figures it prints are for orientation).
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { WebSocket } from 'ws';
import { maxSubmissionBytes, payloadHash, type HexHash, type SubmissionHeader } from '../../src/protocol/index.ts';
import { editBytes, extend, flipBits, splice, truncate } from '../support/byte-mutations.ts';
import { exchange, hasAnswers, parseResponses, type WireResponse } from '../support/http-wire.ts';
import { answerProblem, codeOf } from '../support/relay-answers.ts';
import { rngFor, type Rng } from '../support/rng.ts';
import type { TestWallet } from '../support/test-wallet.ts';
import {
  encodeHeaderLoose,
  getJson,
  headerFor,
  kill9,
  rawFrame,
  spawnRelay,
  tempDir,
  updatePayload,
  walletFor,
  type RelayProcess,
} from '../unit/relay-fixtures.ts';
import { attackerAddress, WIRE_GENERATORS, type WireCase, type WireClass, type WireContext } from './wire-cases.ts';

export type CaseClass = WireClass | 'frame-mutation' | 'resigned-mutant' | 'connection-flood' | 'websocket-flood' | 'honest-read' | 'honest-submission';

/** How often each class is drawn (relative). */
export const CLASS_WEIGHTS: Readonly<Record<CaseClass, number>> = {
  'request-target': 14,
  'request-line': 5,
  headers: 7,
  body: 6,
  chunked: 4,
  pipelining: 5,
  reset: 6,
  slow: 1,
  upgrade: 6,
  'websocket-frames': 4,
  'connection-flood': 0.15,
  'websocket-flood': 0.15,
  'frame-mutation': 12,
  'resigned-mutant': 16,
  'honest-read': 8,
  'honest-submission': 4,
};

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Cases in flight at once. */
  concurrency?: number;
  /** Only these classes (default: all). */
  classes?: readonly CaseClass[];
  log?: (line: string) => void;
}

export interface Failure {
  index: number;
  caseClass: CaseClass;
  label: string;
  problem: string;
}

export interface ClassTally {
  cases: number;
  /** Answers by code ('ok' for success, 'none' for no answer where none was owed). */
  outcomes: Record<string, number>;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  elapsedMs: number;
  byClass: Record<string, ClassTally>;
  failures: Failure[];
  processExits: number;
  acknowledged: number;
  honest: { acknowledged: number; replays: number; racedAClose: number };
  roundsClosed: number;
  restart: { ledgerIntact: boolean; honestAfterRestart: boolean; sigtermExit: number | null | 'still running' };
}

/** The fuzzed relay's settings: short rounds (closes under fire), short timeouts (slow cases end sooner). */
const RELAY_FLAGS = {
  roundMs: 6_000,
  headersTimeoutMs: 2_000,
  requestTimeoutMs: 5_000,
  shutdownGraceMs: 2_000,
};
/** Tokens the test run (H 2, B 2, T 32) trains per submission. */
const RUN_TOKENS = 2 * 2 * 32;
const HONEST_KEYS = 8;
/** Keys that sign re-signed mutants (each can be accepted once per round). */
const ATTACKER_KEYS = 64;
/** Keys whose fresh frames are the bases of frame mutations (never sent unmutated). */
const MUTATION_SOURCE_KEYS = 8;
/** Honest reads and submissions come from these addresses, apart from the attackers' 127.1–251.x.x. */
const HONEST_READERS = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`);
const HONEST_SUBMITTER = '127.0.0.1';
const RACE_CODES = new Set(['late', 'wrong-round', 'stale-model', 'model-hash-mismatch']);
const RETRY_CODES = new Set(['rate-limited', 'unavailable']);

interface RoundView {
  round: number;
  version: number;
  modelHash: HexHash;
}

interface Acknowledged {
  round: number;
  address: string;
  payloadHash: HexHash;
}

function tinyDist(): string {
  const dist = tempDir('fuzz-dist');
  mkdirSync(join(dist, 'assets'));
  mkdirSync(join(dist, 'data'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Tessera</title>');
  writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dist, 'data', 'big.bin'), Buffer.alloc(1_100_000, 7)); // over the bulk-read threshold
  return dist;
}

function relayArgs(dist: string): string[] {
  return [
    '--dist', dist,
    '--round-ms', String(RELAY_FLAGS.roundMs),
    '--quorum', '1000000',
    '--headers-timeout-ms', String(RELAY_FLAGS.headersTimeoutMs),
    '--request-timeout-ms', String(RELAY_FLAGS.requestTimeoutMs),
    '--shutdown-grace-ms', String(RELAY_FLAGS.shutdownGraceMs),
  ];
}

function pickClass(r: Rng, classes: readonly CaseClass[]): CaseClass {
  const total = classes.reduce((sum, c) => sum + CLASS_WEIGHTS[c], 0);
  let x = r.next() * total;
  for (const c of classes) {
    x -= CLASS_WEIGHTS[c];
    if (x < 0) return c;
  }
  return classes[classes.length - 1];
}

function postBytes(frame: Uint8Array, contentType = 'application/octet-stream'): Buffer {
  return Buffer.concat([
    Buffer.from(`POST /api/submissions HTTP/1.1\r\nHost: relay\r\nContent-Type: ${contentType}\r\nContent-Length: ${frame.length}\r\n\r\n`),
    Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
  ]);
}

/** Mutations of a byte string, as in the codec fuzz (flips, edits, cuts, growth, splices, −0 spellings). */
function mutateBytes(bytes: Uint8Array, other: Uint8Array, r: Rng): [string, Uint8Array] {
  switch (r.int(8)) {
    case 0:
      return ['bit flips', flipBits(bytes, r)];
    case 1:
      return ['byte edits', editBytes(bytes, r)];
    case 2:
      return ['truncation', truncate(bytes, r)];
    case 3:
      return ['extension', extend(bytes, r, 64)];
    case 4:
      return ['splice', splice(bytes, other, r)];
    case 5: {
      // A float zero spelled −0, wherever four zero bytes are (μ, an unused bin, a dense value).
      const zeros: number[] = [];
      for (let i = 0; i + 4 <= bytes.length; i++) if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 0 && bytes[i + 3] === 0) zeros.push(i);
      if (zeros.length === 0) return ['bit flips', flipBits(bytes, r)];
      const b = bytes.slice();
      b[r.pick(zeros) + 3] = 0x80;
      return ['-0 spelling', b];
    }
    case 6: {
      // A four-byte field set to a boundary value.
      const b = bytes.slice();
      const at = r.int(Math.max(1, b.length - 4));
      new DataView(b.buffer).setUint32(at, r.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x7fc00001]), true);
      return ['boundary field', b];
    }
    default:
      return ['random bytes', r.bytes(1 + r.int(bytes.length))];
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const classes = options.classes ?? (Object.keys(CLASS_WEIGHTS) as CaseClass[]);
  const concurrency = options.concurrency ?? 24;
  await cryptoWaitReady();

  const dataDir = tempDir('fuzz-relay');
  const dist = tinyDist();
  let relay: RelayProcess = await spawnRelay(dataDir, relayArgs(dist));
  let port = Number(new URL(relay.url).port);
  let processExits = 0;
  let expectedExit = false;
  const watchExit = (process: RelayProcess) => {
    void process.exited.then(() => {
      if (!expectedExit) processExits += 1;
    });
  };
  watchExit(relay);

  const failures: Failure[] = [];
  const byClass: Record<string, ClassTally> = {};
  const acknowledged = new Map<string, Acknowledged>();
  const honestTally = { acknowledged: 0, replays: 0, racedAClose: 0 };
  const tally = (caseClass: CaseClass, outcome: string) => {
    const entry = (byClass[caseClass] ??= { cases: 0, outcomes: {} });
    entry.outcomes[outcome] = (entry.outcomes[outcome] ?? 0) + 1;
  };
  const fail = (index: number, caseClass: CaseClass, label: string, problem: string) => {
    failures.push({ index, caseClass, label, problem });
    if (failures.length <= 20) log(`FAIL case ${index} (${caseClass}: ${label}): ${problem}`);
  };

  // ------------------------------------------------------------ shared state

  const honestKeys = Array.from({ length: HONEST_KEYS }, (_, i) => walletFor(1_000 + i));
  const attackerKeys = Array.from({ length: ATTACKER_KEYS }, (_, i) => walletFor(2_000 + i));
  const decoy = walletFor(3_000);
  const mutationSources = Array.from({ length: MUTATION_SOURCE_KEYS }, (_, i) => walletFor(6_000 + i));
  /** Fresh frames of the open round by keys that send nothing else: the bases of frame mutations. */
  let mutationBases: Uint8Array[] = [];
  const payloads = [0, 1, 2, 3].map((i) => updatePayload(4_000 + i));
  const firstRound = await getJson(relay.url, 'api/round');
  const bodyLimit = maxSubmissionBytes((await getJson(relay.url, 'api/run')).maxPayloadBytes);
  let round: RoundView = { round: firstRound.round, version: firstRound.version, modelHash: firstRound.modelHash };
  let roundsSeen = new Set<number>([round.round]);
  /** A valid signed frame of the open round (the decoy key's), for framing variants; recent frames for replays and splices. */
  let currentFrame: Uint8Array | null = null;
  const recentFrames: Uint8Array[] = [];
  const honestLast = new Map<string, { round: number; frame: Uint8Array }>();
  const honestBusy = new Set<string>();

  const sign = (wallet: TestWallet, header: SubmissionHeader, payload: Uint8Array): Uint8Array => {
    const headerBytes = encodeHeaderLoose(header);
    return rawFrame(headerBytes, wallet.pair.sign(u8aWrapBytes(headerBytes)), payload);
  };
  const honestHeader = (wallet: TestWallet, view: RoundView, payload: Uint8Array) =>
    headerFor({ round: view.round, version: view.version, modelHash: view.modelHash, payload, address: wallet.address, innerSteps: 2, tokens: RUN_TOKENS });

  const refreshRound = async () => {
    try {
      const state = await getJson(relay.url, 'api/round');
      if (state.round !== round.round || currentFrame === null) {
        round = { round: state.round, version: state.version, modelHash: state.modelHash };
        roundsSeen.add(round.round);
        currentFrame = sign(decoy, honestHeader(decoy, round, payloads[round.round % payloads.length]), payloads[round.round % payloads.length]);
        const view = round;
        mutationBases = mutationSources.map((wallet, i) => sign(wallet, honestHeader(wallet, view, payloads[i % payloads.length]), payloads[i % payloads.length]));
        recentFrames.push(currentFrame);
        if (recentFrames.length > 16) recentFrames.shift();
      }
    } catch {
      // The relay is being restarted, or busy: the next poll tries again.
    }
  };
  await refreshRound();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await refreshRound();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();

  /** Records an acknowledgement found in an answer to a POST. */
  const noteAck = (response: WireResponse) => {
    if (response.status !== 200) return null;
    try {
      const ack = JSON.parse(response.body.toString('utf8')) as Acknowledged;
      if (typeof ack.address === 'string' && typeof ack.payloadHash === 'string' && Number.isInteger(ack.round)) {
        acknowledged.set(`${ack.round}/${ack.address}`, { round: ack.round, address: ack.address, payloadHash: ack.payloadHash });
        return ack;
      }
    } catch {
      // Not an acknowledgement (a GET's body).
    }
    return null;
  };

  // ------------------------------------------------------------- case runners

  /** Runs a wire case and judges every answer; returns the answers' codes. */
  const runWire = async (index: number, caseClass: CaseClass, c: WireCase): Promise<string[]> => {
    // Wait for every answer (or the close the case demands), never longer than waitMs.
    const result = await exchange({ port, localAddress: c.localAddress, steps: c.steps, waitMs: c.waitMs, doneWhen: c.mustClose ? undefined : hasAnswers(c.methods.length, c.methods) });
    if (result.resetByUs) return ['none'];
    const parsed = parseResponses(result.data, c.methods, result.closedByServer);
    const cutShort = parsed.malformed?.startsWith('connection closed inside') === true;
    if (parsed.malformed && !(cutShort && c.cutAllowed)) fail(index, caseClass, c.label, `malformed answer: ${parsed.malformed}`);
    const codes: string[] = [];
    parsed.responses.forEach((response, i) => {
      const problem = answerProblem(response, c.methods[i] ?? 'GET');
      if (problem) fail(index, caseClass, c.label, problem);
      const code = codeOf(response);
      if (code === 'internal') fail(index, caseClass, c.label, 'internal error (a relay bug)');
      noteAck(response);
      codes.push(code === 'ok' ? `${response.status}` : code);
    });
    if (parsed.responses.length < c.minAnswers) fail(index, caseClass, c.label, `${parsed.responses.length} answers, owed ${c.minAnswers}${result.error ? ` (${result.error})` : ''}`);
    if (c.mustClose && !result.closedByServer) fail(index, caseClass, c.label, `connection still open after ${c.waitMs} ms`);
    return codes.length ? codes : ['none'];
  };

  /** POSTs a frame from `localAddress`; returns the one answer (or null). */
  const submit = async (frame: Uint8Array, localAddress: string): Promise<WireResponse | null> => {
    const result = await exchange({ port, localAddress, steps: [{ write: postBytes(frame) }], waitMs: 20_000, doneWhen: hasAnswers(1, ['POST']) });
    const parsed = parseResponses(result.data, ['POST'], result.closedByServer);
    if (parsed.malformed) throw new Error(`malformed answer: ${parsed.malformed}`);
    return parsed.responses[0] ?? null;
  };

  const judgeSubmission = (index: number, caseClass: CaseClass, label: string, response: WireResponse | null): string => {
    if (!response) {
      fail(index, caseClass, label, 'no answer to a submission');
      return 'none';
    }
    const problem = answerProblem(response, 'POST');
    if (problem) fail(index, caseClass, label, problem);
    const code = codeOf(response);
    if (code === 'internal') fail(index, caseClass, label, 'internal error (a relay bug)');
    if (code === 'ok' && !noteAck(response)) fail(index, caseClass, label, '200 without an acknowledgement');
    return code;
  };

  const frameMutation = async (index: number, r: Rng): Promise<string[]> => {
    const base = r.pick(mutationBases);
    const other = r.pick(recentFrames.length ? recentFrames : mutationBases);
    let [label, frame] = mutateBytes(base, other, r);
    if (r.chance(0.15)) {
      // The header length field itself.
      frame = frame.slice();
      if (frame.length >= 4) new DataView(frame.buffer, frame.byteOffset).setUint32(0, r.pick([0, 1, 292, 293, 294, 0xffffffff, r.int(400)]), true);
      label = 'header length field';
    }
    return [judgeSubmission(index, 'frame-mutation', label, await submit(frame, attackerAddress(r)))];
  };

  const resignedMutant = async (index: number, r: Rng): Promise<string[]> => {
    const view = round;
    // A key with no acknowledged submission in this round, so the mutant reaches the signature and codec checks.
    const fresh = attackerKeys.filter((key) => !acknowledged.has(`${view.round}/${key.address}`));
    const wallet = r.pick(fresh.length ? fresh : attackerKeys);
    let payload = r.pick(payloads);
    let label: string;
    let header = honestHeader(wallet, view, payload);
    if (r.chance(0.6)) {
      [label, payload] = mutateBytes(payload, r.pick(payloads), r);
      label = `payload ${label}`;
      header = honestHeader(wallet, view, payload);
    } else {
      const edits: [string, Partial<SubmissionHeader>][] = [
        ['tokens 0', { tokens: 0 }],
        ['tokens H·B·T + 1', { tokens: RUN_TOKENS + 1 }],
        ['tokens 2^32 − 1', { tokens: 0xffffffff }],
        ['inner steps 0', { innerSteps: 0 }],
        ['inner steps 3', { innerSteps: 3, tokens: 3 * 64 }],
        ['inner steps 2^32 − 1', { innerSteps: 0xffffffff }],
        ['next round', { round: view.round + 1 }],
        ['previous round', { round: Math.max(0, view.round - 1) }],
        ['another version', { baseModelVersion: view.version + 1 }],
        ['another model hash', { baseModelHash: r.bytes(32) }],
        ['another run', { runId: 'other-run' }],
        ['payload length off by one', { payloadBytes: payload.length + r.pick([-1, 1]) }],
        ['payload hash of other bytes', { payloadHash: payloadHash(r.pick(payloads)) }],
        ['odd client version', { clientVersion: r.pick(['\u0001', 'x'.repeat(64), 'é']) }],
        ['an unmodified honest update', {}],
      ];
      const [what, edit] = r.pick(edits);
      label = what;
      header = { ...header, ...edit };
    }
    const frame = sign(wallet, header, payload);
    return [judgeSubmission(index, 'resigned-mutant', label, await submit(frame, attackerAddress(r)))];
  };

  const honestRead = async (index: number, r: Rng): Promise<string[]> => {
    const view = round;
    const routes = [
      'GET /api/run', 'GET /api/round', 'GET /api/stats', 'GET /api/health', 'GET /api/ledger', `GET /api/ledger/${r.pick(honestKeys).address}`,
      'GET /api/checkpoint', 'HEAD /api/checkpoint', `GET /api/updates?since=${r.int(view.version + 1)}&format=2`, 'GET /', 'GET /index.html',
      'GET /assets/app.js', 'GET /data/big.bin', 'GET /contribute', 'OPTIONS /api/submissions',
    ];
    const [method, path] = r.pick(routes).split(' ');
    const extra = path === '/api/checkpoint' && r.chance(0.5) ? `If-None-Match: "${view.modelHash}"\r\n` : '';
    const c: WireCase = {
      label: `${method} ${path}`,
      localAddress: r.pick(HONEST_READERS),
      steps: [{ write: `${method} ${path} HTTP/1.1\r\nHost: relay\r\n${extra}\r\n` }],
      methods: [method],
      waitMs: 20_000,
      minAnswers: 1,
      mustClose: false,
    };
    const codes = await runWire(index, 'honest-read', c);
    for (const code of codes) if (!/^[23]\d\d$/.test(code)) fail(index, 'honest-read', c.label, `an honest read was answered ${code}`);
    return codes;
  };

  const honestSubmission = async (index: number, r: Rng): Promise<string[]> => {
    const wallet = honestKeys[index % HONEST_KEYS];
    if (honestBusy.has(wallet.address)) return honestRead(index, r);
    honestBusy.add(wallet.address);
    try {
      const view = round;
      const last = honestLast.get(wallet.address);
      const replay = last !== undefined && last.round >= view.round;
      const payload = payloads[(index + view.round) % payloads.length];
      const frame = replay ? last.frame : sign(wallet, honestHeader(wallet, view, payload), payload);
      let response: WireResponse | null = null;
      for (let attempt = 0; attempt < 6; attempt++) {
        response = await submit(frame, HONEST_SUBMITTER);
        const code = response ? codeOf(response) : 'none';
        if (!RETRY_CODES.has(code)) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000 * Number(response!.headers['retry-after'] ?? 1)));
      }
      const code = judgeSubmission(index, 'honest-submission', replay ? 'replay' : 'honest update', response);
      if (code === 'ok') {
        honestTally.acknowledged += 1;
        honestLast.set(wallet.address, { round: view.round, frame });
      } else if (replay && code === 'duplicate') honestTally.replays += 1;
      else if (RACE_CODES.has(code)) honestTally.racedAClose += 1;
      else fail(index, 'honest-submission', replay ? 'replay' : 'honest update', `refused with ${code}`);
      return [replay ? `replay ${code}` : code];
    } finally {
      honestBusy.delete(wallet.address);
    }
  };

  const connectionFlood = async (index: number, r: Rng): Promise<string[]> => {
    const localAddress = `127.252.${r.int(256)}.${1 + r.int(254)}`;
    const count = 260 + r.int(40); // the default allows 256 per address
    const received = await Promise.all(
      Array.from({ length: count }, () =>
        new Promise<{ data: Buffer; closed: boolean }>((resolve) => {
          const chunks: Buffer[] = [];
          const socket = connect({ port, host: '127.0.0.1', localAddress });
          let closed = false;
          socket.on('data', (chunk: Buffer) => chunks.push(chunk));
          socket.on('error', () => {});
          socket.on('close', () => (closed = true));
          setTimeout(() => {
            socket.destroy();
            resolve({ data: Buffer.concat(chunks), closed });
          }, 1_500);
        }),
      ),
    );
    const codes: string[] = [];
    for (const { data, closed } of received) {
      if (data.length === 0) continue;
      const parsed = parseResponses(data, ['GET'], closed);
      if (parsed.malformed) fail(index, 'connection-flood', `${count} connections`, `malformed refusal: ${parsed.malformed}`);
      for (const response of parsed.responses) {
        const problem = answerProblem(response);
        if (problem) fail(index, 'connection-flood', `${count} connections`, problem);
        codes.push(codeOf(response));
      }
    }
    if (codes.length < count - 256) fail(index, 'connection-flood', `${count} connections`, `${codes.length} refusals for ${count - 256} connections over the cap`);
    return codes.length ? codes : ['none'];
  };

  const websocketFlood = async (index: number, r: Rng): Promise<string[]> => {
    const localAddress = `127.253.${r.int(256)}.${1 + r.int(254)}`;
    const count = 130 + r.int(20); // the default allows 128 per address
    const outcomes = await Promise.all(
      Array.from({ length: count }, () =>
        new Promise<{ socket: WebSocket; status: number; body: string }>((resolve) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/api/events`, { localAddress });
          socket.on('error', () => resolve({ socket, status: 0, body: '' }));
          socket.once('open', () => resolve({ socket, status: 101, body: '' }));
          socket.once('unexpected-response', (_, response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk));
            response.on('end', () => resolve({ socket, status: response.statusCode ?? 0, body }));
            response.on('error', () => resolve({ socket, status: response.statusCode ?? 0, body }));
          });
        }),
      ),
    );
    const codes: string[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 101) codes.push('101');
      else if (outcome.status === 0) codes.push('none');
      else {
        const problem = answerProblem({ status: outcome.status, headers: { 'content-type': 'application/json' }, body: Buffer.from(outcome.body) });
        if (problem) fail(index, 'websocket-flood', `${count} push channels`, problem);
        codes.push(JSON.parse(outcome.body || '{}')?.error?.code ?? `status-${outcome.status}`);
      }
      outcome.socket.terminate();
    }
    const opened = codes.filter((c) => c === '101').length;
    if (opened > 128) fail(index, 'websocket-flood', `${count} push channels`, `${opened} opened from one address; the cap is 128`);
    return codes;
  };

  // -------------------------------------------------------------------- run

  const wireContext = (): WireContext => ({
    headersTimeoutMs: RELAY_FLAGS.headersTimeoutMs,
    requestTimeoutMs: RELAY_FLAGS.requestTimeoutMs,
    bodyLimit,
    frame: currentFrame,
    address: honestKeys[0].address,
  });

  const runCase = async (index: number) => {
    const r = rngFor(options.seed, index);
    const caseClass = pickClass(r, classes);
    let codes: string[];
    try {
      switch (caseClass) {
        case 'frame-mutation':
          codes = await frameMutation(index, r);
          break;
        case 'resigned-mutant':
          codes = await resignedMutant(index, r);
          break;
        case 'honest-read':
          codes = await honestRead(index, r);
          break;
        case 'honest-submission':
          codes = await honestSubmission(index, r);
          break;
        case 'connection-flood':
          codes = await connectionFlood(index, r);
          break;
        case 'websocket-flood':
          codes = await websocketFlood(index, r);
          break;
        default:
          codes = await runWire(index, caseClass, WIRE_GENERATORS[caseClass](r, wireContext()));
      }
    } catch (error) {
      fail(index, caseClass, 'runner', `the case itself failed: ${(error as Error).stack ?? error}`);
      codes = ['runner-error'];
    }
    (byClass[caseClass] ??= { cases: 0, outcomes: {} }).cases += 1;
    for (const code of codes) tally(caseClass, code);
  };

  const started = performance.now();
  let next = 0;
  let done = 0;
  const progressEvery = Math.max(1_000, Math.floor(options.cases / 10));
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < options.cases && processExits === 0) {
        await runCase(next++);
        done += 1;
        if (done % progressEvery === 0) log(`  ${done} cases, ${((performance.now() - started) / 1000).toFixed(0)} s, round ${round.round}, ${acknowledged.size} acknowledged, ${failures.length} failures`);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  polling = false;
  await poller;
  if (processExits > 0) failures.push({ index: next, caseClass: 'request-target', label: 'process', problem: `the relay exited:\n${relay.output().slice(-3_000)}` });

  // ------------------------------------------------ nothing acknowledged is lost

  const ledgerMissing = async (process: RelayProcess): Promise<string[]> => {
    const missing: string[] = [];
    const byAddress = new Map<string, Acknowledged[]>();
    for (const ack of acknowledged.values()) byAddress.set(ack.address, [...(byAddress.get(ack.address) ?? []), ack]);
    for (const [address, acks] of byAddress) {
      const ledger = await getJson(process.url, `api/ledger/${address}`);
      for (const ack of acks) {
        if (!ledger.entries.some((e: { round: number; payloadHash: string }) => e.round === ack.round && e.payloadHash === ack.payloadHash)) {
          missing.push(`${address} round ${ack.round} ${ack.payloadHash.slice(0, 18)}…`);
        }
      }
    }
    return missing;
  };
  const restart = { ledgerIntact: false, honestAfterRestart: false, sigtermExit: null as number | null | 'still running' };
  if (processExits === 0) {
    const missingBefore = await ledgerMissing(relay);
    for (const m of missingBefore) failures.push({ index: -1, caseClass: 'honest-submission', label: 'ledger', problem: `acknowledged but missing: ${m}` });
    expectedExit = true;
    await kill9(relay);
    relay = await spawnRelay(dataDir, relayArgs(dist));
    expectedExit = false;
    watchExit(relay);
    port = Number(new URL(relay.url).port);
    const missingAfter = await ledgerMissing(relay);
    for (const m of missingAfter) failures.push({ index: -1, caseClass: 'honest-submission', label: 'ledger after kill -9', problem: `acknowledged but missing after the restart: ${m}` });
    restart.ledgerIntact = missingBefore.length === 0 && missingAfter.length === 0;
    const state = await getJson(relay.url, 'api/round');
    const fresh = walletFor(5_000);
    const view = { round: state.round, version: state.version, modelHash: state.modelHash };
    const answer = await submit(sign(fresh, honestHeader(fresh, view, payloads[0]), payloads[0]), HONEST_SUBMITTER);
    restart.honestAfterRestart = answer !== null && codeOf(answer) === 'ok';
    if (!restart.honestAfterRestart) failures.push({ index: -1, caseClass: 'honest-submission', label: 'after restart', problem: `an honest submission after the restart was answered ${answer ? codeOf(answer) : 'nothing'}` });
    expectedExit = true;
    relay.child.kill('SIGTERM');
    restart.sigtermExit = await Promise.race([relay.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    if (restart.sigtermExit !== 0) failures.push({ index: -1, caseClass: 'request-target', label: 'SIGTERM', problem: `SIGTERM: ${restart.sigtermExit}` });
    await kill9(relay);
  }
  const roundsClosed = Math.max(...roundsSeen) - Math.min(...roundsSeen);
  roundsSeen = new Set();

  return {
    seed: options.seed,
    cases: next,
    elapsedMs,
    byClass,
    failures,
    processExits,
    acknowledged: acknowledged.size,
    honest: honestTally,
    roundsClosed,
    restart,
  };
}

/** The report as lines: totals, cases and top outcomes per class, failures. */
export function formatReport(report: FuzzReport): string[] {
  const lines = [
    `relay fuzz, seed ${report.seed}: ${report.cases} cases in ${(report.elapsedMs / 1000).toFixed(1)} s (${((report.cases * 1000) / report.elapsedMs).toFixed(0)}/s), ` +
      `${report.processExits} process exits, ${report.failures.length} failures`,
    `  ${report.acknowledged} submissions acknowledged (honest: ${report.honest.acknowledged} acknowledged, ${report.honest.replays} replays refused as duplicate, ` +
      `${report.honest.racedAClose} met a closing round); ${report.roundsClosed} rounds closed during the run`,
    `  after kill -9 and a restart: ledger ${report.restart.ledgerIntact ? 'intact' : 'NOT intact'}, honest submission ${report.restart.honestAfterRestart ? 'acknowledged' : 'NOT acknowledged'}, SIGTERM exit ${report.restart.sigtermExit}`,
    '  cases by class (answers by code):',
  ];
  for (const [caseClass, { cases, outcomes }] of Object.entries(report.byClass).sort((a, b) => b[1].cases - a[1].cases)) {
    const top = Object.entries(outcomes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    lines.push(`    ${caseClass.padEnd(18)} ${String(cases).padStart(6)}  ${top}`);
  }
  for (const failure of report.failures.slice(0, 30)) lines.push(`  FAIL case ${failure.index} (${failure.caseClass}: ${failure.label}): ${failure.problem.split('\n')[0]}`);
  return lines;
}
