// `npm run relay -- [options]`: start (or resume) a run and serve app, API and
// events on one origin. Prints the URL. SIGINT/SIGTERM stop it: new requests
// are refused, in-flight ones get --shutdown-grace-ms, then every socket is
// closed and the process exits — at most SHUTDOWN_BOUND_MS after the grace,
// whatever clients hold open. A second signal exits at once.
// A run no tab could complete (H = 0, an odd top-k, a sequence longer than
// the model's context…) is refused at start, by the parser the tabs run on
// GET /api/run, with a message naming the flag (RUN_FLAGS below). Every option
// of docs/relay.md is a flag; values are checked here, with the flag's name.
// Storage: the embedded file store in --data-dir by default; `--store
// postgres` keeps records in PostgreSQL (--database, or the PG* environment
// variables) and blobs in --blobs (a directory, or s3://bucket/prefix with
// credentials from the AWS environment variables): docs/deploy.md.
// The join URL (--public-url) is checked by the parser tabs read it with; TLS
// files (--tls-cert, --tls-key) are read and matched before anything starts
// (docs/demo.md). A port in use ends the start with one line naming --port.
// Leaves out: the configuration's defaults and checks (config.ts), assembly (launch.ts).
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { GPT_PRESET_NAMES } from '../model/config.ts';
import { choiceFlag, exitWhenStopped, integerFlag, numberFlag, parseCommandLine, runCli, StartError, UsageError } from '../node/cli.ts';
import { isLoopbackUrl, isProtocolError, isValidAddress, parseJoinUrl, type HexHash } from '../protocol/index.ts';
import { RunConfigError, type RateLimit, type RelayOptionsInput, type RunConfigInput, type ServerLimits } from './config.ts';
import { AGGREGATION_RULES } from '../compress/aggregate.ts';
import { PUBLISHED_UPDATE_FORMS } from '../compress/codec.ts';
import { launchRelay } from './launch.ts';
import { jsonLogger, lineLogger } from './log.ts';
import { STORE_FLAGS, storeSettings } from './store-flags.ts';
import { TlsConfigError } from './tls.ts';

/** After the grace period, the relay's own stop (a round close, an evaluation) gets this long before the process exits anyway. */
const SHUTDOWN_BOUND_MS = 10_000;

