// Hostile HTTP and WebSocket traffic for the relay fuzzer, as data: each
// generator draws one case from its own seeded stream and returns the bytes to
// send (in steps, with pauses, half-closes and resets) and what the relay owes
// in return. Structured attacks (the targets, headers and framings that broke
// or could break a Node server) are mixed with random bytes in the same places.
//
// Attack classes here (hostile-client.ts adds the signed-frame classes):
//   request-target   odd targets: "//", "*", absolute- and authority-form, "..", %-escapes, long, random bytes
//   request-line     methods, versions, separators, line endings, NULs
//   headers          oversized, numerous, invalid names, obs-fold, conflicting lengths, Expect, Upgrade
//   body             declared vs sent length, oversized, early FIN, bodies on routes that take none
//   chunked          valid and broken chunked framing (sizes, CRLFs, extensions, trailers)
//   pipelining       many requests in one write, good and bad mixed
//   reset            RST or FIN at every stage of a request
//   slow             trickled headers and bodies, stalls that must time out
//   upgrade          WebSocket handshakes on any path, with bad keys, versions, methods, subprotocols
//   websocket-frames after a good handshake: unmasked, oversized, fragmented, bad opcodes, reserved bits
//
// Leaves out: running the cases and judging answers (hostile-client.ts).
import type { ExchangeStep } from '../support/http-wire.ts';
import type { Rng } from '../support/rng.ts';

export interface WireCase {
  label: string;
  /** Source address of the connection (127.x.y.z): many clients, or one hot one. */
  localAddress: string;
  steps: ExchangeStep[];
  /** Request methods in the order sent (a HEAD answer has no body). */
  methods: string[];
  /** How long to wait for the relay after the last step. */
  waitMs: number;
  /** Answers the relay owes (0 where our own reset or garbage may leave it nothing to answer). */
  minAnswers: number;
  /** The relay must close the connection itself within waitMs (a refusal, broken framing, a timeout). */
  mustClose: boolean;
  /**
   * We half-close (FIN) while answers may still be due: the relay treats such a
   * client as gone (Node's httpAllowHalfOpen = false), so an answer may be cut.
   */
  cutAllowed?: boolean;
}

export interface WireContext {
  /** Timeouts the fuzzed relay runs with (its flags), so slow cases wait long enough. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Largest body the relay accepts. */
  bodyLimit: number;
  /** A valid signed frame for the open round, when one is at hand (for framing variants of a real upload). */
  frame: Uint8Array | null;
  /** A valid SS58 address (for ledger routes). */
  address: string;
}

export type WireClass =
  | 'request-target'
  | 'request-line'
  | 'headers'
  | 'body'
  | 'chunked'
  | 'pipelining'
  | 'reset'
  | 'slow'
  | 'upgrade'
  | 'websocket-frames';

const CRLF = '\r\n';
const HOT_ADDRESS = '127.0.0.66';

/** Mostly a fresh address per case (as many clients), sometimes one hot address (one client that hammers). */
export function attackerAddress(r: Rng): string {
  if (r.chance(0.15)) return HOT_ADDRESS;
  return `127.${1 + r.int(250)}.${r.int(256)}.${1 + r.int(254)}`;
}

const ROUTES = [
  '/', '/index.html', '/assets/app.js', '/data/big.bin', '/missing.js', '/contribute', '/api/run', '/api/round', '/api/stats',
  '/api/health', '/api/ledger', '/api/checkpoint', '/api/updates?since=0&format=2', '/api/submissions', '/api/events', '/api/nope',
];

