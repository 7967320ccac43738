// A run no tab could complete is refused when the relay starts, by the parser
// the tabs run on GET /api/run, with a message naming the setting; the relay
// CLI turns that into a message naming the flag, the usage and a non-zero
// exit, before it writes anything. The other CLIs refuse bad and unknown
// flags the same way. The CLIs run as child processes (tsx), as an operator
// starts them.
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRunConfig, checkRun, defaultRelayOptions, RunConfigError, type RelayOptions, type RunConfigInput } from '../../src/relay/config.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { parseSwarmRunInfo } from '../../src/protocol/api.ts';
import { runInfoFor, withRoundDefaults } from '../../src/relay/config.ts';
import { REPO_ROOT, removeTempDirs, runCli, tempDir, TEST_RUN } from './relay-fixtures.ts';

afterAll(() => removeTempDirs());

const DATA: RunConfigInput['data'] = {
  name: 'brown',
  trainUrl: '/data/brown-train.bin',
  trainBytes: 1_000_000,
  trainSha256: 'ab'.repeat(32),
  valBytes: 100_000,
  valSha256: 'cd'.repeat(32),
};

/** The field and message checkRun refuses a run with, or 'accepted'. */
function refusal(run: Omit<RunConfigInput, 'data'>, relay: Partial<RelayOptions> = {}, data = DATA): { field: string; message: string } | 'accepted' {
  const config = buildRunConfig({ ...run, data });
  try {
    checkRun(config, { ...defaultRelayOptions(config.model), ...relay });
    return 'accepted';
  } catch (error) {
    if (!(error instanceof RunConfigError)) throw error;
    return { field: error.field, message: error.message };
  }
}

