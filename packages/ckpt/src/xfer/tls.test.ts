import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PageServerClient } from './page-client.js';
import { PageServer } from './page-server.js';
import { loadTlsFiles, type TlsFiles } from './tls.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'ckpt-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The commands docs/page-server.md gives: a CA, then certificates it signs (EC P-256 keys). */
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function ca(name: string): void {
  openssl(
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

function leaf(name: string, caName: string, usage: 'serverAuth' | 'clientAuth'): void {
  writeFileSync(join(dir, `${name}.ext`), `extendedKeyUsage=${usage}\nsubjectAltName=IP:127.0.0.1\n`);
  openssl(
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
  openssl(
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

const files = (caName: string, name: string): TlsFiles =>
  loadTlsFiles({
    cacert: join(dir, `${caName}.pem`),
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
  });

describe('page server over mutual TLS', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  before(() => {
    ca('ca');
    ca('rogue-ca');
    leaf('server', 'ca', 'serverAuth');
    leaf('client', 'ca', 'clientAuth');
    leaf('rogue-client', 'rogue-ca', 'clientAuth');
    leaf('rogue-server', 'rogue-ca', 'serverAuth');
  });

  it('accepts a client with a certificate from the CA and refuses the others', async () => {
    const lines: string[] = [];
    const images = join(dir, 'images');
    const server = await PageServer.listen({
      dir: images,
      address: '127.0.0.1',
      port: 0,
      daemon: true,
      tls: files('ca', 'server'),
      log: (l) => lines.push(l),
    });
    const port = server.port;

    // No certificate at all.
    const noCert = { ...files('ca', 'client') };
    await assert.rejects(async () => {
      const c = await PageServerClient.connect({
        address: '127.0.0.1',
        port,
        tls: { ca: noCert.ca } as TlsFiles,
      });
      await c.begin(1);
    }, /page server/);

    // A certificate from another CA.
    await assert.rejects(async () => {
      const c = await PageServerClient.connect({
        address: '127.0.0.1',
        port,
        tls: files('ca', 'rogue-client'),
      });
      await c.begin(1);
    }, /page server/);

    // Plain TCP against the TLS server.
    await assert.rejects(async () => {
      const c = await PageServerClient.connect({ address: '127.0.0.1', port, connectTimeoutMs: 2000 });
      await c.begin(1);
    });

    // The right certificate.
    const good = await PageServerClient.connect({ address: '127.0.0.1', port, tls: files('ca', 'client') });
    await good.begin(1);
    good.addPages(0x1000, 2, Buffer.alloc(8192, 0x5a));
    await good.flush();
    await good.end();

    const reports = await server.close();
    assert.deepEqual(
      reports.map((r) => r.ok),
      [false, false, false, true],
    );
    assert.ok(reports.slice(0, 3).every((r) => r.error !== undefined));
    assert.equal(lines.filter((l) => l.includes('failed')).length, 3);
    const ok = reports[3]!;
    assert.deepEqual(readFileSync(join(ok.dir, 'pages-65537.img')), Buffer.alloc(8192, 0x5a));
    for (const r of reports.slice(0, 3))
      assert.equal(r.dir === '' || !existsSync(join(r.dir, 'pagemap-1.img')), true);
  });

  it('the client refuses a server whose certificate the CA did not sign', async () => {
    const server = await PageServer.listen({
      dir: join(dir, 'images2'),
      address: '127.0.0.1',
      port: 0,
      tls: files('rogue-ca', 'rogue-server'),
    });
    await assert.rejects(
      PageServerClient.connect({ address: '127.0.0.1', port: server.port, tls: files('ca', 'client') }),
      { code: 'CONNECT' },
    );
    const [r] = await server.finished;
    assert.equal(r!.ok, false);
  });
});