function target(r: Rng, ctx: WireContext): string {
  const structured = [
    ...ROUTES,
    '//', '///', '//evil.example/api/run', '//api/health', '*', 'http://x/api/health', 'https://evil.example:8443/api/run?x=1',
    'HTTP://X/', 'http://', 'example.com:443', '[::1]:80', '/\\evil.example', '/%', '/%zz', '/%00', '/%2e%2e/%2e%2e/etc/passwd',
    '/assets/../../../etc/passwd', '/..%2f..%2fetc%2fpasswd', '/api/ledger/%zz', `/api/ledger/${ctx.address}`, '/api/ledger/0x1234',
    '/api/updates?since=-1', '/api/updates?since=abc', '/api/updates?since=99999999999', '/api/updates', '/api/checkpoint?x#y',
    '/?' + 'q='.repeat(200), '/a/b/c/d/e/f/g/h', '/' + 'a'.repeat(1 + r.int(12_000)), '/api/' + '%41'.repeat(r.int(500)),
  ];
  switch (r.int(4)) {
    case 0:
    case 1:
      return r.pick(structured);
    case 2: {
      // printable noise in a path
      const length = 1 + r.int(60);
      let out = '/';
      for (let i = 0; i < length; i++) out += String.fromCharCode(0x21 + r.int(94));
      return out;
    }
    default: {
      // raw bytes, high and control ones included (latin1 on the wire)
      const bytes = r.bytes(1 + r.int(40));
      return String.fromCharCode(...bytes.map((b) => (b === 0x20 || b === 0x0d || b === 0x0a ? 0x2f : b)));
    }
  }
}

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'FOO', 'get', 'PRI'];

