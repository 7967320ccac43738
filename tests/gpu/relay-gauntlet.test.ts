// Headless volunteers against a real relay with Gauntlet: an honest one
// (//Alice: the Node volunteer, training on Dawn) and a noise attacker (the
// same Volunteer round loop — sign, submit, wait, apply — whose "trainer"
// returns θ plus uniform noise of ±0.05 instead of training). Over three
// rounds: the honest update is aggregated every round and the honest address
// holds the whole payout; the attacker earns 0 in every round and is
// aggregated in no round where its update made the random-batch loss worse
// (Gauntlet never aggregates those; random noise can measure slightly better
// by chance, which the log shows); both volunteers keep the relay's model;
// every receipt verifies with the relay's published key.
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { protocolReady, parseGauntletRunInfo, parseSignedReceiptBody, verifyReceipt } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { keyringSigner } from '../../src/swarm/keyring-signer.ts';
import { RelayClient, type WebSocketConstructor } from '../../src/swarm/relay-client.ts';
import type { LocalTrainer, TrainPlan, TrainResult } from '../../src/swarm/trainer.ts';
import { Volunteer } from '../../src/swarm/volunteer.ts';
import { createNodeVolunteer } from '../../src/volunteer/node-volunteer.ts';
import { getJson, removeTempDirs, startTestRelay, tempDir } from '../unit/relay-fixtures.ts';
import { gpuContext } from './gpu-context.ts';

const ROUNDS = 3;
let server: RelayServer | null = null;
const volunteers: Volunteer[] = [];

afterAll(async () => {
  for (const v of volunteers) v.close();
  await server?.close();
  removeTempDirs();
});

/** Does no training: θ_local = θ + uniform noise (xorshift32) of ±amplitude, so Δ is noise. */
class NoiseTrainer implements LocalTrainer {
  constructor(
    readonly batchSize: number,
    readonly seqLen: number,
    private readonly amplitude: number,
  ) {}

  async train(params: Float32Array, plan: TrainPlan): Promise<TrainResult> {
    let x = Number(plan.seed & 0xffffffffn) || 1;
    const local = params.map((v) => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return v + ((x / 4294967296) * 2 - 1) * this.amplitude;
    });
    return { local: { read: async () => local, gpuBuffer: null }, tokens: plan.steps * this.batchSize * this.seqLen, steps: plan.steps, losses: [], ms: 0, workMs: 0 };
  }

  async moments(): Promise<{ m: Float32Array; v: Float32Array }> {
    return { m: new Float32Array(0), v: new Float32Array(0) };
  }

  setMoments(): void {}

  destroy(): void {}
}

describe('Gauntlet with headless volunteers', () => {
  it(`an honest volunteer is aggregated and paid, a noise attacker earns 0 (${ROUNDS} rounds)`, async () => {
    await protocolReady();
    server = await startTestRelay(tempDir('gauntlet-swarm'), { quorum: 2 }, { log: (m) => console.log(`[relay] ${m}`) });
    const url = server.url.replace(/\/$/, '');
    const problems: string[] = [];
    const onEvent = (who: string) => (event: { type: string }) => {
      if (event.type === 'mismatch' || event.type === 'problem') problems.push(`${who} ${JSON.stringify(event)}`);
    };
    const honest = await createNodeVolunteer({ relayUrl: url, key: '//Alice', gpu: await gpuContext(), pollMs: 1_000, onEvent: onEvent('honest') });
    volunteers.push(honest);
    const { address, signer } = keyringSigner('//Mallory');
    const attacker = await Volunteer.join({
      client: new RelayClient(url, { WebSocket: WebSocket as unknown as WebSocketConstructor }),
      signer,
      address,
      clientVersion: 'tessera-test/noise-attacker',
      pollMs: 1_000,
      createTrainer: async (run) => new NoiseTrainer(run.swarm.train.batchSize, run.swarm.train.seqLen, 0.05),
      onEvent: onEvent('attacker'),
    });
    volunteers.push(attacker);

    const [honestRounds, attackerRounds] = await Promise.all([honest.runRounds(ROUNDS), attacker.runRounds(ROUNDS)]);
    expect(problems).toEqual([]);
    expect(honestRounds.map((o) => o.submitted)).toEqual([true, true, true]);
    expect(attackerRounds.map((o) => o.submitted)).toEqual([true, true, true]);
    // Both follow the relay's model, the attacker included.
    expect(honest.model().modelHash).toBe(attacker.model().modelHash);
    expect(honest.model().version).toBe(ROUNDS);

    const { relayAddress } = parseGauntletRunInfo(await getJson(url, '/api/run'));
    for (let round = 0; round < ROUNDS; round++) {
      const receipt = verifyReceipt(parseSignedReceiptBody(await getJson(url, `/api/rounds/${round}/receipt`)), relayAddress);
      const mine = receipt.entries.find((e) => e.address === honest.address)!;
      const theirs = receipt.entries.find((e) => e.address === attacker.address)!;
      console.log(
        `round ${round}: honest s ${mine.score.toExponential(2)} b ${mine.indicator} aggregated ${mine.aggregated} weight ${mine.weight.toFixed(3)}; ` +
          `noise s ${theirs.score.toExponential(2)} b ${theirs.indicator} aggregated ${theirs.aggregated} (${theirs.reason}) weight ${theirs.weight}`,
      );
      expect(mine).toMatchObject({ status: 'evaluated', aggregated: true });
      expect(theirs.status).toBe('evaluated');
      expect(theirs.weight).toBe(0);
      if (theirs.score <= 0) expect(theirs).toMatchObject({ aggregated: false, reason: 'not-improving' });
      // The payout goes to the honest address alone (or, before its BMA passes the gate, to nobody).
      const weights = await getJson(url, `/api/weights?round=${round}`);
      for (const w of weights.weights) expect(w.address).toBe(honest.address);
    }
    const board = await getJson(url, '/api/leaderboard');
    expect(board.rows.find((r: { address: string }) => r.address === attacker.address)).toMatchObject({ weight: 0, submitted: ROUNDS });
  });
});
