// Three headless volunteers (each its own sr25519 key, training on Dawn) and a
// real relay on 127.0.0.1, over three rounds of the nano model with B = 2,
// T = 32, H = 2. One compresses on the GPU (the WGSL kernels), one on the CPU
// (the reference), one with the path it measured faster here. Rounds are
// time-boxed (the test run takes 1..4 steps; with its far deadline each
// volunteer trains 4). The relay publishes every round's update as a 2-bit
// aggregate (wire kind 3) of at most a few uploads' size. After every round
// each volunteer's model hash equals the relay's for that version (they apply
// the published update themselves), their final parameters are bit-identical
// to the relay's checkpoint, the push channel announced every close, and the
// relay's held-out loss (onnxruntime-web on CPU) falls round after round.
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { decodeBundle, type PushEvent } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { RelayClient, type WebSocketConstructor } from '../../src/swarm/relay-client.ts';
import type { RoundOutcome, Volunteer, VolunteerEvent } from '../../src/swarm/volunteer.ts';
import { createNodeVolunteer } from '../../src/volunteer/node-volunteer.ts';
import { getBytes, getJson, removeTempDirs, startTestRelay, tempDir } from '../unit/relay-fixtures.ts';
import { gpuContext } from './gpu-context.ts';

const ROUNDS = 3;
const KEYS = ['//Alice', '//Bob', '//Charlie'];
const COMPRESSION = ['gpu', 'cpu', 'auto'] as const;

let server: RelayServer | null = null;
const volunteers: Volunteer[] = [];
let events: { close(): void } | null = null;

afterAll(async () => {
  events?.close();
  for (const v of volunteers) v.close();
  await server?.close();
  removeTempDirs();
});

describe('relay + three headless volunteers', () => {
  it(`keep identical models for ${ROUNDS} rounds while the validation loss falls`, async () => {
    server = await startTestRelay(tempDir('swarm'), { quorum: KEYS.length }, { evaluate: true, log: (m) => console.log(`[relay] ${m}`) });
    const url = server.url.replace(/\/$/, '');
    const pushed: PushEvent[] = [];
    events = new RelayClient(url, { WebSocket: WebSocket as unknown as WebSocketConstructor }).events((event) => pushed.push(event));

    const ctx = await gpuContext();
    const log: string[] = [];
    for (const [i, key] of KEYS.entries()) {
      const onEvent = (event: VolunteerEvent) => {
        if (event.type === 'mismatch' || event.type === 'refused' || event.type === 'problem') log.push(`${key} ${JSON.stringify(event)}`);
      };
      volunteers.push(await createNodeVolunteer({ relayUrl: url, key, gpu: ctx, pollMs: 1_000, onEvent, compression: COMPRESSION[i] }));
    }
    expect(volunteers.slice(0, 2).map((v) => v.compressionPath)).toEqual(['gpu', 'cpu']);
    const addresses = volunteers.map((v) => v.address);
    expect(new Set(addresses).size).toBe(KEYS.length);

    const outcomes: RoundOutcome[][] = await Promise.all(volunteers.map((v) => v.runRounds(ROUNDS)));
    expect(log).toEqual([]);

    const stats = await getJson(url, '/api/stats');
    const relayHashes = new Map<number, string>(stats.rounds.map((r: { version: number; modelHash: string }) => [r.version, r.modelHash]));
    expect(stats.rounds.map((r: { round: number; submissions: number }) => [r.round, r.submissions])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    outcomes.forEach((rounds, v) => {
      expect(rounds.map((o) => [o.round, o.submitted, o.version])).toEqual([
        [0, true, 1],
        [1, true, 2],
        [2, true, 3],
      ]);
      for (const o of rounds) expect(o.modelHash, `${KEYS[v]} after round ${o.round}`).toBe(relayHashes.get(o.version));
    });

    // Bit-identical to the relay's θ(3), not just the same hash.
    const checkpoint = await getBytes(url, '/api/checkpoint');
    const relayParams = new Float32Array(checkpoint.bytes.buffer, checkpoint.bytes.byteOffset, checkpoint.bytes.byteLength / 4);
    for (const v of volunteers) {
      const model = v.model();
      expect(model.version).toBe(3);
      expect(Buffer.from(model.params!.buffer).equals(Buffer.from(relayParams.slice().buffer))).toBe(true);
    }

    const closes = pushed.filter((e) => e.type === 'round-closed');
    expect(closes.map((e) => e.type === 'round-closed' && [e.round, e.version, e.modelHash, e.accepted])).toEqual(
      [0, 1, 2].map((round) => [round, round + 1, relayHashes.get(round + 1), 3]),
    );

    // The published updates: 2-bit aggregates, a few uploads' worth each (the uploads are one third of the round's bytes up).
    const bundle = decodeBundle((await getBytes(url, '/api/updates?since=0&format=2')).bytes, 0);
    expect(bundle.map((e) => e.version)).toEqual([1, 2, 3]);
    const uploads = await Promise.all(addresses.map((a) => getJson(url, `/api/ledger/${a}`)));
    for (const entry of bundle) {
      expect(entry.aggregate[6]).toBe(3);
      const round = entry.version - 1;
      const uploaded = uploads.map((l) => l.entries.find((e: { round: number }) => e.round === round).payloadBytes as number);
      const meanUpload = uploaded.reduce((a, b) => a + b, 0) / uploaded.length;
      console.log(`round ${round}: download ${entry.aggregate.length} B, mean upload ${meanUpload.toFixed(0)} B (${(entry.aggregate.length / meanUpload).toFixed(2)}×)`);
      expect(entry.aggregate.length).toBeLessThan(3 * meanUpload);
    }
    const innerSteps = uploads.flatMap((l) => l.entries.map((e: { innerSteps: number }) => e.innerSteps));
    expect(innerSteps).toEqual(Array(3 * ROUNDS).fill(4));

    await server.relay.evaluationsSettled();
    const losses = server.relay.evaluationHistory().map((e) => [e.version, e.loss] as const);
    console.log(`validation loss by model version: ${losses.map(([v, l]) => `v${v} ${l.toFixed(4)}`).join(', ')}`);
    expect(losses.map(([v]) => v)).toEqual([0, 1, 2, 3]);
    for (let i = 1; i < losses.length; i++) expect(losses[i][1]).toBeLessThan(losses[i - 1][1]);
  });
});