describe('checkRun: the run is checked where the operator sets it', () => {
  it('accepts the default run and the tests\' run', () => {
    expect(refusal({})).toBe('accepted');
    expect(refusal(TEST_RUN)).toBe('accepted');
    expect(refusal({ preset: 'medium' })).toBe('accepted'); // its attention scores just fit the 64 MiB floor
  });

  const cases: [string, Omit<RunConfigInput, 'data'>, Partial<RelayOptions>, string, RegExp][] = [
    ['H = 0', { innerSteps: 0 }, {}, 'run.innerSteps', /expected an integer in 1\.\.4294967295/],
    ['H = 2.5', { innerSteps: 2.5 }, {}, 'run.innerSteps', /expected an integer in 1\.\.4294967295/],
    ['an odd top-k', { compression: { topK: 63 } }, {}, 'run.swarm.compression.topK', /topK 63 must be even/],
    ['a top-k above the chunk', { compression: { chunkSize: 64, topK: 128 } }, {}, 'run.swarm.compression.topK', /≤ chunkSize 64/],
    ['a chunk of 1', { compression: { chunkSize: 1, topK: 2 } }, {}, 'run.swarm.compression.chunkSize', /chunkSize 1 must be an integer in \[2, 65536\]/],
    ['T beyond the block size', { train: { seqLen: 65 } }, {}, 'run.swarm.train.seqLen', /seqLen must be an integer in 1\.\.blockSize \(64\), got 65/],
    ['a fractional B', { train: { batchSize: 1.5 } }, {}, 'run.swarm.train.batchSize', /expected an integer ≥ 1/],
    ['a batch no accepted GPU holds', { train: { batchSize: 100_000 } }, {}, 'run.swarm.train.batchSize', /attention scores .* guarantees only 67108864/],
    ['a learning rate of 0', { train: { learningRate: 0 } }, {}, 'run.swarm.train.learningRate', /learningRate must be positive/],
    ['a run id with a space', { runId: 'my run' }, {}, 'run.runId', /\[A-Za-z0-9\._:-\]/],
    ['a quorum of 0', {}, { quorum: 0 }, 'run.swarm.quorum', /expected an integer ≥ 1/],
    ['rounds of 0 ms', {}, { roundMs: 0 }, 'run.roundMs', /expected an integer ≥ 1/],
    ['min-submissions 0', {}, { minSubmissions: 0 }, 'minSubmissions', /expected an integer ≥ 1, got 0/],
    ['a negative evaluation count', { evaluation: { batches: -1 } }, {}, 'evaluation.batches', /expected an integer ≥ 0/],
    ['a step range whose min exceeds H', { innerSteps: 4, stepRange: { min: 5 } }, {}, 'run.swarm.stepRange.min', /5 exceeds the nominal inner steps H = 4/],
    ['a step range whose max is below H', { innerSteps: 4, stepRange: { max: 3 } }, {}, 'run.swarm.stepRange.max', /3 is below the nominal inner steps H = 4/],
    ['a step range beyond 64·H', { innerSteps: 2, stepRange: { max: 129 } }, {}, 'run.swarm.stepRange.max', /129 exceeds 64·H = 128/],
    ['a step range of min 0', { stepRange: { min: 0 } }, {}, 'run.swarm.stepRange.min', /expected an integer ≥ 1/],
    ['an unknown aggregation rule', { aggregation: { rule: 'median' as never } }, {}, 'run.swarm.aggregation.rule', /one of mean, selected-mean/],
    ['a token cap below 1', { aggregation: { tokenCap: 0.5 } }, {}, 'run.swarm.aggregation.tokenCap', /a number in \[1, 1000000\]/],
  ];
  for (const [what, run, relay, field, message] of cases) {
    it(`refuses ${what}, naming ${field}`, () => {
      const refused = refusal(run, relay);
      expect(refused).not.toBe('accepted');
      if (refused === 'accepted') return;
      expect(refused.field).toBe(field);
      expect(refused.message).toMatch(message);
      expect(refused.message.startsWith(`${field}: `)).toBe(true);
    });
  }

  it('defaults time-boxed rounds to 1..8·H steps; a run stored before them keeps exactly H and the plain mean', () => {
    const config = buildRunConfig({ innerSteps: 15, data: DATA });
    expect(config.stepRange).toEqual({ min: 1, max: 120 });
    const info = runInfoFor(config, defaultRelayOptions(config.model));
    expect(info.swarm.stepRange).toEqual({ min: 1, max: 120 });
    expect(info.swarm.aggregation).toEqual(config.aggregation);
    const { stepRange: _range, aggregation: _aggregation, ...stored } = config;
    const upgraded = withRoundDefaults(stored);
    expect(upgraded.stepRange).toEqual({ min: 15, max: 15 });
    expect(upgraded.aggregation).toEqual({ rule: 'mean', tokenCap: 2 });
    expect(withRoundDefaults(config)).toEqual(config);
  });

  it('refuses training windows longer than the data', () => {
    expect(refusal({ train: { seqLen: 64 } }, {}, { ...DATA, trainBytes: 64 })).toEqual({
      field: 'run.swarm.train.seqLen',
      message: 'run.swarm.train.seqLen: windows of 65 bytes do not fit the 64 training bytes',
    });
  });

  it('is the very check a tab runs on GET /api/run', () => {
    const config = buildRunConfig({ compression: { topK: 63 }, data: DATA });
    const json: unknown = JSON.parse(JSON.stringify(runInfoFor(config, defaultRelayOptions(config.model))));
    expect(() => parseSwarmRunInfo(json)).toThrow(ProtocolError);
    expect(() => parseSwarmRunInfo(json)).toThrow(/run\.swarm\.compression\.topK: topK 63 must be even/);
  });

  it('refuses before the data directory is touched', async () => {
    const dir = tempDir('refused');
    await expect(launchRelay({ dataDir: dir, port: 0, distDir: null, run: { ...TEST_RUN, innerSteps: 0 }, evaluate: false })).rejects.toThrow(RunConfigError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('CLIs: a bad or unknown flag prints the usage and exits 2', () => {
  it('relay: --inner-steps 0 and --top-k 63 are refused at start, naming the flag', async () => {
    const dir = tempDir('cli');
    const [h0, k63] = await Promise.all([
      runCli('src/relay/main.ts', ['--data-dir', dir, '--no-eval', '--dist', 'none', '--inner-steps', '0']),
      runCli('src/relay/main.ts', ['--data-dir', dir, '--no-eval', '--dist', 'none', '--top-k', '63']),
    ]);
    expect(h0.code).toBe(2);
    expect(h0.stderr).toContain('--inner-steps 0 is refused: run.innerSteps: expected an integer in 1..4294967295');
    expect(h0.stderr).toContain('usage: npm run relay');
    expect(k63.code).toBe(2);
    expect(k63.stderr).toContain('--top-k 63 is refused: run.swarm.compression.topK: topK 63 must be even');
    expect(k63.stderr).toContain('usage: npm run relay');
    expect(h0.stdout + k63.stdout).not.toContain('listening');
    expect(readdirSync(dir)).toEqual([]);
  });

  const cases: [string, string[], RegExp, string][] = [
    ['src/relay/main.ts', ['--inner-steps', 'three'], /--inner-steps needs a number, got "three"/, 'usage: npm run relay'],
    ['src/relay/main.ts', ['--innner-steps', '3'], /Unknown option '--innner-steps'/, 'usage: npm run relay'],
    ['src/volunteer/main.ts', ['--relay', 'http://127.0.0.1:1'], /--relay and --key are required/, 'usage: npm run volunteer'],
    ['src/volunteer/main.ts', ['--relay', 'http://127.0.0.1:1', '--key', '//Alice', '--rounds', '0'], /--rounds must be an integer ≥ 1/, 'usage: npm run volunteer'],
    ['src/volunteer/main.ts', ['--relay', 'http://127.0.0.1:1', '--key', '//Alice', '--batch-size', '4'], /Unknown option '--batch-size'/, 'usage: npm run volunteer'],
    ['src/bench/main.ts', ['matmul', '--shapes', '64x64'], /--shapes takes MxKxN triples/, 'usage: npm run bench'],
    ['src/bench/main.ts', ['warp'], /unknown bench: warp/, 'usage: npm run bench'],
    ['src/sim/main.ts', ['--algo', 'sparseloco', '--peers', '2', '--inner', '2', '--rounds', '1', '--model', 'huge'], /--model must be one of nano, tiny, small, medium/, 'usage: npm run sim'],
    ['src/sim/main.ts', ['--algo', 'sparseloco', '--verbose'], /Unknown option '--verbose'/, 'usage: npm run sim'],
    ['src/sim/main.ts', ['--algo', 'sparseloco', '--peers', '2', '--inner', '2', '--rounds', '1', '--model', 'nano', '--ef-beta', '1.5'], /--ef-beta must be in \[0, 1\], got 1.5/, 'usage: npm run sim'],
    ['src/sim/main.ts', ['--algo', 'diloco', '--peers', '2', '--inner', '2', '--rounds', '1', '--model', 'nano', '--ef-beta', '0.9'], /--ef-beta: for --algo sparseloco only/, 'usage: npm run sim'],
  ];
  it('volunteer, bench and sim refuse bad and unknown flags', async () => {
    const results = await Promise.all(cases.map(([entry, args]) => runCli(entry, args)));
    results.forEach((result, i) => {
      const [entry, args, message, usage] = cases[i];
      const name = `${entry} ${args.join(' ')}`;
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toMatch(message);
      expect(result.stderr, name).toContain(usage);
    });
  });
});
