// `npm run bench -- throttle`: does the GPU share slider give the share it
// names? The tab's own pieces — the swarm trainer (src/swarm/trainer.ts) paced
// by the Worker's SessionControl (src/worker/session-control.ts), exactly as
// swarm-run.ts wires them — train the same steps at 100 %, 50 % and 25 %; the
// GPU's busy share is the steps' work time (each step report's ms, what the
// dashboard adds up: src/app/gpu-activity.ts) over the wall time. The
// unthrottled run is the baseline for the slowdown.
// On a software adapter the "GPU" is CPU threads, so a resting GPU lets the
// next step run faster than under full load: busy share follows the setting,
// the slowdown is smaller than 1/share.
// Leaves out: pauses (the gate's other job), compression and the relay.
import { acquireNodeDevice } from '../gpu/device-node.ts';
import { GpuContext } from '../gpu/runtime.ts';
import { GPT_PRESETS } from '../model/config.ts';
import { initGptParameters } from '../model/init.ts';
import { buildRunConfig, defaultRelayOptions, runInfoFor } from '../relay/config.ts';
import { GpuTrainer, type Pace } from '../swarm/trainer.ts';
import { SessionControl } from '../worker/session-control.ts';
import { printTable, round, type BenchOptions } from './report.ts';

const SHARES = [1, 0.5, 0.25];

export async function benchThrottle(options: BenchOptions) {
  const gpu = await acquireNodeDevice();
  const ctx = new GpuContext(gpu);
  const adapter = `${gpu.adapter.vendor}/${gpu.adapter.architecture}`;
  const model = options.models?.[0] ?? 'nano';
  const config = buildRunConfig({
    preset: model,
    train: { batchSize: options.batchSize ?? 4, seqLen: options.seqLen ?? Math.min(64, GPT_PRESETS[model].blockSize) },
    data: { name: 'bench', trainUrl: '/bench', trainBytes: 1 << 16, trainSha256: '0'.repeat(64), valBytes: 0, valSha256: '0'.repeat(64) },
  });
  const spec = runInfoFor(config, defaultRelayOptions(config.model)).swarm;
  const data = new Uint8Array(1 << 16).map((_, i) => 32 + ((i * 7919) % 95));
  const { params } = initGptParameters(config.model, 1);
  const steps = Math.max(4, Math.round(options.budgetMs / 100)); // --budget-ms 1500: 15 steps per share
  const rows = [];
  let baselineStepsPerSecond = 0;
  for (const share of SHARES) {
    const control = new SessionControl(() => {});
    control.setThrottle(share);
    control.setState('training');
    let workMs = 0;
    const pace: Pace = {
      chunkSteps: () => control.chunkSteps(),
      gate: (lastWorkMs) => control.gate(lastWorkMs, () => false),
      onStep: (report) => (workMs += report.ms),
    };
    const trainer = await GpuTrainer.create(ctx, spec, data, { pace });
    await trainer.train(params, { seed: 1n, firstStep: 0, steps: 2 }); // warm-up: pipelines, buffers
    workMs = 0;
    const started = performance.now();
    await trainer.train(params, { seed: 2n, firstStep: 2, steps });
    const wallMs = performance.now() - started;
    trainer.destroy();
    const stepsPerSecond = (steps / wallMs) * 1000;
    if (share === 1) baselineStepsPerSecond = stepsPerSecond;
    rows.push({
      setting: `${Math.round(share * 100)} %`,
      steps,
      work_ms: round(workMs, 0),
      wall_ms: round(wallMs, 0),
      busy_share: round(workMs / wallMs, 3),
      steps_per_s: round(stepsPerSecond, 3),
      slowdown: round(baselineStepsPerSecond / stepsPerSecond, 2),
      ms_per_step_working: round(workMs / steps, 1),
    });
  }
  printTable(`GPU share setting vs measured busy share, ${model} on ${adapter}`, rows);
  gpu.device.destroy();
  return { bench: 'throttle', adapter, model, rows };
}