function request(method: string, path: string, headers: [string, string][] = [], body = '', version = 'HTTP/1.1'): string {
  const lines = [`${method} ${path} ${version}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  return lines.join(CRLF) + CRLF + CRLF + body;
}

function simple(label: string, localAddress: string, bytes: string | Buffer, method: string, options: Partial<WireCase> = {}): WireCase {
  return { label, localAddress, steps: [{ write: bytes }], methods: [method], waitMs: 10_000, minAnswers: 1, mustClose: false, ...options };
}

export function requestTargetCase(r: Rng, ctx: WireContext): WireCase {
  const method = r.pick(METHODS);
  const path = target(r, ctx);
  const headers: [string, string][] = [['Host', r.pick(['relay', 'evil.example', '127.0.0.1:1', ''])]];
  if (method === 'POST' || method === 'PUT' || r.chance(0.2)) headers.push(['Content-Length', '0']);
  // CONNECT with a path, or any target the parser refuses: answered by 'connect' or 'clientError'; either way typed and closed.
  return simple(`${method} ${JSON.stringify(path.slice(0, 40))}`, attackerAddress(r), Buffer.from(request(method, path, headers), 'latin1'), method);
}

export function requestLineCase(r: Rng, ctx: WireContext): WireCase {
  const path = r.pick(ROUTES);
  const variants: [string, string][] = [
    ['no version', `GET ${path}${CRLF}${CRLF}`],
    ['HTTP/1.0', request('GET', path, [], '', 'HTTP/1.0')],
    ['HTTP/0.9', `GET ${path}${CRLF}`],
    ['HTTP/2.0', request('GET', path, [['Host', 'x']], '', 'HTTP/2.0')],
    ['HTTP/1.1 and more', request('GET', path, [['Host', 'x']], '', 'HTTP/1.1 extra')],
    ['lower-case version', request('GET', path, [['Host', 'x']], '', 'http/1.1')],
    ['two spaces', `GET  ${path} HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
    ['tabs', `GET\t${path}\tHTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
    ['LF only', `GET ${path} HTTP/1.1\nHost: x\n\n`],
    ['CR only', `GET ${path} HTTP/1.1\rHost: x\r\r`],
    ['leading blank lines', `${CRLF}${CRLF}GET ${path} HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
    ['NUL in the line', `GET ${path}\x00 HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`],
    ['long method', request('G'.repeat(1 + r.int(5_000)), path, [['Host', 'x']])],
    ['empty', `${CRLF}${CRLF}${CRLF}`],
    ['TLS hello', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'x'.repeat(40)],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['random bytes', Buffer.from(r.bytes(1 + r.int(300))).toString('latin1')],
  ];
  const [label, bytes] = r.pick(variants);
  // A truncated line with no end (HTTP/0.9, random bytes) waits for the header timeout, then gets a typed 408.
  return simple(label, attackerAddress(r), Buffer.from(bytes, 'latin1'), 'GET', { waitMs: ctx.headersTimeoutMs + 8_000, minAnswers: 0 });
}

export function headersCase(r: Rng, ctx: WireContext): WireCase {
  const path = r.pick(ROUTES);
  const method = r.pick(['GET', 'POST', 'HEAD']);
  const big = 'a'.repeat(16_384 + r.int(20_000));
  const variants: [string, [string, string][], string?][] = [
    ['oversized header', [['Host', 'x'], ['X-Big', big]]],
    ['many headers', [['Host', 'x'], ...Array.from({ length: 200 + r.int(2_000) }, (_, i) => [`X-H${i}`, 'v'] as [string, string])]],
    ['invalid header name', [['Host', 'x'], ['Bad Name', 'v']]],
    ['header name with a colon-less line', [['Host', 'x'], ['X-Ok', 'v\r\nno colon here']]],
    ['obs-fold', [['Host', 'x'], ['X-Fold', 'a\r\n  folded']]],
    ['two different lengths', [['Host', 'x'], ['Content-Length', '1'], ['Content-Length', '2']]],
    ['length and chunked', [['Host', 'x'], ['Content-Length', '4'], ['Transfer-Encoding', 'chunked']]],
    ['gzip, chunked', [['Host', 'x'], ['Transfer-Encoding', 'gzip, chunked']]],
    ['bad length', [['Host', 'x'], ['Content-Length', r.pick(['abc', '-1', '1e3', '99999999999999999999', ' 5', '0x10'])]]],
    ['NUL in a value', [['Host', 'x'], ['X-Nul', 'a\x00b']]],
    ['no Host', [['Accept', '*/*']]],
    ['odd Origin', [['Host', 'x'], ['Origin', r.pick(['null', 'https://evil.example', 'x'.repeat(3000)])]]],
    ['huge If-None-Match', [['Host', 'x'], ['If-None-Match', Array.from({ length: 300 }, (_, i) => `"${i}"`).join(', ')]]],
    ['spoofed X-Forwarded-For', [['Host', 'x'], ['X-Forwarded-For', '1.2.3.4, 5.6.7.8']]],
    ['Expect: 100-continue', [['Host', 'x'], ['Expect', '100-continue'], ['Content-Length', '0']]],
    ['Expect: nonsense', [['Host', 'x'], ['Expect', 'the-unexpected'], ['Content-Length', '0']]],
    ['Upgrade: h2c', [['Host', 'x'], ['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']]],
    ['Connection: close', [['Host', 'x'], ['Connection', 'close']]],
    ['Range', [['Host', 'x'], ['Range', 'bytes=0-10,5-1,-999999999']]],
  ];
  const [label, headers] = r.pick(variants);
  return simple(label, attackerAddress(r), Buffer.from(request(method, path, headers), 'latin1'), method, { waitMs: ctx.headersTimeoutMs + 8_000 });
}

export function bodyCase(r: Rng, ctx: WireContext): WireCase {
  const frame = ctx.frame ? Buffer.from(ctx.frame) : Buffer.from(r.bytes(600));
  const head = (length: number | string, path = '/api/submissions', method = 'POST') =>
    request(method, path, [['Host', 'x'], ['Content-Type', r.pick(['application/octet-stream', 'text/plain', 'multipart/form-data; boundary=x'])], ['Content-Length', String(length)]]);
  const localAddress = attackerAddress(r);
  const variants: (() => WireCase)[] = [
    // A declared length over the limit: refused without reading it.
    () => ({ ...simple('declared length over the limit', localAddress, head(ctx.bodyLimit + 1 + r.int(ctx.bodyLimit)), 'POST'), mustClose: true }),
    // Over the limit, and sent: answered or cut, never buffered.
    () => ({
      label: 'sent body over the limit',
      localAddress,
      steps: [{ write: head(ctx.bodyLimit * 3) }, { write: Buffer.alloc(Math.min(ctx.bodyLimit * 3, 4 << 20), 0x41) }],
      methods: ['POST'],
      waitMs: 15_000,
      minAnswers: 0,
      mustClose: true,
    }),
    // More bytes than declared: the extra is the next (broken) request.
    () => simple('body longer than declared', localAddress, Buffer.concat([Buffer.from(head(frame.length - 10)), frame]), 'POST', { methods: ['POST', 'GET'] }),
    // Fewer bytes, then FIN: the body ends early.
    () => ({
      label: 'short body, then FIN',
      localAddress,
      steps: [{ write: head(frame.length) }, { write: frame.subarray(0, r.int(frame.length)), end: true }],
      methods: ['POST'],
      waitMs: 10_000,
      minAnswers: 1,
      mustClose: true,
    }),
    () => simple('random body', localAddress, Buffer.concat([Buffer.from(head(300)), Buffer.from(r.bytes(300))]), 'POST'),
    () => simple('empty body', localAddress, head(0), 'POST'),
    () => simple('frame to another route', localAddress, Buffer.concat([Buffer.from(head(frame.length, r.pick(ROUTES), r.pick(['POST', 'PUT', 'GET']))), frame]), 'POST'),
    () => simple('frame, declared as JSON', localAddress, Buffer.concat([Buffer.from(request('POST', '/api/submissions', [['Host', 'x'], ['Content-Type', 'application/json'], ['Content-Length', String(frame.length)]])), frame]), 'POST'),
  ];
  return r.pick(variants)();
}

export function chunkedCase(r: Rng, ctx: WireContext): WireCase {
  const frame = ctx.frame ? Buffer.from(ctx.frame) : Buffer.from(r.bytes(400));
  const head = request('POST', '/api/submissions', [['Host', 'x'], ['Content-Type', 'application/octet-stream'], ['Transfer-Encoding', 'chunked']]);
  const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(bytes.length.toString(16) + CRLF), bytes, Buffer.from(CRLF)]);
  const pieces = (bytes: Buffer) => {
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const size = 1 + r.int(Math.max(1, bytes.length - at));
      out.push(chunk(bytes.subarray(at, at + size)));
      at += size;
    }
    return out;
  };
  const variants: [string, Buffer, boolean][] = [
    ['a real frame, chunked', Buffer.concat([Buffer.from(head), ...pieces(frame), Buffer.from(`0${CRLF}${CRLF}`)]), false],
    ['chunk extensions and trailers', Buffer.concat([Buffer.from(head), Buffer.from(`${frame.length.toString(16)};name=value${CRLF}`), frame, Buffer.from(`${CRLF}0${CRLF}X-Trailer: 1${CRLF}${CRLF}`)]), false],
    ['bad chunk size', Buffer.from(head + `zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`), true],
    ['negative chunk size', Buffer.from(head + `-5${CRLF}abcde${CRLF}0${CRLF}${CRLF}`), true],
    ['huge chunk size, little data', Buffer.from(head + `7fffffff${CRLF}abc`), true],
    ['chunk without its CRLF', Buffer.from(head + `3${CRLF}abcX0${CRLF}${CRLF}`), true],
    ['no final chunk', Buffer.from(head + `3${CRLF}abc${CRLF}`), true],
    ['chunked over the limit', Buffer.concat([Buffer.from(head), ...Array.from({ length: 1 + Math.ceil((2 * ctx.bodyLimit) / 65_536) }, () => chunk(Buffer.alloc(65_536)))]), true],
  ];
  const [label, bytes, broken] = r.pick(variants);
  return simple(label, attackerAddress(r), bytes, 'POST', { waitMs: ctx.requestTimeoutMs + 8_000, mustClose: broken, minAnswers: label === 'chunked over the limit' ? 0 : 1 });
}

