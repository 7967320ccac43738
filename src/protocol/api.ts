// Every JSON body of the relay's API and every push event, as TypeScript
// types with their parsers: the relay builds these types, every client
// (headless volunteer, browser Worker, the app's relay view) reads the
// network through these parsers, so each shape is written once.
//
//   GET  /api/run              SwarmRunInfo     parseSwarmRunInfo (run-spec.ts checks the `swarm` member)
//   GET  /api/round            RoundStatus      parseRoundStatus
//   POST /api/submissions      SubmissionAck    parseSubmissionAck
//   GET  /api/stats            StatsBody        parseStatsBody
//   GET  /api/ledger           LeaderboardRow[] parseLeaderboard
//   GET  /api/ledger/:address  AddressLedger    parseAddressLedger
//   GET  /api/health           HealthBody       parseHealthBody
//   GET  /api/sample           SampleBody       parseSampleBody
//   GET  /api/model.json       ModelCard        parseModelCard
//   Gauntlet (gauntlet.ts, receipt.ts, round-archive.ts):
//   GET  /api/weights          WeightsFile      parseWeightsFile
//   GET  /api/leaderboard      Scoreboard       parseScoreboard
//   GET  /api/rounds/:r/receipt     SignedReceiptBody  parseSignedReceiptBody, verifyReceipt
//   GET  /api/rounds/:r/state       GauntletState      parseGauntletState
//   GET  /api/rounds/:r/submissions round archive      decodeRoundArchive
//   any refusal                ErrorBody        parseErrorBody (codes: error-codes.ts)
//   WS   /api/events           PushEvent        parsePushEvent
//
// Parsers are strict on the fields they know and ignore unknown ones, so a
// newer relay can add fields without breaking older tabs; a push event of an
// unknown type is refused. Every failure is ProtocolError('bad-message')
// naming the field. docs/protocol.md and docs/relay.md describe the same shapes.
//
// Leaves out: binary bodies (the submission frame: submission.ts; the
// catch-up bundle: bundle.ts; the checkpoint: raw float32), HTTP plumbing.
import { isValidRunId, type HexHash } from './header.ts';
import { EXCLUSION_REASONS, type ExclusionReason } from './gauntlet.ts';
import { address, array, bad, boolean, count, finite, finiteOrNull, hexHash, object, oneOf, text, u32 } from './json.ts';
import { checkStepRange, parseSwarmSpec, type SwarmSpec } from './run-spec.ts';

export { parseJson } from './json.ts';

// ------------------------------------------------------------------- /api/run

/** The part of GET /api/run every protocol version keeps: what a tab checks before anything else. */
export interface RunInfo {
  runId: string;
  /** Header domain tag the relay verifies, e.g. "tessera/submission/v1"; a tab that speaks another refuses to join. */
  protocol: string;
  /** SS58 prefix of accepted addresses (42). */
  ss58Prefix: number;
  /** Model preset name and its parameter count P, so a tab can check its own layout. */
  model: { name: string; parameterCount: number };
  /** Inner steps H per round: the nominal count (a submission may report any count in swarm.stepRange). */
  innerSteps: number;
  /** Nominal round length in milliseconds. */
  roundMs: number;
  /** Largest payload the relay accepts, in bytes. */
  maxPayloadBytes: number;
  relayVersion: string;
  /**
   * The address people open to join (the operator's --public-url: https on a
   * name or address phones can reach), or null when the operator gave none —
   * the page then offers its own address. The demo screen's QR code encodes it.
   */
  joinUrl: string | null;
}

/**
 * A join URL as a relay may publish it: an absolute http(s) URL without
 * credentials, query or fragment; its path ends with "/". Throws
 * ProtocolError('bad-message') naming `path`. The relay checks --public-url
 * with this at start; tabs check what the relay publishes.
 */