const USAGE = `usage: npm run relay -- [options]
  --port 8787  --host 127.0.0.1  --data-dir .tessera/relay  --dist dist|none  --no-eval
  --public-url https://NAME/  --tls-cert cert.pem  --tls-key key.pem   (a demo for phones: docs/demo.md)
run (only when the data directory is new; afterwards the stored run wins):
  --preset ${GPT_PRESET_NAMES.join('|')}  --run-id ID  --run-seed 0x…(64 hex)  --init-seed N
  --inner-steps H  --min-steps 1  --max-steps 8·H  --batch-size B  --seq-len T  --lr 1e-3  --warmup-steps N
  --planned-rounds N  --chunk-size 4096  --top-k 64  --ef-beta 0.95  --outer-lr 2  --rule ${AGGREGATION_RULES.join('|')}
  --token-cap 2  --update ${PUBLISHED_UPDATE_FORMS.join('|')}  --eval-batches N
  --gauntlet on|off  --top-g 20  --evaluations 20  --copy-grace 2  --bma-warmup 0
relay (any time):
  --round-ms 120000  --quorum 16  --min-submissions 1  --max-payload-bytes N  --allow ADDR,ADDR
  --ip-rate 120/10  --address-rate 20/1  --keep-checkpoints 2  --max-catch-up 64
  --stats-interval-ms 2000  --heartbeat-ms 30000  --trust-proxy  --cors-origins *|ORIGIN,ORIGIN
  --evaluation-timeout-ms 60000
resource limits (docs/relay.md "Resource limits"; rates are BURST/PER_SECOND):
  --headers-timeout-ms 10000  --request-timeout-ms 60000  --keep-alive-timeout-ms 5000
  --socket-idle-timeout-ms 60000  --max-header-bytes 16384  --max-requests-per-socket 1000
  --connections-per-ip 256  --max-connections 4096  --uploads-per-ip 8  --max-uploads N
  --api-read-rate 600/100  --bulk-read-rate 120/4  --websockets-per-ip 128  --max-websockets 4096
  --websocket-max-message-bytes 1024  --shutdown-grace-ms 5000
  --check-threads N (signature checks and decoding in N worker threads; default: cores, at most 4; 0: on the event loop)
storage (docs/deploy.md):
  --store file|postgres  --database postgresql://…  --replica NAME  --inline-frame-bytes 262144
  --blobs DIR|s3://BUCKET/PREFIX  --s3-endpoint URL  --s3-region us-east-1  --s3-path-style
  --blob-redirect none|public:BASE-URL|presigned:SECONDS
  --scoring inline|workers (workers: evaluations as jobs for npm run scorer)  --scoring-timeout-ms 60000
logs: --log-format text|json (text: lines for a terminal; json: one pino object per line)
  --help`;

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  'data-dir': { type: 'string', default: '.tessera/relay' },
  dist: { type: 'string' },
  'no-eval': { type: 'boolean', default: false },
  'public-url': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  preset: { type: 'string', default: 'nano' },
  'run-id': { type: 'string' },
  'run-seed': { type: 'string' },
  'init-seed': { type: 'string' },
  'inner-steps': { type: 'string' },
  'min-steps': { type: 'string' },
  'max-steps': { type: 'string' },
  rule: { type: 'string' },
  'token-cap': { type: 'string' },
  update: { type: 'string' },
  'batch-size': { type: 'string' },
  'seq-len': { type: 'string' },
  lr: { type: 'string' },
  'warmup-steps': { type: 'string' },
  'planned-rounds': { type: 'string' },
  'chunk-size': { type: 'string' },
  'top-k': { type: 'string' },
  'ef-beta': { type: 'string' },
  'outer-lr': { type: 'string' },
  'eval-batches': { type: 'string' },
  gauntlet: { type: 'string' },
  'top-g': { type: 'string' },
  evaluations: { type: 'string' },
  'copy-grace': { type: 'string' },
  'bma-warmup': { type: 'string' },
  'evaluation-timeout-ms': { type: 'string' },
  'round-ms': { type: 'string' },
  quorum: { type: 'string' },
  'min-submissions': { type: 'string' },
  'max-payload-bytes': { type: 'string' },
  allow: { type: 'string' },
  'ip-rate': { type: 'string' },
  'address-rate': { type: 'string' },
  'keep-checkpoints': { type: 'string' },
  'max-catch-up': { type: 'string' },
  'stats-interval-ms': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'trust-proxy': { type: 'boolean', default: false },
  'cors-origins': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'keep-alive-timeout-ms': { type: 'string' },
  'socket-idle-timeout-ms': { type: 'string' },
  'max-header-bytes': { type: 'string' },
  'max-requests-per-socket': { type: 'string' },
  'connections-per-ip': { type: 'string' },
  'max-connections': { type: 'string' },
  'uploads-per-ip': { type: 'string' },
  'max-uploads': { type: 'string' },
  'api-read-rate': { type: 'string' },
  'bulk-read-rate': { type: 'string' },
  'websockets-per-ip': { type: 'string' },
  'max-websockets': { type: 'string' },
  'websocket-max-message-bytes': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  'check-threads': { type: 'string' },
  ...STORE_FLAGS,
  scoring: { type: 'string', default: 'inline' },
  'scoring-timeout-ms': { type: 'string' },
  'log-format': { type: 'string', default: 'text' },
} as const;

