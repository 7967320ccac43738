// The relay's TLS files (src/relay/tls.ts) are checked at start: a missing
// file, a file that is not PEM and a key that does not fit the certificate
// are refused with the flag's name; a matching pair (openssl, self-signed) loads.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTls, TlsConfigError } from '../../src/relay/tls.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';
import { removeTempDirs, tempDir } from './relay-fixtures.ts';

afterAll(removeTempDirs);

function refusal(run: () => unknown): TlsConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof TlsConfigError) return error;
    throw error;
  }
  throw new Error('expected a TlsConfigError');
}

describe('loadTls', () => {
  it('loads a matching pair and refuses missing, non-PEM and mismatched files, naming the flag', () => {
    const a = selfSignedCertificate(tempDir('tls-a'));
    const b = selfSignedCertificate(tempDir('tls-b'));
    const loaded = loadTls(a);
    expect(String(loaded.cert)).toContain('BEGIN CERTIFICATE');

    const missing = refusal(() => loadTls({ ...a, certFile: join(tempDir('tls-none'), 'nope.pem') }));
    expect(missing.flag).toBe('tls-cert');
    expect(missing.message).toMatch(/--tls-cert .*nope\.pem: cannot read it \(ENOENT\)/);

    const junk = join(tempDir('tls-junk'), 'junk.pem');
    writeFileSync(junk, 'not a key');
    expect(refusal(() => loadTls({ ...a, keyFile: junk }))).toMatchObject({ flag: 'tls-key', message: expect.stringMatching(/not a PEM file/) });

    const mismatch = refusal(() => loadTls({ certFile: a.certFile, keyFile: b.keyFile }));
    expect(mismatch.flag).toBe('tls-key');
    expect(mismatch.message).toMatch(/does not fit --tls-cert/);
  });
});