export function parseJoinUrl(value: unknown, path = 'joinUrl'): string {
  if (typeof value !== 'string' || value.length > 512) return bad(path, 'a URL of at most 512 characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad(path, `an absolute URL such as https://tessera.example.org/ (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') bad(path, `an http or https URL (got ${url.protocol})`);
  if (url.username || url.password) bad(path, 'a URL without a user name or password');
  if (url.search || url.hash) bad(path, 'a URL without a query or fragment');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** True for an address only this machine reaches (127.0.0.0/8, ::1, localhost): a phone that opens it reaches itself. */
export function isLoopbackUrl(href: string): boolean {
  const host = new URL(href).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** GET /api/run: the RunInfo and everything a volunteer trains by (run-spec.ts). */
export interface SwarmRunInfo extends RunInfo {
  swarm: SwarmSpec;
}

/**
 * The preset's tensor manifest: where each tensor of θ lives in the flat
 * float32 buffer that checkpoints, model hashes and updates all index
 * (docs/protocol.md "Tensor manifest"). A tab builds its layout from the
 * preset; an independent client can build its buffer from this alone.
 */
export interface RunManifest {
  /** Floats in the flat buffer, alignment padding included: a checkpoint is 4 × floats bytes. */
  floats: number;
  /** Every tensor starts at a multiple of this many floats; the floats between tensors are +0 and stay so. */
  alignFloats: number;
  /** The wire format's manifest digest (docs/wire-format.md), 16 lowercase hex digits. */
  digest: string;
  /** In buffer order; offset and size in floats, shape row-major. */
  tensors: { name: string; shape: number[]; offset: number; size: number }[];
}

/** GET /api/run as the relay sends it: the swarm run info and the tensor manifest. */
export interface RelayRunInfo extends SwarmRunInfo {
  manifest: RunManifest;
}

/** A manifest whose tensors are in buffer order, aligned, sized by their shapes and inside the buffer. */
export function parseRunManifest(json: unknown, path = 'run.manifest'): RunManifest {
  const o = object(json, path);
  const floats = count(o, 'floats', path, 1);
  const alignFloats = count(o, 'alignFloats', path, 1);
  const digest = text(o, 'digest', path, 16, /^[0-9a-f]{16}$/);
  let end = 0;
  const tensors = array(o.tensors, `${path}.tensors`, (value, at) => {
    const t = object(value, at);
    const shape = array(t.shape, `${at}.shape`, (dim, dimAt) => {
      if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) bad(dimAt, 'a non-negative integer');
      return dim;
    });
    const tensor = { name: text(t, 'name', at, 128), shape, offset: count(t, 'offset', at), size: count(t, 'size', at) };
    if (shape.length === 0 || shape.reduce((a, b) => a * b, 1) !== tensor.size) bad(`${at}.size`, 'the product of the shape');
    if (tensor.offset % alignFloats !== 0 || tensor.offset < end) bad(`${at}.offset`, `a multiple of ${alignFloats} after the previous tensor`);
    end = tensor.offset + tensor.size;
    if (end > floats) bad(`${at}.size`, `a tensor inside the ${floats} floats`);
    return tensor;
  });
  return { floats, alignFloats, digest, tensors };
}

export function parseRunInfo(json: unknown, path = 'runInfo'): RunInfo {
  const o = object(json, path);
  const runId = text(o, 'runId', path);
  if (!isValidRunId(runId)) bad(`${path}.runId`, '1..64 characters of [A-Za-z0-9._:-]');
  const model = object(o.model, `${path}.model`);
  return {
    runId,
    protocol: text(o, 'protocol', path, 64),
    ss58Prefix: u32(o, 'ss58Prefix', path),
    model: { name: text(model, 'name', `${path}.model`, 64), parameterCount: count(model, 'parameterCount', `${path}.model`) },
    // A round of zero steps trains nothing, and every such submission would be refused.
    innerSteps: u32(o, 'innerSteps', path, 1),
    roundMs: count(o, 'roundMs', path, 1),
    maxPayloadBytes: u32(o, 'maxPayloadBytes', path, 1),
    relayVersion: text(o, 'relayVersion', path, 64),
    joinUrl: o.joinUrl === null ? null : parseJoinUrl(o.joinUrl, `${path}.joinUrl`),
  };
}

/**
 * The whole GET /api/run body, checked as a tab needs it: every field a
 * volunteer uses, and that the run is one a tab can complete (run-spec.ts).
 * The relay runs the same parser over its own configuration when it starts.
 */
export function parseSwarmRunInfo(json: unknown, path = 'run'): SwarmRunInfo {
  const info = parseRunInfo(json, path);
  const swarm = parseSwarmSpec(object(json, path).swarm, `${path}.swarm`);
  checkStepRange(info.innerSteps, swarm.stepRange, `${path}.swarm.stepRange`);
  return { ...info, swarm };
}

// ----------------------------------------------------------------- /api/round

/** The open round: what to train from and until when. Also the `round-opened` push event's state. */
export interface RoundState {
  round: number;
  /** Global model version θ(version) this round trains from. */
  version: number;
  /** modelHash(θ(version)). */
  modelHash: HexHash;
  /** Submission deadline, milliseconds since the Unix epoch, relay clock. */
  deadline: number;
  /** Round seed; each peer's data comes from deriveDataSeed(dataSeed, address, round). */
  dataSeed: HexHash;
}

/** GET /api/round: RoundState plus what a dashboard shows about the open round. */
export interface RoundStatus extends RoundState {
  /** When the round opened, milliseconds since the Unix epoch, relay clock. */
  openedAt: number;
  /** Acknowledged submissions so far. */
  submissions: number;
  /** Submissions that close the round before its deadline. */
  quorum: number;
  /** The round is closing: new submissions are 'late'. */
  closing: boolean;
  /** The relay's clock when it answered (ms since the epoch): deadline − now is the time left, whatever the tab's clock says. */
  now: number;
}

export function parseRoundState(json: unknown, path = 'roundState'): RoundState {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    version: u32(o, 'version', path),
    modelHash: hexHash(o, 'modelHash', path),
    deadline: count(o, 'deadline', path),
    dataSeed: hexHash(o, 'dataSeed', path),
  };
}

