// The relay's HTTP surface apart from submissions: the built app with the
// cross-origin isolation headers (and no way out of dist/), the checkpoint's
// ETag, the push channel's greeting, and the deadline path of the lifecycle
// (an empty round is extended, a round with a submission closes at its deadline).
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { u8aToHex } from '@polkadot/util';
import { blake2AsU8a, cryptoWaitReady } from '@polkadot/util-crypto';
import { parseRunManifest } from '../../src/protocol/index.ts';
import { launchRelay } from '../../src/relay/launch.ts';
import type { RelayServer } from '../../src/relay/server.ts';
import { getBytes, getJson, post, removeTempDirs, signedFrame, startTestRelay, tempDir, TEST_RUN, updatePayload, walletFor } from './relay-fixtures.ts';

let server: RelayServer;

beforeAll(async () => {
  await cryptoWaitReady();
  const dist = tempDir('dist');
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Tessera</title>');
  writeFileSync(join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
  server = await launchRelay({ dataDir: tempDir('server'), port: 0, distDir: dist, run: TEST_RUN, relay: { roundMs: 600_000 }, evaluate: false });
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

/** A raw GET, so the path reaches the server exactly as written. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('relay server', () => {
  it('serves the app with COOP/COEP, client routes, immutable assets, and nothing outside dist', async () => {
    const home = await fetch(server.url);
    expect(home.status).toBe(200);
    expect(home.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(home.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(home.headers.get('content-type')).toContain('text/html');
    expect(await home.text()).toContain('<title>Tessera</title>');
    expect(await (await fetch(new URL('contribute', server.url))).text()).toContain('<title>Tessera</title>');
    const asset = await fetch(new URL('assets/app-1234.js', server.url));
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect((await fetch(new URL('missing.js', server.url))).status).toBe(404);
    // Paths are resolved inside dist/: an escape attempt ends at the app (client route) or a 404, never the file.
    for (const path of ['/../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/..%2f..%2f..%2fetc/hostname.txt']) {
      const { status, body } = await rawGet(path);
      expect([200, 404]).toContain(status);
      expect(body).not.toMatch(/root:|^[a-z0-9-]+\n$/);
      if (status === 200) expect(body).toContain('<title>Tessera</title>');
    }
    const api = await fetch(new URL('api/run', server.url));
    expect(api.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('serves the preset\'s tensor manifest in the run info, enough to lay out θ and check the wire digest', async () => {
    const info = await getJson(server.url, 'api/run');
    const layout = server.relay.layout;
    expect(info.manifest.tensors).toEqual(layout.tensors.map(({ name, shape, offset, size }) => ({ name, shape, offset, size })));
    expect(info.manifest.floats).toBe(layout.size);
    expect(parseRunManifest(info.manifest)).toEqual(info.manifest);
    expect(() => parseRunManifest({ ...info.manifest, tensors: [...info.manifest.tensors].reverse() })).toThrow(/offset/);
    expect(info.manifest.alignFloats).toBe(64);
    for (const t of info.manifest.tensors) expect(t.offset % info.manifest.alignFloats).toBe(0);
    // The digest as docs/wire-format.md spells it: BLAKE2b with an 8-byte digest over "name\0dims\0offset\0size\n" (floats).
    const text = info.manifest.tensors.map((t: { name: string; shape: number[]; offset: number; size: number }) => `${t.name}\0${t.shape.join(',')}\0${t.offset}\0${t.size}\n`).join('');
    expect(u8aToHex(blake2AsU8a(new TextEncoder().encode(text), 64), -1, false)).toBe(info.manifest.digest);
    // nano's digest, computed with Python's hashlib.blake2b(text, digest_size=8) from the same text.
    expect(info.manifest.digest).toBe('d408f7777d9f137f');
    expect(Buffer.from(updatePayload(1).subarray(8, 16)).toString('hex')).toBe(info.manifest.digest);
    // The checkpoint is the whole flat buffer, padding included, and the model hash covers all of it.
    const { bytes, headers } = await getBytes(server.url, 'api/checkpoint');
    expect(bytes.length).toBe(4 * info.manifest.floats);
    expect(headers.get('x-tessera-model-hash')).toBe(u8aToHex(blake2AsU8a(bytes, 256)));
  });

  it('streams the checkpoint with its hash as ETag and answers 304 when it is unchanged', async () => {
    const { modelHash } = await getJson(server.url, 'api/round');
    const first = await getBytes(server.url, 'api/checkpoint');
    expect(first.headers.get('etag')).toBe(`"${modelHash}"`);
    expect(first.headers.get('x-tessera-model-version')).toBe('0');
    expect(first.bytes.length).toBe(4 * server.relay.layout.size);
    const again = await fetch(new URL('api/checkpoint', server.url), { headers: { 'If-None-Match': `"${modelHash}"` } });
    expect(again.status).toBe(304);
    expect((await fetch(new URL('api/checkpoint', server.url), { headers: { 'If-None-Match': '"0xother"' } })).status).toBe(200);
  });

  it('greets a push client with the open round and the stats', async () => {
    const socket = new WebSocket(server.url.replace(/^http/, 'ws') + 'api/events');
    const messages: any[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        messages.push(JSON.parse(String(data)));
        if (messages.length === 2) resolve();
      });
      socket.on('error', reject);
    });
    socket.close();
    expect(messages[0]).toMatchObject({ type: 'round-opened', state: { round: 0, version: 0 } });
    expect(messages[1]).toMatchObject({ type: 'stats', round: 0, peers: 1, submissions: 0 });
  });
});

describe('relay CORS', () => {
  it('lets any origin read the API by default, and only the listed ones when given a list; never with credentials', async () => {
    const api = (url: string, origin: string, method = 'GET') => fetch(new URL('api/run', url), { method, headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' } });
    const open = await api(server.url, 'https://any.example');
    expect(open.headers.get('access-control-allow-origin')).toBe('*');
    expect(open.headers.get('access-control-expose-headers')).toContain('X-Tessera-Model-Hash');
    const listed = await startTestRelay(tempDir('cors'), { corsOrigins: ['https://room.example'] });
    try {
      const allowed = await api(listed.url, 'https://room.example');
      expect([allowed.headers.get('access-control-allow-origin'), allowed.headers.get('vary')]).toEqual(['https://room.example', 'Origin']);
      const other = await api(listed.url, 'https://evil.example');
      expect(other.status).toBe(200); // answered, but the browser withholds it from that page
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await api(listed.url, 'https://room.example', 'OPTIONS');
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, OPTIONS');
      for (const response of [open, allowed, other, preflight]) expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      await listed.close();
    }
  });
});

describe('relay deadlines', () => {
  it('extends an empty round and closes a round with a submission at its deadline', async () => {
    const relay = await startTestRelay(tempDir('deadline'), { roundMs: 1_500, quorum: 100 });
    try {
      const first = await getJson(relay.url, 'api/round');
      // Empty: the deadline moves, the round stays.
      let extended = first;
      for (let i = 0; i < 100 && extended.deadline === first.deadline; i++) {
        await new Promise((r) => setTimeout(r, 50));
        extended = await getJson(relay.url, 'api/round');
      }
      expect(extended).toMatchObject({ round: 0, version: 0, modelHash: first.modelHash });
      expect(extended.deadline).toBeGreaterThan(first.deadline);
      // One submission: the next deadline closes the round.
      const frame = await signedFrame({ wallet: walletFor(70), round: 0, version: 0, modelHash: first.modelHash, payload: updatePayload(70) });
      let answer = await post(relay.url, frame);
      // A post that races an extension is 'late'; the extended window takes it.
      for (let i = 0; i < 5 && answer.json.error?.code === 'late'; i++) answer = await post(relay.url, frame);
      expect([answer.status, answer.json.error?.code]).toEqual([200, undefined]);
      let state = extended;
      // The close evaluates the submission (Gauntlet) in a worker thread first: allow it 30 s on a loaded machine.
      for (let i = 0; i < 600 && state.version === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = await getJson(relay.url, 'api/round');
      }
      expect(state).toMatchObject({ round: 1, version: 1 });
      const stats = await getJson(relay.url, 'api/stats');
      expect(stats.rounds[0]).toMatchObject({ round: 0, submissions: 1, reason: 'deadline' });
    } finally {
      await relay.close();
    }
  });
});
