// The relay's HTTP API and push channel as typed calls, for the headless
// volunteer and the browser Worker alike: fetch and a WebSocket constructor
// are the only platform pieces, and both are passed in or taken from
// globalThis (Node 20 has fetch but no global WebSocket: pass `ws`'s).
// Every answer is read through the protocol's parsers (protocol/api.ts,
// bundle.ts); every refusal becomes a RelayRequestError carrying the relay's
// error code (protocol/error-codes.ts says whether a retry can help).
//
// Leaves out: retries and backoff policy (the caller's loop decides), caching
// (the tab's storage layer keeps checkpoints).
import {
  BUNDLE_FORMAT,
  decodeBundle,
  hashToHex,
  isErrorBody,
  isTransientFailure,
  modelHash,
  parseAddressLedger,
  parseErrorBody,
  parseJson,
  parseGauntletRunInfo,
  parseLeaderboard,
  parsePushEvent,
  parseModelCard,
  parseScoreboard,
  parseSignedReceiptBody,
  parseRoundStatus,
  parseSampleBody,
  parseStatsBody,
  parseSubmissionAck,
  parseSwarmRunInfo,
  ProtocolError,
  verifyReceipt,
  type AddressLedger,
  type GauntletRunInfo,
  type Receipt,
  type Scoreboard,
  type BundleEntry,
  type ErrorCode,
  type HexHash,
  type LeaderboardRow,
  type ModelCard,
  type PushEvent,
  type RoundStatus,
  type SampleBody,
  type StatsBody,
  type SubmissionAck,
  type SwarmRunInfo,
} from '../protocol/index.ts';

/**
 * A refusal or failure answered by the relay (status > 0) or the network
 * (status 0, code 'network'). `code` is the relay's (protocol/error-codes.ts),
 * 'http-error' for an answer without an error body (a proxy's page), or a
 * code a newer relay added.
 */
export class RelayRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'RelayRequestError';
  }

  /** True when the relay refused with this code. */
  is(code: ErrorCode): boolean {
    return this.code === code;
  }

  /** True when the same request may succeed later (protocol/error-codes.ts decides). */
  get transient(): boolean {
    return isTransientFailure(this.code, this.status);
  }
}