export function parseRoundStatus(json: unknown, path = 'round'): RoundStatus {
  const o = object(json, path);
  return {
    ...parseRoundState(o, path),
    openedAt: count(o, 'openedAt', path),
    submissions: count(o, 'submissions', path),
    quorum: count(o, 'quorum', path, 1),
    closing: boolean(o, 'closing', path),
    now: count(o, 'now', path),
  };
}

// ---------------------------------------------------------- /api/submissions

/** The relay's answer to an accepted (stored) submission. */
export interface SubmissionAck {
  round: number;
  address: string;
  payloadHash: HexHash;
  /** Milliseconds since the Unix epoch, relay clock. */
  receivedAt: number;
}

export function parseSubmissionAck(json: unknown, path = 'ack'): SubmissionAck {
  const o = object(json, path);
  return {
    round: u32(o, 'round', path),
    address: address(o, 'address', path),
    payloadHash: hexHash(o, 'payloadHash', path),
    receivedAt: count(o, 'receivedAt', path),
  };
}

// --------------------------------------------------------------- push events

/** One acknowledged submission, as the swarm's live activity shows it. */
export interface SubmissionNotice {
  address: string;
  round: number;
  tokens: number;
  /** Milliseconds since the Unix epoch, relay clock. */
  receivedAt: number;
}

/** Most submissions a stats event lists (the newest of the open round). */
export const MAX_RECENT_SUBMISSIONS = 8;

/** Swarm figures: pushed as a `stats` event, and the head of GET /api/stats. */
export interface StatsEvent {
  type: 'stats';
  round: number;
  /** Open push channels: pages watching the relay (training or only displaying). */
  peers: number;
  /**
   * Tabs training now: addresses with an acknowledged submission in the open
   * round or in the last closed one. A viewer is not counted; a tab still in
   * its first round is counted once it submits.
   */
  trainers: number;
  /** The newest acknowledged submissions of the open round, newest first (at most MAX_RECENT_SUBMISSIONS). */
  recent: SubmissionNotice[];
  /** Submissions received this round. */
  submissions: number;
  /** Tokens trained on across the run. */
  tokens: number;
  /** Latest held-out loss of the global model, if the relay measured one. */
  loss: number | null;
}

/** Relay → tab over the WebSocket, discriminated by `type`. */
export type PushEvent =
  | { type: 'round-opened'; state: RoundState }
  | {
      type: 'round-closed';
      round: number;
      /** Submissions received / accepted into the aggregate. */
      submitted: number;
      accepted: number;
      /** The global model version after this round's outer step, and its modelHash. */
      version: number;
      modelHash: HexHash;
    }
  | StatsEvent;

