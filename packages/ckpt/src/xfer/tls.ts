/**
 * Mutual TLS for the page-server connection (node:tls). Both sides load a CA certificate, their own
 * certificate and key; the server requires a client certificate signed by that CA (`requestCert` +
 * `rejectUnauthorized`), the client checks the server's certificate against the same CA. The bytes inside
 * the TLS stream are the plain CRIU protocol (CRIU's `--tls` does the same with GnuTLS).
 *
 * @example
 * const files = loadTlsFiles({ cacert: 'ca.pem', cert: 'server.pem', key: 'server.key' });
 * const server = tls.createServer(serverTlsOptions(files));
 * const socket = tls.connect({ host, port, ...clientTlsOptions(clientFiles) });
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { WireError } from './wire-errors.js';

/** Paths given on the command line (`--tls-cacert`, `--tls-cert`, `--tls-key`). */
export interface TlsPaths {
  cacert: string;
  cert: string;
  key: string;
}

/** The PEM contents. */
export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Read the three PEM files; a missing or unreadable one is `CONNECT` with the path in the message. */
export function loadTlsFiles(paths: TlsPaths): TlsFiles {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new WireError(
        'CONNECT',
        `TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };
  return {
    ca: read('CA certificate', paths.cacert),
    cert: read('certificate', paths.cert),
    key: read('key', paths.key),
  };
}

/** Server side: present our certificate, demand one from the client signed by the CA. */
export function serverTlsOptions(f: TlsFiles): TlsOptions {
  return {
    ca: f.ca,
    cert: f.cert,
    key: f.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

/**
 * Client side: present our certificate, check the server's against the CA. The server's name is not
 * compared with its certificate (page servers are addressed by IP, as CRIU's are); the CA is the trust.
 */
export function clientTlsOptions(f: TlsFiles): ConnectionOptions {
  return {
    ca: f.ca,
    cert: f.cert,
    key: f.key,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    checkServerIdentity: () => undefined,
  };
}
