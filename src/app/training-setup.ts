// What the Worker trains when the page starts it standalone: a preset sized
// for this adapter, overridable from the URL for demos and tests
// (?preset=nano&batch=2&seq=16&evalEvery=0&checkpointEvery=0&seed=1).
// Values are validated by the Worker protocol's parser, so a bad URL fails on
// the page with a clear message rather than in the Worker.
// In swarm mode the relay's run fixes model and steps: swarmSetup only names
// the relay (this page's origin), the signing account and the throttle.
import { GPT_PRESETS, defaultTrainConfig, type GptPresetName } from '../model/config.ts';
import { parseSwarmSetup, parseTrainingSetup, type AdapterSummary, type SwarmSetup, type TrainingSetup } from '../worker/protocol.ts';

/** Signed into every header (printable ASCII): the relay's logs say which build sent what. */
export const CLIENT_VERSION = 'tessera-web/0.1.0';

export function swarmSetup(relayUrl: string, address: string, throttle: number): SwarmSetup {
  return parseSwarmSetup({ relayUrl, address, throttle, clientVersion: CLIENT_VERSION });
}

/** A software adapter (SwiftShader, WARP, llvmpipe) trains the smallest preset at a small batch; a GPU, 'tiny'. */
export function isSoftwareAdapter(adapter: AdapterSummary): boolean {
  return adapter.isFallbackAdapter || /swiftshader|llvmpipe|warp|software/i.test(`${adapter.architecture} ${adapter.description} ${adapter.device}`);
}

function integerParam(search: URLSearchParams, name: string, fallback: number): number {
  const raw = search.get(name);
  return raw === null || raw === '' ? fallback : Number(raw);
}

export function standaloneSetup(adapter: AdapterSummary | null, search: URLSearchParams, baseUrl: string, throttle: number): TrainingSetup {
  const software = adapter ? isSoftwareAdapter(adapter) : true;
  const preset = (search.get('preset') ?? (software ? 'nano' : 'tiny')) as GptPresetName;
  const config = GPT_PRESETS[preset] ?? GPT_PRESETS.nano;
  const defaults = defaultTrainConfig(config);
  return parseTrainingSetup({
    runId: `local-${preset}`,
    preset,
    batchSize: integerParam(search, 'batch', software ? 4 : defaults.batchSize),
    seqLen: integerParam(search, 'seq', software ? Math.min(64, defaults.seqLen) : defaults.seqLen),
    seed: integerParam(search, 'seed', 1),
    totalSteps: integerParam(search, 'totalSteps', 20_000), // a long standalone session's worth of cosine decay
    evalEvery: integerParam(search, 'evalEvery', 50),
    checkpointEvery: integerParam(search, 'checkpointEvery', 50),
    throttle,
    trainUrl: new URL('data/brown-train.bin', baseUrl).href,
    valUrl: new URL('data/brown-val.bin', baseUrl).href,
  });
}