export type PushEventType = PushEvent['type'];

const PUSH_EVENT_TYPES: readonly PushEventType[] = ['round-opened', 'round-closed', 'stats'];

function parseSubmissionNotice(json: unknown, path: string): SubmissionNotice {
  const o = object(json, path);
  return { address: address(o, 'address', path), round: u32(o, 'round', path), tokens: count(o, 'tokens', path), receivedAt: count(o, 'receivedAt', path) };
}

function parseStatsFields(o: Record<string, unknown>, path: string): StatsEvent {
  const recent = array(o.recent, `${path}.recent`, parseSubmissionNotice);
  if (recent.length > MAX_RECENT_SUBMISSIONS) bad(`${path}.recent`, `at most ${MAX_RECENT_SUBMISSIONS} entries`);
  return {
    type: 'stats',
    round: u32(o, 'round', path),
    peers: count(o, 'peers', path),
    trainers: count(o, 'trainers', path),
    recent,
    submissions: count(o, 'submissions', path),
    tokens: count(o, 'tokens', path),
    loss: finiteOrNull(o, 'loss', path),
  };
}

export function parsePushEvent(json: unknown, path = 'event'): PushEvent {
  const o = object(json, path);
  const type = oneOf(o, 'type', path, PUSH_EVENT_TYPES);
  switch (type) {
    case 'round-opened':
      return { type, state: parseRoundState(o.state, `${path}.state`) };
    case 'round-closed':
      return {
        type,
        round: u32(o, 'round', path),
        submitted: count(o, 'submitted', path),
        accepted: count(o, 'accepted', path),
        version: u32(o, 'version', path),
        modelHash: hexHash(o, 'modelHash', path),
      };
    case 'stats':
      return parseStatsFields(o, path);
    default: {
      const unknown: never = type;
      return bad(`${path}.type`, `a known event type (got ${JSON.stringify(unknown)})`);
    }
  }
}

// ----------------------------------------------------------------- /api/stats

/** The held-out loss of one global model version. */
export interface LossPoint {
  version: number;
  /** Mean cross-entropy in nats per byte. */
  loss: number;
  evaluatedAt: number;
}

/** One closed round, as the dashboards list it. */
export interface RoundSummary {
  round: number;
  /** The model version its outer step produced, and that model's hash. */
  version: number;
  modelHash: HexHash;
  submissions: number;
  /** Submissions Gauntlet put into the aggregate. */
  aggregated: number;
  tokens: number;
  reason: 'quorum' | 'deadline';
  closedAt: number;
  /** Scoring and aggregation to commit, in ms; null for rounds closed before the relay's last restart. */
  closeMs: number | null;
}

/** GET /api/stats: the `stats` event plus history. */
export interface StatsBody extends StatsEvent {
  /** The global model version. */
  version: number;
  /** Addresses with at least one accepted submission. */
  contributors: number;
  /** Held-out loss per version, oldest first (the last 500). */
  losses: LossPoint[];
  /** Recently closed rounds, oldest first (the last 50). */
  rounds: RoundSummary[];
}

const CLOSE_REASONS = ['quorum', 'deadline'] as const;

function parseLossPoint(json: unknown, path: string): LossPoint {
  const o = object(json, path);
  return { version: u32(o, 'version', path), loss: finite(o, 'loss', path), evaluatedAt: count(o, 'evaluatedAt', path) };
}

function parseRoundSummary(json: unknown, path: string): RoundSummary {
  const o = object(json, path);
  const closeMs = o.closeMs === null ? null : finite(o, 'closeMs', path, 0);
  return {
    round: u32(o, 'round', path),
    version: u32(o, 'version', path),
    modelHash: hexHash(o, 'modelHash', path),
    submissions: count(o, 'submissions', path),
    aggregated: count(o, 'aggregated', path),
    tokens: count(o, 'tokens', path),
    reason: oneOf(o, 'reason', path, CLOSE_REASONS),
    closedAt: count(o, 'closedAt', path),
    closeMs,
  };
}

