// HTTPS for the relay itself (--tls-cert, --tls-key): phones get WebGPU only
// on secure pages, so a demo on a laptop needs https on an address the room
// can reach. The files are read and checked at start — both present, PEM,
// the key matching the certificate — with a message naming the flag, so a bad
// pair fails before the relay listens rather than at the first phone's
// handshake. The push channel then runs as wss on the same server.
// Leaves out: certificate renewal (restart the relay with new files) and
// client certificates. docs/demo.md explains how to get a certificate.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** A TLS setting the relay cannot start with; `flag` names the command-line flag. */
export class TlsConfigError extends Error {
  constructor(
    readonly flag: 'tls-cert' | 'tls-key',
    message: string,
  ) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

/** PEM text of a certificate (chain) and its key, as node:https takes them. */
export interface TlsPair {
  cert: string;
  key: string;
}

/** Reads and checks the certificate and key. */
export function loadTls(files: TlsFiles): TlsPair {
  const read = (flag: 'tls-cert' | 'tls-key', path: string, what: string) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new TlsConfigError(flag, `--${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (!text.includes('-----BEGIN')) throw new TlsConfigError(flag, `--${flag} ${path}: not a PEM file (expected ${what})`);
    return text;
  };
  const cert = read('tls-cert', files.certFile, 'a certificate, "-----BEGIN CERTIFICATE-----"');
  const key = read('tls-key', files.keyFile, 'a private key, "-----BEGIN … PRIVATE KEY-----"');
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsConfigError('tls-key', `--tls-key ${files.keyFile} does not fit --tls-cert ${files.certFile}: ${(error as Error).message}`);
  }
  return { cert, key };
}
