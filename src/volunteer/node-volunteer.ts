// A headless volunteer in Node: the browser tab's round loop (src/swarm/) with
// Dawn (npm `webgpu`) for the GPU, `ws` for the push channel, the Brown
// corpus from disk (checked against the run's digest) and a keyring signer
// that signs like a wallet extension. The CLI (main.ts) and the tests use it.
// Compression runs on the GPU or the CPU, whichever measures faster on this
// adapter at start (src/swarm/compression-path.ts), unless the caller says.
// Leaves out: persistence between runs (a restarted volunteer downloads the
// current checkpoint, starts a fresh residual and measures again).
import { WebSocket } from 'ws';
import { ensureDataset } from '../data/prepare.ts';
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { protocolReady } from '../protocol/index.ts';
import { createRoundCompressor, measureCompressionPaths, type CompressionMeasurement } from '../swarm/compression-path.ts';
import type { CompressionPath } from '../swarm/compressor.ts';
import { keyringSigner } from '../swarm/keyring-signer.ts';
import { RelayClient, type WebSocketConstructor } from '../swarm/relay-client.ts';
import { GpuTrainer } from '../swarm/trainer.ts';
import { Volunteer, type VolunteerEvent } from '../swarm/volunteer.ts';

export const CLIENT_VERSION = 'tessera-volunteer/0.1.0 node';

export interface NodeVolunteerOptions {
  /** The relay's base URL, e.g. http://127.0.0.1:8787 */
  relayUrl: string;
  /** Secret URI: a dev URI (//Alice), a mnemonic, or a mnemonic with a derivation path. */
  key: string;
  /** Share one device between several in-process volunteers; default: acquire one. */
  gpu?: GpuContext;
  /** 'auto' (default): measure both paths and take the faster; or force one. */
  compression?: 'auto' | CompressionPath;
  /** Told how compression was chosen ('auto' only). */
  onCompressionMeasured?: (measurement: CompressionMeasurement) => void;
  pollMs?: number;
  onEvent?: (event: VolunteerEvent) => void;
  signal?: AbortSignal;
}

export async function createNodeVolunteer(options: NodeVolunteerOptions): Promise<Volunteer> {
  await protocolReady();
  const { address, signer } = keyringSigner(options.key);
  const client = new RelayClient(options.relayUrl, { WebSocket: WebSocket as unknown as WebSocketConstructor });
  const run = await Volunteer.fetchRun(client);
  const { train: data, manifest } = ensureDataset();
  if (manifest.train_sha256 !== run.swarm.data.trainSha256) {
    throw new Error(`local training data (sha256 ${manifest.train_sha256}) differs from the run's (${run.swarm.data.trainSha256})`);
  }
  const ctx = options.gpu ?? new GpuContext(await acquireNodeDevice());
  const trainer = await GpuTrainer.create(ctx, run.swarm, data);
  try {
    const { layout } = trainer.model;
    const { compression, errorFeedbackBeta } = run.swarm;
    let path = options.compression ?? 'auto';
    if (path === 'auto') {
      const measurement = await measureCompressionPaths(ctx, layout.tensors, layout.size, compression, errorFeedbackBeta);
      options.onCompressionMeasured?.(measurement);
      path = measurement.path;
    }
    const { compressor, problem } = await createRoundCompressor(path, ctx, layout.tensors, layout.size, compression, errorFeedbackBeta);
    if (problem) options.onEvent?.({ type: 'problem', message: problem });
    return Volunteer.start(run, trainer, compressor, {
      client,
      signer,
      address,
      clientVersion: CLIENT_VERSION,
      pollMs: options.pollMs,
      onEvent: options.onEvent,
      signal: options.signal,
    });
  } catch (error) {
    trainer.destroy();
    throw error;
  }
}