export function parseStatsBody(json: unknown, path = 'stats'): StatsBody {
  const o = object(json, path);
  if (o.type !== 'stats') bad(`${path}.type`, '"stats"');
  return {
    ...parseStatsFields(o, path),
    version: u32(o, 'version', path),
    contributors: count(o, 'contributors', path),
    losses: array(o.losses, `${path}.losses`, parseLossPoint),
    rounds: array(o.rounds, `${path}.rounds`, parseRoundSummary),
  };
}

// ---------------------------------------------------------------- /api/ledger

/** GET /api/ledger: one address on the leaderboard. */
export interface LeaderboardRow {
  address: string;
  /** Closed rounds with a submission of this address (aggregated or not). */
  rounds: number;
  /** Tokens trained on in those rounds. */
  tokens: number;
}

/** One submission as the relay recorded it. */
export interface LedgerEntry {
  round: number;
  /** 'pending' while its round is open, then 'accepted' (its round closed; `aggregated` says whether it is in the aggregate). */
  status: 'accepted' | 'pending';
  /** The version its round's close produced (null while pending). */
  version: number | null;
  /** Whether Gauntlet aggregated it (null while pending). */
  aggregated: boolean | null;
  /** Why not, when it was not aggregated. */
  reason: ExclusionReason | null;
  payloadHash: HexHash;
  payloadBytes: number;
  tokens: number;
  innerSteps: number;
  receivedAt: number;
}

/** GET /api/ledger/:address: one address's submissions, round by round. */
export interface AddressLedger {
  address: string;
  totals: { accepted: number; pending: number; tokens: number };
  entries: LedgerEntry[];
}

const LEDGER_STATUSES = ['accepted', 'pending'] as const;

function parseLeaderboardRow(json: unknown, path: string): LeaderboardRow {
  const o = object(json, path);
  return { address: address(o, 'address', path), rounds: count(o, 'rounds', path), tokens: count(o, 'tokens', path) };
}

export function parseLeaderboard(json: unknown, path = 'leaderboard'): LeaderboardRow[] {
  return array(json, path, parseLeaderboardRow);
}

function parseLedgerEntry(json: unknown, path: string): LedgerEntry {
  const o = object(json, path);
  const status = oneOf(o, 'status', path, LEDGER_STATUSES);
  const version = status === 'pending' && o.version === null ? null : u32(o, 'version', path);
  const aggregated = status === 'pending' && o.aggregated === null ? null : boolean(o, 'aggregated', path);
  const reason = o.reason === null ? null : oneOf(o, 'reason', path, EXCLUSION_REASONS);
  if (aggregated === false && reason === null) bad(`${path}.reason`, 'why it was not aggregated');
  return {
    round: u32(o, 'round', path),
    status,
    version,
    aggregated,
    reason,
    payloadHash: hexHash(o, 'payloadHash', path),
    payloadBytes: u32(o, 'payloadBytes', path),
    tokens: count(o, 'tokens', path),
    innerSteps: u32(o, 'innerSteps', path),
    receivedAt: count(o, 'receivedAt', path),
  };
}

export function parseAddressLedger(json: unknown, path = 'ledger'): AddressLedger {
  const o = object(json, path);
  const totals = object(o.totals, `${path}.totals`);
  return {
    address: address(o, 'address', path),
    totals: {
      accepted: count(totals, 'accepted', `${path}.totals`),
      pending: count(totals, 'pending', `${path}.totals`),
      tokens: count(totals, 'tokens', `${path}.totals`),
    },
    entries: array(o.entries, `${path}.entries`, parseLedgerEntry),
  };
}

// ---------------------------------------------------------------- /api/sample

/** Bytes a sample continues its prompt by (the demo screen shows a few lines). */
export const SAMPLE_BYTES = 120;

/**
 * GET /api/sample: text the current global model wrote, continuing `prompt`
 * (written by the relay with onnxruntime, once per model version, at a fixed
 * temperature and a seed derived from the version). The continuation is raw
 * bytes, hex-encoded: a byte model writes any byte, and the page decides what
 * is printable (the JSON never carries a half-formed character).
 */
