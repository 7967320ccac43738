// The relay's static files (src/relay/static-files.ts): Accept-Encoding is
// read with q-values and "*", brotli wins where both are accepted, q=0
// refuses; a file with .br/.gz siblings is answered with the variant the
// client accepts and marked as negotiated (Vary), a file without them plainly;
// paths cannot leave dist/, variants cannot be fetched by name, and routes
// without an extension fall back to index.html.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedQuality, chooseEncoding, findStaticFile } from '../../src/relay/static-files.ts';

let dist: string;

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'tessera-static-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html>');
  writeFileSync(join(dist, 'assets', 'app-1.js'), 'x'.repeat(4000));
  writeFileSync(join(dist, 'assets', 'app-1.js.br'), 'b'.repeat(100));
  writeFileSync(join(dist, 'assets', 'app-1.js.gz'), 'g'.repeat(150));
  writeFileSync(join(dist, 'favicon.svg'), '<svg/>');
});

afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('Accept-Encoding', () => {
  it('reads q-values and the wildcard', () => {
    expect(acceptedQuality('gzip, deflate, br, zstd', 'br')).toBe(1);
    expect(acceptedQuality('gzip;q=0.5, br;q=0', 'br')).toBe(0);
    expect(acceptedQuality('gzip;q=0.5, br;q=0', 'gzip')).toBe(0.5);
    expect(acceptedQuality('*', 'br')).toBe(1);
    expect(acceptedQuality('*;q=0, gzip', 'br')).toBe(0);
    expect(acceptedQuality('x-gzip', 'gzip')).toBe(1);
    expect(acceptedQuality(undefined, 'gzip')).toBe(0);
  });

  it('prefers brotli, falls back to gzip, then to the plain bytes', () => {
    expect(chooseEncoding('gzip, deflate, br', ['br', 'gzip'])).toBe('br');
    expect(chooseEncoding('gzip, deflate', ['br', 'gzip'])).toBe('gzip');
    expect(chooseEncoding('br;q=0.2, gzip', ['br', 'gzip'])).toBe('gzip');
    expect(chooseEncoding('br', ['gzip'])).toBe('identity');
    expect(chooseEncoding('identity', ['br', 'gzip'])).toBe('identity');
  });
});

describe('findStaticFile', () => {
  it('answers with the accepted variant and says it was negotiated', async () => {
    const br = await findStaticFile(dist, '/assets/app-1.js', 'gzip, br');
    expect(br).toMatchObject({ encoding: 'br', size: 100, contentType: 'text/javascript; charset=utf-8', negotiated: true, immutable: true });
    expect(br!.path.endsWith('app-1.js.br')).toBe(true);
    const gz = await findStaticFile(dist, '/assets/app-1.js', 'gzip');
    expect(gz).toMatchObject({ encoding: 'gzip', size: 150, negotiated: true });
    expect(gz!.etag).not.toBe(br!.etag);
    const plain = await findStaticFile(dist, '/assets/app-1.js', undefined);
    expect(plain).toMatchObject({ encoding: 'identity', size: 4000, negotiated: true });
  });

  it('serves files without variants plainly, routes to index.html, and refuses escapes and variant names', async () => {
    expect(await findStaticFile(dist, '/favicon.svg', 'br')).toMatchObject({ encoding: 'identity', negotiated: false, immutable: false });
    expect((await findStaticFile(dist, '/demo', 'br'))!.path).toBe(join(dist, 'index.html'));
    // ".." cannot climb out of dist/: the path stays inside (here: no such file, so the app's route fallback).
    expect((await findStaticFile(dist, '/../../etc/passwd', undefined))!.path).toBe(join(dist, 'index.html'));
    expect(await findStaticFile(dist, '/../../etc/hostname.txt', undefined)).toBeNull();
    expect(await findStaticFile(dist, '/assets/app-1.js.br', 'br')).toBeNull();
    expect(await findStaticFile(dist, '/missing.js', 'br')).toBeNull();
    await expect(findStaticFile(dist, '/%E0%A4%A', undefined)).rejects.toThrow(URIError);
  });
});
