import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_OPENSSL, TestCerts } from '../testing/index.js';
import { PageServerClient } from './page-client.js';
import { PageServer } from './page-server.js';
import type { TlsFiles } from './tls.js';

const dir = mkdtempSync(join(tmpdir(), 'ckpt-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const certs = new TestCerts(dir);
const ca = (name: string) => certs.ca(name);
const leaf = (name: string, caName: string, usage: 'serverAuth' | 'clientAuth') =>
  certs.leaf(name, caName, usage);
const files = (caName: string, name: string): TlsFiles => certs.files(caName, name);

describe('page server over mutual TLS', { skip: NO_OPENSSL }, () => {
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
