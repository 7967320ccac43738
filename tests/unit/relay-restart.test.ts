// A restart does not redo the work of checking what the relay already
// acknowledged: a stored frame whose verification record matches (same bytes,
// round, address, time, checks version) is trusted without its signature check
// and decoded in the background; a frame without a record is checked in full
// once and then recorded. The record cannot carry anything else in: a frame
// with a flipped bit, or moved under another address, is checked in full and
// refused. The round then closes to the model its honest frames make.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { hashToHex, modelHash } from '../../src/protocol/index.ts';
import { logEntries } from '../support/submission-log-entries.ts';
import { COMPRESSION, NANO_LAYOUT, getBytes, getJson, post, relayNextParams, removeTempDirs, signedFrame, startTestRelay, tempDir, TEST_RUN, updatePayload, walletFor } from './relay-fixtures.ts';

/** Gauntlet off: the close must be the model of every surviving frame (what Gauntlet selects is relay-gauntlet.test.ts's). */
const RUN = { ...TEST_RUN, gauntlet: { enabled: false } };

beforeAll(async () => {
  await cryptoWaitReady();
});

afterAll(() => removeTempDirs());

describe('relay restart', () => {
  it('trusts a verification record only for the very frame it was made for, and checks everything else once', async () => {
    const dir = tempDir('restart');
    const wallets = [400, 401, 402, 403].map(walletFor);
    const payloads = wallets.map((_, i) => updatePayload(400 + i));
    const first = await startTestRelay(dir, {}, { run: RUN });
    const round = await getJson(first.url, 'api/round');
    const theta0 = new Float32Array((await getBytes(first.url, 'api/checkpoint')).bytes.slice().buffer);
    for (const [i, wallet] of wallets.entries()) {
      const frame = await signedFrame({ wallet, round: 0, version: 0, modelHash: round.modelHash, payload: payloads[i] });
      expect((await post(first.url, frame)).status).toBe(200);
    }
    await first.close();

    const second = await startTestRelay(dir, {}, { run: RUN });
    expect(second.relay.lastRestore).toEqual({ fromRecord: 4, checkedNow: 0, refused: 0 });
    expect((await getJson(second.url, 'api/round')).submissions).toBe(4);
    await second.close();

    const roundDir = join(dir, 'rounds', 'r0000000000');
    const log = join(roundDir, 'submissions.log');
    const original = readFileSync(log);
    const entries = logEntries(original);
    const entry = (i: number) => entries.find((e) => e.address === wallets[i].address)!;
    const damaged = Buffer.from(original);
    // 0: one payload bit flipped, record kept.
    damaged[entry(0).recordAt - 5] ^= 0x10;
    // 1: the entry moved under another address (same length), record and all.
    damaged.set(new TextEncoder().encode(walletFor(404).address), entry(1).addressAt);
    // 3: taken out of the log and stored the way an older relay stored frames (u64 receivedAt + frame), with no record.
    const legacy = Buffer.concat([original.subarray(entry(3).receivedAt, entry(3).receivedAt + 8), original.subarray(entry(3).frameAt, entry(3).recordAt)]);
    writeFileSync(join(roundDir, `${wallets[3].address}.sub`), legacy);
    writeFileSync(log, Buffer.concat([damaged.subarray(0, entry(3).start), damaged.subarray(entry(3).end)]));

    const logs: string[] = [];
    const third = await startTestRelay(dir, {}, { log: (m) => logs.push(m), run: RUN });
    expect(third.relay.lastRestore).toEqual({ fromRecord: 1, checkedNow: 1, refused: 2 });
    expect(logs.filter((m) => /fails its checks/.test(m))).toHaveLength(2);
    expect((await getJson(third.url, 'api/round')).submissions).toBe(2);
    expect((await getJson(third.url, `api/ledger/${wallets[0].address}`)).entries).toEqual([]);
    await third.relay.recordsWritten();
    await third.close();

    // Checked once: the next start trusts the frame it recorded.
    const fourth = await startTestRelay(dir, {}, { run: RUN });
    expect(fourth.relay.lastRestore).toEqual({ fromRecord: 2, checkedNow: 0, refused: 2 });
    // The round closes to the model of the two frames that survived, decoded in the background.
    await fourth.relay.closeRound('quorum');
    const next = relayNextParams(theta0, [2, 3].map((i) => ({ address: wallets[i].address, payload: payloads[i] })));
    expect(await getJson(fourth.url, 'api/round')).toMatchObject({ round: 1, version: 1, modelHash: hashToHex(modelHash(next)) });
    await fourth.close();
  });
});