/** The flag behind each field the start-time check can refuse (RunConfigError.field). */
const RUN_FLAGS: Record<string, keyof typeof FLAGS> = {
  'run.runId': 'run-id',
  'run.innerSteps': 'inner-steps',
  'run.swarm.stepRange.min': 'min-steps',
  'run.swarm.stepRange.max': 'max-steps',
  'run.swarm.aggregation.tokenCap': 'token-cap',
  'run.roundMs': 'round-ms',
  'run.swarm.train.batchSize': 'batch-size',
  'run.swarm.train.seqLen': 'seq-len',
  'run.swarm.train.learningRate': 'lr',
  'run.swarm.train.warmupSteps': 'warmup-steps',
  'run.swarm.train.totalSteps': 'planned-rounds',
  'run.swarm.compression.chunkSize': 'chunk-size',
  'run.swarm.compression.topK': 'top-k',
  'run.swarm.errorFeedbackBeta': 'ef-beta',
  'run.swarm.outerLearningRate': 'outer-lr',
  'run.swarm.runSeed': 'run-seed',
  'run.swarm.quorum': 'quorum',
  'run.joinUrl': 'public-url',
  minSubmissions: 'min-submissions',
  initSeed: 'init-seed',
  'evaluation.batches': 'eval-batches',
  'gauntlet.selection.topG': 'top-g',
  'gauntlet.evaluation.maxSubmissions': 'evaluations',
  'gauntlet.copy.graceRounds': 'copy-grace',
  'gauntlet.bma.warmupRounds': 'bma-warmup',
  evaluationTimeoutMs: 'evaluation-timeout-ms',
};

/** Leaves out the keys whose value is undefined (so the defaults apply). */
function given<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A token bucket as BURST/PER_SECOND, e.g. 120/10. */
function rateFlag(value: string | undefined, flag: string): RateLimit | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(value);
  if (!match || Number(match[1]) < 1) throw new UsageError(`--${flag} needs BURST/PER_SECOND with BURST ≥ 1, e.g. 120/10, got ${JSON.stringify(value)}`);
  return { burst: Number(match[1]), perSecond: Number(match[2]) };
}

