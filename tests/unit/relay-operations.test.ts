// Operations: the Prometheus endpoint counts what happened (accepted and
// refused submissions by code, bytes in and out, connected tabs, round
// closes and their duration), and the logs are structured (pino JSON) with a
// plain-line rendering of the same fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import pino from 'pino';
import { WebSocket } from 'ws';
import { humanLine } from '../../src/relay/log.ts';
import { getJson, post, removeTempDirs, signedFrame, startTestRelay, tempDir, updatePayload, walletFor } from './relay-fixtures.ts';

beforeAll(async () => {
  await cryptoWaitReady();
});

afterAll(() => removeTempDirs());

/** One sample's value from the exposition text ('name{labels} value'); null when absent. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('counts submissions by outcome, bytes, tabs and closes', async () => {
    const lines: string[] = [];
    const relay = await startTestRelay(tempDir('metrics'), { quorum: 2 }, { log: (line) => lines.push(line) });
    try {
      const state = await getJson(relay.url, 'api/round');
      const socket = new WebSocket(relay.url.replace(/^http/, 'ws') + 'api/events');
      await new Promise((resolve, reject) => {
        socket.once('message', resolve);
        socket.once('error', reject);
      });
      const frames = await Promise.all([0, 1].map((i) => signedFrame({ wallet: walletFor(80 + i), round: 0, version: 0, modelHash: state.modelHash, payload: updatePayload(80 + i) })));
      expect((await post(relay.url, frames[0])).status).toBe(200);
      expect((await post(relay.url, frames[0])).json.error.code).toBe('duplicate');
      expect((await post(relay.url, new Uint8Array(3))).json.error.code).toBe('frame-truncated');
      expect((await post(relay.url, frames[1])).status).toBe(200);
      for (let i = 0; i < 100 && (await getJson(relay.url, 'api/round')).version === 0; i++) await new Promise((r) => setTimeout(r, 50));

      const response = await fetch(new URL('metrics', relay.url));
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      socket.close();
      expect(sample(text, 'tessera_submissions_accepted_total')).toBe(2);
      expect(sample(text, 'tessera_submissions_refused_total', 'code="duplicate"')).toBe(1);
      expect(sample(text, 'tessera_submissions_refused_total', 'code="frame-truncated"')).toBe(1);
      expect(sample(text, 'tessera_http_received_bytes_total', 'route="submissions"')).toBe(2 * frames[0].length + 3 + frames[1].length);
      expect(sample(text, 'tessera_http_sent_bytes_total', 'route="events"')).toBeGreaterThan(0);
      expect(sample(text, 'tessera_http_sent_bytes_total', 'route="round"')).toBeGreaterThan(0);
      expect(sample(text, 'tessera_connected_tabs')).toBe(1);
      expect(sample(text, 'tessera_rounds_closed_total', 'reason="quorum"')).toBe(1);
      expect(sample(text, 'tessera_round_close_seconds_count')).toBe(1);
      expect(sample(text, 'tessera_round_duration_seconds_count', 'reason="quorum"')).toBe(1);
      expect(sample(text, 'tessera_submission_store_seconds_count')).toBe(2);
      expect(sample(text, 'tessera_evaluation_seconds_count', 'job="gauntlet"')).toBe(1); // the close's trials
      expect(sample(text, 'tessera_round')).toBe(1);
      expect(sample(text, 'tessera_model_version')).toBe(1);
      expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      // The same close in the log, with its fields.
      expect(lines.find((l) => l.startsWith('round closed'))).toMatch(/^round closed round=0 reason=quorum submissions=2 aggregated=\d evaluated=2 measured=2 evaluationMs=\d+ version=1 modelHash=0x[0-9a-f]{64} closeMs=\d+$/);
    } finally {
      await relay.close();
    }
  });
});

describe('structured logs', () => {
  it('writes one JSON object per event, and the same fields as a plain line', () => {
    const written: string[] = [];
    const logger = pino({ base: { service: 'tessera-relay' } }, { write: (line: string) => written.push(line) });
    logger.info({ round: 3, submissions: 16, modelHash: '0xab' }, 'round closed');
    logger.warn({ round: 4, reason: 'disk full' }, 'closing the round failed');
    const records = written.map((line) => JSON.parse(line));
    expect(records[0]).toMatchObject({ level: 30, msg: 'round closed', round: 3, submissions: 16, modelHash: '0xab', service: 'tessera-relay' });
    expect(typeof records[0].time).toBe('number');
    expect(humanLine(records[0])).toBe('round closed round=3 submissions=16 modelHash=0xab');
    expect(humanLine(records[1])).toBe('warning: closing the round failed round=4 reason=disk full');
  });
});
