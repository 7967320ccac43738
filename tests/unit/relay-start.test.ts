// Starting the relay for a room (src/relay/main.ts, as a child process):
//   - a port in use ends the start with one line that names --port — no
//     usage, no stack trace;
//   - --public-url is checked by the parser tabs read it with (refused with the
//     flag's name) and published in GET /api/run as joinUrl; the start-up
//     lines print the join URL;
//   - --tls-cert without --tls-key is refused; with both (a self-signed pair
//     made by openssl here) the relay answers https, and its push channel
//     speaks wss on the same port.
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseSwarmRunInfo } from '../../src/protocol/index.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';
import { killSpawnedRelays, removeTempDirs, runCli, spawnTrackedRelay, tempDir } from './relay-fixtures.ts';

afterEach(killSpawnedRelays);
afterAll(removeTempDirs);

const RELAY = 'src/relay/main.ts';
const BASE = ['--dist', 'none', '--no-eval'];

/** GET over https trusting only `ca`. */
function httpsJson(url: string, ca: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });
}

describe('relay start', () => {
  it('a port in use: one line naming --port, exit 1, no stack', async () => {
    const first = await spawnTrackedRelay(tempDir('start-a'));
    const port = new URL(first.url).port;
    const second = await runCli(RELAY, [...BASE, '--data-dir', tempDir('start-b'), '--port', port]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toEqual([
      `Port ${port} on 127.0.0.1 is already in use (another relay?): stop that one, or start this one with --port and a free port, e.g. --port ${Number(port) + 1}.`,
    ]);
    expect(second.stdout).not.toContain('listening');
  });

  it('refuses a malformed --public-url and a certificate without its key, naming the flag', async () => {
    const [scheme, credentials, certOnly] = await Promise.all([
      runCli(RELAY, [...BASE, '--data-dir', tempDir('start-c'), '--public-url', 'tessera.example.org']),
      runCli(RELAY, [...BASE, '--data-dir', tempDir('start-d'), '--public-url', 'https://me:secret@tessera.example.org/']),
      runCli(RELAY, [...BASE, '--data-dir', tempDir('start-e'), '--tls-cert', 'cert.pem']),
    ]);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/^--public-url: expected an absolute URL such as https:\/\/tessera\.example\.org\//);
    expect(credentials.code).toBe(2);
    expect(credentials.stderr).toMatch(/^--public-url: expected a URL without a user name or password/);
    expect(certOnly.code).toBe(2);
    expect(certOnly.stderr).toMatch(/^--tls-cert and --tls-key go together/);
  });

  it('serves https and wss with --tls-cert/--tls-key and publishes --public-url as the join URL', async () => {
    const tls = selfSignedCertificate(tempDir('start-tls'));
    const relay = await spawnTrackedRelay(tempDir('start-f'), ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--public-url', 'https://demo.example.org:8443']);
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(relay.output()).toContain('join URL (the demo screen\'s QR code): https://demo.example.org:8443/');
    const ca = readFileSync(tls.certFile, 'utf8');
    const run = parseSwarmRunInfo(await httpsJson(`${relay.url}api/run`, ca));
    expect(run.joinUrl).toBe('https://demo.example.org:8443/');
    const first = await new Promise<{ type: string }>((resolve, reject) => {
      const socket = new WebSocket(`${relay.url.replace(/^https/, 'wss')}api/events`, { ca });
      socket.once('message', (data) => {
        resolve(JSON.parse(String(data)));
        socket.close();
      });
      socket.once('error', reject);
    });
    expect(first.type).toBe('round-opened');
  });
});