export interface SampleBody {
  version: number;
  modelHash: HexHash;
  prompt: string;
  temperature: number;
  /** "0x" + 2 hex digits per generated byte. */
  continuation: string;
}

export function parseSampleBody(json: unknown, path = 'sample'): SampleBody {
  const o = object(json, path);
  return {
    version: u32(o, 'version', path),
    modelHash: hexHash(o, 'modelHash', path),
    prompt: text(o, 'prompt', path, 256),
    temperature: finite(o, 'temperature', path, 0, 10),
    continuation: text(o, 'continuation', path, 2 + 2 * 4096, /^0x(?:[0-9a-f]{2})*$/),
  };
}

/** The bytes of a hex continuation ("0x…"). */
export function continuationBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  return bytes;
}

// ------------------------------------------------------------ /api/model.json

/**
 * GET /api/model.json: what the downloadable model is — the architecture in
 * words and numbers, the version and its hash, and where the files are
 * (docs/model-download.md loads them in PyTorch and onnxruntime).
 */
export interface ModelCard {
  architecture: 'tessera-gpt';
  runId: string;
  preset: string;
  version: number;
  /** modelHash(θ(version)): BLAKE2b-256 of the flat float32 buffer, as in every signed header. */
  modelHash: HexHash;
  parameterCount: number;
  config: {
    vocabSize: number;
    blockSize: number;
    nLayer: number;
    nHead: number;
    nEmbd: number;
    layerNormEpsilon: number;
    activation: 'gelu-tanh';
    tiedEmbeddings: true;
    /** Weights are stored (out, in): y = x · Wᵀ + b. */
    weightLayout: 'out-in';
    tokenizer: 'bytes';
  };
  files: { safetensors: string; onnx: string };
}

export function parseModelCard(json: unknown, path = 'model'): ModelCard {
  const o = object(json, path);
  if (o.architecture !== 'tessera-gpt') bad(`${path}.architecture`, '"tessera-gpt"');
  const c = object(o.config, `${path}.config`);
  const at = `${path}.config`;
  if (c.activation !== 'gelu-tanh' || c.tiedEmbeddings !== true || c.weightLayout !== 'out-in' || c.tokenizer !== 'bytes') bad(at, 'gelu-tanh, tied embeddings, out-in weights, a byte tokenizer');
  const files = object(o.files, `${path}.files`);
  return {
    architecture: 'tessera-gpt',
    runId: text(o, 'runId', path, 64),
    preset: text(o, 'preset', path, 64),
    version: u32(o, 'version', path),
    modelHash: hexHash(o, 'modelHash', path),
    parameterCount: count(o, 'parameterCount', path, 1),
    config: {
      vocabSize: u32(c, 'vocabSize', at, 1),
      blockSize: u32(c, 'blockSize', at, 1),
      nLayer: u32(c, 'nLayer', at, 1),
      nHead: u32(c, 'nHead', at, 1),
      nEmbd: u32(c, 'nEmbd', at, 1),
      layerNormEpsilon: finite(c, 'layerNormEpsilon', at, 0, 1),
      activation: 'gelu-tanh',
      tiedEmbeddings: true,
      weightLayout: 'out-in',
      tokenizer: 'bytes',
    },
    files: { safetensors: text(files, 'safetensors', `${path}.files`, 256), onnx: text(files, 'onnx', `${path}.files`, 256) },
  };
}

// ---------------------------------------------------------------- /api/health

export interface HealthBody {
  ok: true;
}

export function parseHealthBody(json: unknown, path = 'health'): HealthBody {
  if (object(json, path).ok !== true) bad(`${path}.ok`, 'true');
  return { ok: true };
}

// ----------------------------------------------------------------- refusals

/** Every refusal from the relay, HTTP or WebSocket. `code` is one of error-codes.ts (or a newer relay's). */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function parseErrorBody(json: unknown, path = 'body'): ErrorBody {
  const error = object(object(json, path).error, `${path}.error`);
  return { error: { code: text(error, 'code', `${path}.error`, 64), message: text(error, 'message', `${path}.error`, 1024) } };
}

/** True when a relay response body is an error body (has an `error` member). */
export function isErrorBody(json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'error' in json;
}