export function pipeliningCase(r: Rng, ctx: WireContext): WireCase {
  const count = 2 + r.int(19);
  const methods: string[] = [];
  let bytes = '';
  for (let i = 0; i < count; i++) {
    const kind = r.int(6);
    const method = kind === 0 ? 'HEAD' : kind === 5 ? r.pick(METHODS) : 'GET';
    const path = kind === 4 ? target(r, ctx) : r.pick(['/api/health', '/api/run', '/api/round', '/api/stats', '/', '/assets/app.js', '/api/nope']);
    methods.push(method);
    bytes += request(method, path, [['Host', 'x'], ...(r.chance(0.05) ? [['Connection', 'close'] as [string, string]] : [])]);
  }
  return simple(`${count} pipelined`, attackerAddress(r), Buffer.from(bytes, 'latin1'), methods[0], { methods, waitMs: 15_000 });
}

export function resetCase(r: Rng, ctx: WireContext): WireCase {
  const frame = ctx.frame ? Buffer.from(ctx.frame) : Buffer.from(r.bytes(400));
  const full = Buffer.concat([Buffer.from(request('POST', '/api/submissions', [['Host', 'x'], ['Content-Length', String(frame.length)]])), frame]);
  const get = Buffer.from(request('GET', r.pick(['/api/checkpoint', '/api/run', '/', '/data/big.bin', '/api/updates?since=0&format=2']), [['Host', 'x']]));
  const variants: [string, Buffer][] = [
    ['reset before a byte', Buffer.alloc(0)],
    ['reset inside the request line', get.subarray(0, 1 + r.int(10))],
    ['reset after the headers', full.subarray(0, full.indexOf('\r\n\r\n') + 4)],
    ['reset mid-body', full.subarray(0, full.length - 1 - r.int(frame.length))],
    ['reset before the answer', full],
    ['reset while a big answer streams', Buffer.concat(Array.from({ length: 1 + r.int(5) }, () => get))],
  ];
  const [label, bytes] = r.pick(variants);
  const end = r.chance(0.3); // FIN instead of RST: a half-closed client
  return {
    label: end ? label.replace('reset', 'FIN') : label,
    localAddress: attackerAddress(r),
    steps: [{ write: bytes, pauseMs: r.pick([0, 0, 5, 50]) }, end ? { end: true } : { reset: true }],
    methods: ['POST'],
    waitMs: end ? 10_000 : 0,
    minAnswers: 0,
    mustClose: end,
    cutAllowed: end,
  };
}

