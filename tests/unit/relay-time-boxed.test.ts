// Time-boxed rounds at the relay: a run whose stepRange is [2, 8] around
// H = 4 accepts submissions of 2, 4 and 8 inner steps with exactly steps·B·T
// tokens, refuses 1 and 9 steps ('steps-out-of-range') and a token count that
// is not steps·B·T ('tokens-mismatch') without changing any state, and closes
// the round with the run's rule and token weights: the relay's θ(1) is, bit
// for bit, what aggregateUpdates and the published 2-bit update give for the
// same payloads and tokens, in any order, and not what they give without the
// weights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToHex, modelHash } from '../../src/protocol/index.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { getBytes, getJson, post, relayNextParams, removeTempDirs, signedFrame, tempDir, TEST_RUN, updatePayload, walletFor } from './relay-fixtures.ts';

const H = 4;
const TOKENS_PER_STEP = TEST_RUN.train!.batchSize! * TEST_RUN.train!.seqLen!; // B·T = 64
let server: RelayServer;

beforeAll(async () => {
  server = await launchRelay({
    dataDir: tempDir('time-boxed'),
    port: 0,
    distDir: null,
    // Gauntlet off: this file checks token weights over every submission (relay-gauntlet.test.ts checks what Gauntlet selects).
    run: { ...TEST_RUN, innerSteps: H, stepRange: { min: 2, max: 8 }, aggregation: { rule: 'selected-mean', tokenCap: 2 }, gauntlet: { enabled: false } },
    relay: { roundMs: 600_000, quorum: 1000 },
    evaluate: false,
  });
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('relay: time-boxed rounds', () => {
  it('serves the step range and the aggregation with the run', async () => {
    const run = await getJson(server.url, 'api/run');
    expect(run.innerSteps).toBe(H);
    expect(run.swarm.stepRange).toEqual({ min: 2, max: 8 });
    expect(run.swarm.aggregation).toEqual({ rule: 'selected-mean', tokenCap: 2 });
  });

  it('accepts steps in [min, max] with steps·B·T tokens, refuses the rest typed, and weighs tokens at the close', async () => {
    const round = await getJson(server.url, 'api/round');
    const theta0 = new Float32Array((await getBytes(server.url, 'api/checkpoint')).bytes.slice().buffer);
    const frame = (i: number, innerSteps: number, tokens = innerSteps * TOKENS_PER_STEP) =>
      signedFrame({ wallet: walletFor(100 + i), round: round.round, version: round.version, modelHash: round.modelHash, payload: updatePayload(100 + i), innerSteps, tokens });

    const refusals: [string, Promise<Uint8Array>, string][] = [
      ['below min', frame(9, 1), 'steps-out-of-range'],
      ['above max', frame(9, 9), 'steps-out-of-range'],
      ['tokens not steps·B·T', frame(9, 4, 4 * TOKENS_PER_STEP + 1), 'tokens-mismatch'],
      ['tokens of another B', frame(9, 4, 4 * 32), 'tokens-mismatch'],
    ];
    for (const [what, body, code] of refusals) {
      const answer = await post(server.url, await body);
      expect({ what, status: answer.status, code: answer.json.error?.code }).toEqual({ what, status: 400, code });
    }
    expect((await getJson(server.url, 'api/round')).submissions).toBe(0);

    const steps = [2, 4, 8]; // a slow tab, a nominal one, a fast one (capped at 2× the median's tokens)
    for (const [i, n] of steps.entries()) expect((await post(server.url, await frame(i, n))).status).toBe(200);
    const ledger = await getJson(server.url, `api/ledger/${walletFor(102).address}`);
    expect(ledger.entries).toMatchObject([{ innerSteps: 8, tokens: 8 * TOKENS_PER_STEP, status: 'pending' }]);

    await server.relay.closeRound('deadline');
    const after = await getJson(server.url, 'api/round');
    expect(after.version).toBe(round.version + 1);

    const run = { ...TEST_RUN, innerSteps: H, stepRange: { min: 2, max: 8 }, aggregation: { rule: 'selected-mean' as const, tokenCap: 2 } };
    const submissions = steps.map((n, i) => ({ address: walletFor(100 + i).address, payload: updatePayload(100 + i), tokens: n * TOKENS_PER_STEP }));
    const expected = (subs: typeof submissions) => hashToHex(modelHash(relayNextParams(theta0, subs, run)));
    expect(after.modelHash).toBe(expected(submissions));
    expect(after.modelHash).toBe(expected([submissions[2], submissions[0], submissions[1]]));
    // Without the weights (every submission counted alike) the model would differ.
    expect(after.modelHash).not.toBe(expected(submissions.map((s) => ({ ...s, tokens: 128 }))));
  });
});
