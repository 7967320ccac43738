// Load: 200 signed submissions from 200 keys, all in flight at once against a
// real relay on 127.0.0.1. Every one must be answered with its own
// acknowledgement (round, address, payload hash); the 200th closes the round
// (quorum 200). Gauntlet evaluates its budget of 20 of them; the published
// aggregate counts exactly the ones the signed receipt says it aggregated, and
// the receipt lists all 200. Then the same 200 frames again, at once: every
// one refused as wrong-round.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { decodePublishedAggregate } from '../../src/compress/codec.ts';
import { hashToHex, parseSignedReceiptBody, payloadHash, verifyReceipt } from '../../src/protocol/index.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { decodeBundle } from '../../src/protocol/bundle.ts';
import { COMPRESSION, NANO_LAYOUT, getBytes, getJson, post, removeTempDirs, signedFrame, startTestRelay, tempDir, updatePayload, walletFor } from './relay-fixtures.ts';

const SUBMITTERS = 200;
let server: RelayServer;

beforeAll(async () => {
  await cryptoWaitReady();
  server = await startTestRelay(tempDir('load'), { quorum: SUBMITTERS, ipRateLimit: { burst: 10 * SUBMITTERS, perSecond: 100 }, limits: { uploadsPerIp: SUBMITTERS } });
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('relay under load', () => {
  it(`answers ${SUBMITTERS} concurrent signed submissions correctly`, async () => {
    const url = server.url;
    const round = await getJson(url, 'api/round');
    const payloads = [0, 1, 2, 3].map((i) => updatePayload(100 + i));
    const submissions = await Promise.all(
      Array.from({ length: SUBMITTERS }, async (_, i) => {
        const wallet = walletFor(100 + i);
        const payload = payloads[i % payloads.length];
        const frame = await signedFrame({ wallet, round: 0, version: 0, modelHash: round.modelHash, payload });
        return { address: wallet.address, payloadHash: hashToHex(payloadHash(payload)), frame };
      }),
    );

    const started = performance.now();
    const answers = await Promise.all(submissions.map((s) => post(url, s.frame)));
    const seconds = (performance.now() - started) / 1000;
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ round: 0, address: submissions[i].address, payloadHash: submissions[i].payloadHash });
    });
    console.log(`${SUBMITTERS} concurrent submissions: all acknowledged in ${seconds.toFixed(2)} s (${(SUBMITTERS / seconds).toFixed(0)}/s)`);

    // The 200th closed the round.
    for (let i = 0; i < 1200 && (await getJson(url, 'api/round')).version === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await getJson(url, 'api/round')).toMatchObject({ round: 1, version: 1 });
    const receipt = verifyReceipt(parseSignedReceiptBody(await getJson(url, 'api/rounds/0/receipt')));
    expect(receipt.entries).toHaveLength(SUBMITTERS);
    const evaluated = receipt.entries.filter((e) => e.status === 'evaluated');
    expect(evaluated.length).toBe(20);
    const aggregated = receipt.entries.filter((e) => e.aggregated);
    for (const e of receipt.entries) if (e.status === 'not-drawn') expect(e.reason).toBe('unproven');
    const [entry] = decodeBundle((await getBytes(url, 'api/updates?since=0&format=2')).bytes, 0);
    expect(decodePublishedAggregate(entry.aggregate, NANO_LAYOUT.tensors, COMPRESSION).contributorCount).toBe(aggregated.length);
    const leaderboard = await getJson(url, 'api/ledger');
    expect(leaderboard).toHaveLength(100); // the board shows the top 100
    expect(leaderboard.every((row: { rounds: number }) => row.rounds === 1)).toBe(true);

    const replays = await Promise.all(submissions.map((s) => post(url, s.frame)));
    for (const replay of replays) expect([replay.status, replay.json.error.code]).toEqual([409, 'wrong-round']);
  }, 180_000);
});