/** The part of the WebSocket API used here; the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface RelayClientOptions {
  fetch?: typeof fetch;
  WebSocket?: WebSocketConstructor;
}

export class RelayClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly WebSocketImpl: WebSocketConstructor | null;

  constructor(baseUrl: string, options: RelayClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocketImpl = options.WebSocket ?? ((globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? null);
  }

  private async request(path: string, init?: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (cause) {
      throw new RelayRequestError(0, 'network', `cannot reach the relay at ${this.baseUrl}: ${(cause as Error).message}`);
    }
    if (response.ok) return response;
    let code = 'http-error';
    let message = `${response.status} ${response.statusText}`;
    try {
      const json: unknown = await response.json();
      if (isErrorBody(json)) ({ code, message } = parseErrorBody(json).error);
    } catch {
      // Not an error body (a proxy's page, say): keep the status line.
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new RelayRequestError(response.status, code, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null);
  }

  private async json(path: string): Promise<unknown> {
    return this.body(await this.request(path), path);
  }

  private async body(response: Response, path: string): Promise<unknown> {
    try {
      return await response.json();
    } catch (cause) {
      throw new ProtocolError('bad-message', `${path}: the relay did not answer JSON`, { cause });
    }
  }

  async run(): Promise<SwarmRunInfo> {
    return parseSwarmRunInfo(await this.json('/api/run'));
  }

  async round(): Promise<RoundStatus> {
    return parseRoundStatus(await this.json('/api/round'));
  }

  async stats(): Promise<StatsBody> {
    return parseStatsBody(await this.json('/api/stats'));
  }

  /** θ of the current version, checked against the hash the relay names for it. */
  async checkpoint(): Promise<{ version: number; modelHash: HexHash; params: Float32Array }> {
    const response = await this.request('/api/checkpoint');
    // A relay may redirect to object storage (docs/deploy.md): the bucket names the version and
    // hash in the object's metadata headers instead.
    const header = (name: string) => response.headers.get(`x-${name}`) ?? response.headers.get(`x-amz-meta-${name}`);
    const version = Number(header('tessera-model-version'));
    const claimed = header('tessera-model-hash');
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!Number.isSafeInteger(version) || !claimed || bytes.length % 4 !== 0) {
      throw new ProtocolError('bad-message', 'checkpoint response without a version, a hash or whole floats');
    }
    const params = new Float32Array(bytes.length / 4);
    new Uint8Array(params.buffer).set(bytes);
    const actual = hashToHex(modelHash(params));
    if (actual !== claimed) throw new ProtocolError('bad-message', `checkpoint v${version} hashes to ${actual}, the relay says ${claimed}`);
    return { version, modelHash: actual, params };
  }

  /** The aggregates after `since` (at most the relay's maxCatchUp), in order. */
  async updates(since: number): Promise<{ entries: BundleEntry[]; latest: number }> {
    const response = await this.request(`/api/updates?since=${since}&format=${BUNDLE_FORMAT}`);
    const latest = Number(response.headers.get('x-tessera-latest-version'));
    const entries = decodeBundle(new Uint8Array(await response.arrayBuffer()), since);
    return { entries, latest: Number.isSafeInteger(latest) ? latest : since + entries.length };
  }

  async submit(frame: Uint8Array): Promise<SubmissionAck> {
    const response = await this.request('/api/submissions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: frame as BodyInit,
    });
    return parseSubmissionAck(await this.body(response, '/api/submissions'));
  }

  /** One address's submissions, round by round. */
  async ledger(address: string): Promise<AddressLedger> {
    return parseAddressLedger(await this.json(`/api/ledger/${encodeURIComponent(address)}`));
  }

  /** Addresses by tokens contributed (the relay's top 100). */
  async leaderboard(): Promise<LeaderboardRow[]> {
    return parseLeaderboard(await this.json('/api/ledger'));
  }

  /** Gauntlet's rules and the address of the key that signs receipts (GET /api/run). */
  async gauntletRunInfo(): Promise<GauntletRunInfo> {
    return parseGauntletRunInfo(await this.json('/api/run'));
  }

  /** Gauntlet's scoreboard: addresses by payout share, then score. */
  async scoreboard(): Promise<Scoreboard> {
    return parseScoreboard(await this.json('/api/leaderboard'));
  }

  /**
   * Round `round`'s receipt, verified here: canonical bytes and the sr25519
   * signature of `relayAddress` (the run's, from gauntletRunInfo). Throws
   * ProtocolError ('bad-receipt', 'receipt-signature') when it does not verify.
   */
  async receipt(round: number, relayAddress: string): Promise<Receipt> {
    return verifyReceipt(parseSignedReceiptBody(await this.json(`/api/rounds/${round}/receipt`)), relayAddress);
  }

  /** Text the current global model wrote (the relay writes one per model version). */
  async sample(): Promise<SampleBody> {
    return parseSampleBody(await this.json('/api/sample'));
  }

  /** What the downloadable model is: architecture, version, hash and file paths. */
  async modelCard(): Promise<ModelCard> {
    return parseModelCard(await this.json('/api/model.json'));
  }

  /**
   * Push events until close() is called; reconnects with backoff (1 s doubling
   * to 30 s). Returns null where no WebSocket implementation is available:
   * the caller then relies on polling.
   */
  events(onEvent: (event: PushEvent) => void, onProblem?: (message: string) => void): { close(): void } | null {
    const Impl = this.WebSocketImpl;
    if (!Impl) return null;
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/api/events`;
    let socket: WebSocketLike | null = null;
    let closed = false;
    let retryMs = 1000;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const connect = () => {
      socket = new Impl(url);
      socket.onopen = () => {
        retryMs = 1000;
      };
      socket.onmessage = ({ data }) => {
        try {
          onEvent(parsePushEvent(parseJson(messageText(data))));
        } catch (error) {
          onProblem?.(`ignored a push message: ${(error as Error).message}`);
        }
      };
      socket.onerror = () => {};
      socket.onclose = () => {
        if (closed) return;
        timer = setTimeout(connect, retryMs);
        retryMs = Math.min(30_000, retryMs * 2);
      };
    };
    connect();
    return {
      close() {
        closed = true;
        if (timer) clearTimeout(timer);
        socket?.close();
      },
    };
  }
}

/** A WebSocket message as text: a string, or bytes (ws hands Buffers, a browser may hand ArrayBuffers). */
function messageText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  throw new ProtocolError('bad-message', 'a push message that is neither text nor bytes');
}