export function slowCase(r: Rng, ctx: WireContext): WireCase {
  const frame = ctx.frame ? Buffer.from(ctx.frame) : Buffer.from(r.bytes(400));
  const head = Buffer.from(request('POST', '/api/submissions', [['Host', 'x'], ['Content-Type', 'application/octet-stream'], ['Content-Length', String(frame.length)]]));
  const localAddress = attackerAddress(r);
  switch (r.int(3)) {
    case 0:
      // Headers trickled, then stalled: a typed 408 after headersTimeout, and the connection closed.
      return {
        label: 'stalled headers',
        localAddress,
        steps: [{ write: head.subarray(0, 10), pauseMs: 100 }, { write: head.subarray(10, 20) }],
        methods: ['POST'],
        waitMs: ctx.headersTimeoutMs + 8_000,
        minAnswers: 1,
        mustClose: true,
      };
    case 1:
      // A body that stalls: 408 after requestTimeout.
      return {
        label: 'stalled body',
        localAddress,
        steps: [{ write: head }, { write: frame.subarray(0, r.int(frame.length)) }],
        methods: ['POST'],
        waitMs: ctx.requestTimeoutMs + 8_000,
        minAnswers: 1,
        mustClose: true,
      };
    default: {
      // A body trickled in pieces, all of it in time: answered like any upload.
      const steps: ExchangeStep[] = [{ write: head }];
      for (let at = 0; at < frame.length; at += Math.ceil(frame.length / 4)) steps.push({ write: frame.subarray(at, at + Math.ceil(frame.length / 4)), pauseMs: 50 + r.int(150) });
      return { label: 'trickled body', localAddress, steps, methods: ['POST'], waitMs: 10_000, minAnswers: 1, mustClose: false };
    }
  }
}