/** A comma-separated list. */
function listFlag(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

async function main(): Promise<'keep-running' | void> {
  const { values } = parseCommandLine(process.argv.slice(2), FLAGS);
  const runSeed = values['run-seed'];
  if (runSeed !== undefined && !/^0x[0-9a-f]{64}$/.test(runSeed)) throw new UsageError('--run-seed needs 0x and 64 lowercase hex digits');
  // Run settings stay plain numbers here: whether they make a run is the tabs' parser's call (config.ts checkRun).
  const run: Omit<RunConfigInput, 'data'> = {
    preset: choiceFlag(values.preset, 'preset', GPT_PRESET_NAMES),
    runId: values['run-id'],
    runSeed: runSeed as HexHash | undefined,
    innerSteps: numberFlag(values['inner-steps'], 'inner-steps'),
    stepRange: given({ min: numberFlag(values['min-steps'], 'min-steps'), max: numberFlag(values['max-steps'], 'max-steps') }),
    aggregation: given({ rule: choiceFlag(values.rule, 'rule', AGGREGATION_RULES), tokenCap: numberFlag(values['token-cap'], 'token-cap') }),
    update: choiceFlag(values.update, 'update', PUBLISHED_UPDATE_FORMS),
    plannedRounds: numberFlag(values['planned-rounds'], 'planned-rounds'),
    initSeed: numberFlag(values['init-seed'], 'init-seed'),
    errorFeedbackBeta: numberFlag(values['ef-beta'], 'ef-beta'),
    outerLearningRate: numberFlag(values['outer-lr'], 'outer-lr'),
    train: given({
      batchSize: numberFlag(values['batch-size'], 'batch-size'),
      seqLen: numberFlag(values['seq-len'], 'seq-len'),
      learningRate: numberFlag(values.lr, 'lr'),
      warmupSteps: numberFlag(values['warmup-steps'], 'warmup-steps'),
    }),
    compression: given({ chunkSize: numberFlag(values['chunk-size'], 'chunk-size'), topK: numberFlag(values['top-k'], 'top-k') }),
    evaluation: given({ batches: numberFlag(values['eval-batches'], 'eval-batches') }),
    gauntlet: {
      ...given({ enabled: values.gauntlet === undefined ? undefined : choiceFlag(values.gauntlet, 'gauntlet', ['on', 'off'] as const) === 'on' }),
      selection: given({ topG: numberFlag(values['top-g'], 'top-g') }),
      evaluation: given({ maxSubmissions: numberFlag(values.evaluations, 'evaluations') }),
      copy: given({ graceRounds: numberFlag(values['copy-grace'], 'copy-grace') }),
      bma: given({ warmupRounds: numberFlag(values['bma-warmup'], 'bma-warmup') }),
    },
  };
  const allow = listFlag(values.allow);
  for (const address of allow ?? []) if (!isValidAddress(address)) throw new UsageError(`--allow: ${address} is not an SS58 prefix-42 address`);
  let publicUrl: string | undefined;
  if (values['public-url'] !== undefined) {
    try {
      publicUrl = parseJoinUrl(values['public-url'], 'public-url');
    } catch (error) {
      if (!isProtocolError(error, 'bad-message')) throw error;
      throw new UsageError(`--${error.message}`);
    }
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither');
  const tls = values['tls-cert'] && values['tls-key'] ? { certFile: resolve(values['tls-cert']), keyFile: resolve(values['tls-key']) } : undefined;
  const cors = listFlag(values['cors-origins']);
  for (const origin of cors ?? []) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) throw new UsageError(`--cors-origins: ${JSON.stringify(origin)} is not an origin (scheme://host[:port]) or *`);
  }
  const limit = (flag: keyof typeof FLAGS, min = 0) => integerFlag(values[flag] as string | undefined, flag, min);
  const limits: Partial<ServerLimits> = given({
    headersTimeoutMs: limit('headers-timeout-ms', 1),
    requestTimeoutMs: limit('request-timeout-ms', 1),
    keepAliveTimeoutMs: limit('keep-alive-timeout-ms', 1),
    socketIdleTimeoutMs: limit('socket-idle-timeout-ms', 1),
    maxHeaderBytes: limit('max-header-bytes', 1024),
    maxRequestsPerSocket: limit('max-requests-per-socket', 1),
    connectionsPerIp: limit('connections-per-ip', 1),
    maxConnections: limit('max-connections', 1),
    uploadsPerIp: limit('uploads-per-ip', 1),
    maxUploads: limit('max-uploads', 1),
    apiReadRateLimit: rateFlag(values['api-read-rate'], 'api-read-rate'),
    bulkReadRateLimit: rateFlag(values['bulk-read-rate'], 'bulk-read-rate'),
    webSocketsPerIp: limit('websockets-per-ip', 0),
    maxWebSockets: limit('max-websockets', 0),
    webSocketMaxMessageBytes: limit('websocket-max-message-bytes', 1),
    shutdownGraceMs: limit('shutdown-grace-ms', 0),
  });
  const relay: RelayOptionsInput = {
    ...given({
      roundMs: numberFlag(values['round-ms'], 'round-ms'),
      quorum: numberFlag(values.quorum, 'quorum'),
      minSubmissions: numberFlag(values['min-submissions'], 'min-submissions'),
      maxPayloadBytes: limit('max-payload-bytes', 1),
      ipRateLimit: rateFlag(values['ip-rate'], 'ip-rate'),
      addressRateLimit: rateFlag(values['address-rate'], 'address-rate'),
      allowlist: allow,
      keepCheckpoints: limit('keep-checkpoints'),
      maxCatchUp: limit('max-catch-up', 1),
      statsIntervalMs: limit('stats-interval-ms', 1),
      heartbeatMs: limit('heartbeat-ms', 1),
      evaluationTimeoutMs: limit('evaluation-timeout-ms', 1),
      trustProxy: values['trust-proxy'] || undefined,
      corsOrigins: cors === undefined ? undefined : cors.includes('*') ? ('*' as const) : cors,
      publicUrl,
    }),
    limits,
  };

  const logFormat = choiceFlag(values['log-format'], 'log-format', ['text', 'json'] as const);
  const logger = logFormat === 'json' ? jsonLogger(values.replica ? { replica: values.replica } : {}) : lineLogger((line) => console.log(line));
  const port = integerFlag(values.port, 'port') ?? 8787;
  let server;
  try {
    server = await launchRelay({
      dataDir: resolve(values['data-dir']),
      host: values.host,
      port,
      tls,
      distDir: values.dist === 'none' ? null : values.dist ? resolve(values.dist) : undefined,
      run,
      relay,
      evaluate: !values['no-eval'],
      store: storeSettings(values),
      scoring:
        choiceFlag(values.scoring, 'scoring', ['inline', 'workers'] as const) === 'workers'
          ? { kind: 'workers', timeoutMs: integerFlag(values['scoring-timeout-ms'], 'scoring-timeout-ms', 1) ?? 60_000 }
          : { kind: 'inline' },
      checkThreads: integerFlag(values['check-threads'], 'check-threads') ?? Math.min(4, availableParallelism()),
      logger,
    });
  } catch (error) {
    if (error instanceof TlsConfigError) throw new UsageError(error.message);
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'EADDRINUSE') throw new StartError(`Port ${port} on ${values.host} is already in use (another relay?): stop that one, or start this one with --port and a free port, e.g. --port ${port + 1}.`);
    if (code === 'EACCES') throw new StartError(`Port ${port} on ${values.host} needs more rights than this user has: choose --port 1024 or above.`);
    if (code === 'EADDRNOTAVAIL') throw new StartError(`--host ${values.host} is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses.`);
    if (!(error instanceof RunConfigError)) throw error;
    const flag = RUN_FLAGS[error.field];
    const typed = flag === undefined ? undefined : values[flag];
    const setting = typed === undefined ? 'this run is refused' : `--${flag} ${typed} is refused`;
    const why = error.field.startsWith('run.') ? ' (every tab checks a run with this same rule when it joins)' : '';
    throw new UsageError(`${setting}: ${error.message}${why}`);
  }

  const info = server.relay.runInfo();
  const joinUrl = info.joinUrl ?? server.url;
  const g = info.gauntlet;
  if (logFormat === 'json') {
    logger.info(
      { url: server.url, joinUrl, runId: info.runId, model: info.model.name, parameters: info.model.parameterCount, innerSteps: info.innerSteps, quorum: info.swarm.quorum, roundMs: info.roundMs, relayAddress: info.relayAddress, gauntlet: g.enabled },
      `Tessera relay listening on ${server.url}`,
    );
  } else {
    // One write, so whoever waits for the "listening" line also has the rest of the banner.
    const banner = [
      `Tessera relay listening on ${server.url}`,
      `  join URL (the demo screen's QR code): ${joinUrl}`,
      ...(isLoopbackUrl(joinUrl)
        ? ['  phones cannot open a loopback address: for a room, pass --public-url with an https address they reach (docs/demo.md)']
        : joinUrl.startsWith('https:') ? [] : ['  phones get no WebGPU over plain http: serve https (--tls-cert/--tls-key or a proxy, docs/demo.md)']),
      `  run ${info.runId}: ${info.model.name} (${info.model.parameterCount} parameters), H = ${info.innerSteps}, quorum ${info.swarm.quorum}, rounds of ${info.roundMs / 1000} s`,
      `  receipts signed by ${info.relayAddress}; Gauntlet ${g.enabled ? `on (top ${g.selection.topG}, at most ${g.evaluation.maxSubmissions} evaluations per round)` : 'off'}`,
      `  volunteer: npm run volunteer -- --relay ${server.url.replace(/\/$/, '')} --key //Alice`,
    ];
    console.log(banner.join('\n'));
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1); // a second signal does not wait
    stopping = true;
    const grace = server.relay.options.limits.shutdownGraceMs;
    logger.info({ signal, graceMs: grace }, 'refusing new requests; finishing those in flight');
    // Whatever happens below (a stuck disk under a round close), the process ends.
    setTimeout(() => {
      logger.error({ signal }, `not stopped after ${grace + SHUTDOWN_BOUND_MS} ms; exiting`);
      process.exit(1);
    }, grace + SHUTDOWN_BOUND_MS).unref();
    void exitWhenStopped(server.close(), () => logger.info('stopped'));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return 'keep-running';
}

runCli(USAGE, main);
