/**
 * Certificates for TLS tests, made with the openssl commands docs/page-server.md gives: a CA, then leaf
 * certificates it signs (EC P-256 keys), each for one use (serverAuth, clientAuth) and one IP address.
 *
 * @example
 * const c = new TestCerts(dir);
 * c.ca('ca'); c.leaf('server', 'ca', 'serverAuth', '10.0.0.2'); c.leaf('client', 'ca', 'clientAuth');
 * const tls = c.files('ca', 'server'); // TlsFiles for PageServer / receive
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTlsFiles, type TlsFiles, type TlsPaths } from '../xfer/index.js';

/** Why TLS tests cannot run here, or false. */
export const NO_OPENSSL: string | false =
  spawnSync('openssl', ['version']).status === 0 ? false : 'openssl is not installed';

export class TestCerts {
  constructor(readonly dir: string) {}

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  /** A self-signed CA `name` (name.pem, name.key). */
  ca(name: string): void {
    this.openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-subj',
      `/CN=${name}`,
    );
  }

  /** A certificate `name` signed by CA `caName`, for `usage`, valid for address `ip`. */
  leaf(name: string, caName: string, usage: 'serverAuth' | 'clientAuth', ip = '127.0.0.1'): void {
    writeFileSync(join(this.dir, `${name}.ext`), `extendedKeyUsage=${usage}\nsubjectAltName=IP:${ip}\n`);
    this.openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '30',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    );
  }

  /** The paths of leaf `name` with CA `caName` (the CLI's --tls-cacert/--tls-cert/--tls-key). */
  paths(caName: string, name: string): TlsPaths {
    return {
      cacert: join(this.dir, `${caName}.pem`),
      cert: join(this.dir, `${name}.pem`),
      key: join(this.dir, `${name}.key`),
    };
  }

  /** Their contents, loaded. */
  files(caName: string, name: string): TlsFiles {
    return loadTlsFiles(this.paths(caName, name));
  }
}