export function upgradeCase(r: Rng, ctx: WireContext): WireCase {
  const path = r.chance(0.5) ? '/api/events' : target(r, ctx);
  const headers: [string, string][] = [['Host', 'x']];
  if (r.chance(0.9)) headers.push(['Upgrade', r.pick(['websocket', 'websocket', 'WebSocket', 'h2c', 'foo', ''])]);
  headers.push(['Connection', r.pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close'])]);
  if (r.chance(0.9)) headers.push(['Sec-WebSocket-Key', r.pick(['dGhlIHNhbXBsZSBub25jZQ==', 'short', '', '!!!!!!!!!!!!!!!!!!!!!!==', Buffer.from(r.bytes(16)).toString('base64')])]);
  if (r.chance(0.9)) headers.push(['Sec-WebSocket-Version', r.pick(['13', '13', '8', '99', 'x', ''])]);
  if (r.chance(0.2)) headers.push(['Sec-WebSocket-Protocol', r.pick(['chat', 'a,,b', ' ', 'x'.repeat(500)])]);
  if (r.chance(0.2)) headers.push(['Sec-WebSocket-Extensions', r.pick(['permessage-deflate', 'permessage-deflate; client_max_window_bits=99', ';;;'])]);
  const method = r.pick(['GET', 'GET', 'GET', 'POST', 'HEAD']);
  const then = r.int(3); // 0: read the answer, 1: reset at once, 2: FIN at once
  return {
    label: `${method} upgrade ${JSON.stringify(path.slice(0, 30))}${then === 1 ? ', reset' : then === 2 ? ', FIN' : ''}`,
    localAddress: attackerAddress(r),
    steps: [{ write: Buffer.from(request(method, path, headers), 'latin1') }, ...(then === 1 ? [{ reset: true }] : then === 2 ? [{ end: true }] : [])],
    methods: [method],
    waitMs: then === 1 ? 0 : 3_000,
    minAnswers: then === 0 ? 1 : 0,
    mustClose: false,
  };
}

/** One masked client frame (RFC 6455 §5.2), with room to break every field. */
function wsFrame(opcode: number, payload: Buffer, options: { fin?: boolean; masked?: boolean; rsv?: number; claimedLength?: bigint } = {}): Buffer {
  const { fin = true, masked = true, rsv = 0 } = options;
  const length = options.claimedLength ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126n) head.push(maskBit | Number(length));
  else if (length < 65_536n) head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload);
  if (masked) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(head), masked ? mask : Buffer.alloc(0), body]);
}

export function websocketFramesCase(r: Rng): WireCase {
  const handshake = request('GET', '/api/events', [['Host', 'x'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']]);
  const variants: [string, Buffer, boolean][] = [
    ['a text message (the channel is one-way)', wsFrame(0x1, Buffer.from('hello')), true],
    ['an unmasked frame', wsFrame(0x1, Buffer.from('x'), { masked: false }), true],
    ['a message over the size limit', wsFrame(0x2, Buffer.alloc(2_000 + r.int(10_000))), true],
    ['a length of 2^62', wsFrame(0x2, Buffer.alloc(16), { claimedLength: 1n << 62n }), true],
    ['fragments adding up past the limit', Buffer.concat([wsFrame(0x1, Buffer.alloc(700), { fin: false }), wsFrame(0x0, Buffer.alloc(700), { fin: false }), wsFrame(0x0, Buffer.alloc(700))]), true],
    ['a continuation with nothing to continue', wsFrame(0x0, Buffer.from('x')), true],
    ['an oversized ping', wsFrame(0x9, Buffer.alloc(200)), true],
    ['a fragmented ping', wsFrame(0x9, Buffer.from('p'), { fin: false }), true],
    ['a reserved opcode', wsFrame(r.pick([0x3, 0x7, 0xb, 0xf]), Buffer.from('x')), true],
    ['reserved bits', wsFrame(0x1, Buffer.from('x'), { rsv: 1 + r.int(7) }), true],
    ['invalid UTF-8 text', wsFrame(0x1, Buffer.from([0xff, 0xfe])), true],
    ['a close with a bad code', wsFrame(0x8, Buffer.from([0x03, 0xe7])), true],
    ['random bytes', Buffer.from(r.bytes(1 + r.int(200))), false],
    ['a ping (allowed)', wsFrame(0x9, Buffer.from('ping')), false],
  ];
  const [label, frames, mustClose] = r.pick(variants);
  return {
    label,
    localAddress: attackerAddress(r),
    steps: [{ write: handshake, pauseMs: 20 }, { write: frames }, ...(mustClose ? [] : [{ pauseMs: 100 }, { reset: true }])],
    methods: ['GET'],
    waitMs: mustClose ? 35_000 : 0,
    minAnswers: mustClose ? 1 : 0,
    mustClose,
  };
}

export const WIRE_GENERATORS: Record<WireClass, (r: Rng, ctx: WireContext) => WireCase> = {
  'request-target': requestTargetCase,
  'request-line': requestLineCase,
  headers: headersCase,
  body: bodyCase,
  chunked: chunkedCase,
  pipelining: pipeliningCase,
  reset: resetCase,
  slow: slowCase,
  upgrade: upgradeCase,
  'websocket-frames': (r) => websocketFramesCase(r),
};
