import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PagemapReader } from '../images/index.js';
import { Fixture, skipUnlessAvailable } from '../testing/index.js';
import { PageServerClient } from '../xfer/page-client.js';
import { PageServer } from '../xfer/page-server.js';
import { verifyImages } from './verify.js';

// Interoperability with a real CRIU 4.x (Debian's criu 3.17 does not start on this kernel): set
// CKPT_CRIU=/path/to/criu to run these.
const criu = process.env.CKPT_CRIU;
const skip = skipUnlessAvailable(
  'criu',
  criu === undefined
    ? 'CKPT_CRIU is not set (path to a CRIU 4.x binary that runs on this kernel)'
    : spawnSync(criu, ['--version']).status !== 0
      ? `${criu} --version fails`
      : false,
);

const root = mkdtempSync(join(tmpdir(), 'ckpt-criu-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('page server against CRIU', { skip }, () => {
  it('ckpt client -> criu page-server (the checksum probe is declined harmlessly)', async () => {
    const dir = join(root, 'criu-ps');
    const port = 27000 + (process.pid % 1000);
    spawnSync('mkdir', ['-p', dir]); // criu page-server needs -D to exist
    const server = spawn(
      criu!,
      ['page-server', '-D', dir, '--address', '127.0.0.1', '--port', String(port)],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((r) => server.on('exit', r));
    let c: PageServerClient | undefined;
    for (let i = 0; c === undefined; i++) {
      try {
        c = await PageServerClient.connect({ address: '127.0.0.1', port, checksums: true, log: () => {} });
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(c.checksummed, false);
    await c.begin(4242);
    assert.equal(c.hasParent, false);
    c.addPages(0x400000, 3, Buffer.alloc(3 * 4096, 0x11));
    c.addHole(0x403000, 2);
    c.addPages(0x7f0000000000, 256, Buffer.alloc(256 * 4096, 0x22));
    await c.flush();
    await c.end();
    assert.equal(await exited, 0);
    using pm = PagemapReader.open(dir, 'pagemap-4242.img');
    assert.equal(pm.pagesId, 65537);
    assert.deepEqual(
      pm.ranges.map((r) => [r.vaddr, r.nrPages, r.flags]),
      [
        [0x400000, 3, 4],
        [0x403000, 2, 1],
        [0x7f0000000000, 256, 4],
      ],
    );
    assert.equal(readFileSync(pm.pagesPath).length, 259 * 4096);
  });

  it('criu dump --page-server -> ckpt page-server', async () => {
    await using f = await Fixture.start('static', ['16']);
    const dir = join(root, 'ours');
    const dumpDir = join(root, 'criu-dump');
    spawnSync('mkdir', ['-p', dumpDir]);
    const server = await PageServer.listen({ dir, address: '127.0.0.1', port: 0 });
    const args = ['dump', '-t', String(f.pid), '-D', dumpDir, '--page-server', '--address', '127.0.0.1'];
    const dump = spawn(criu!, [...args, '--port', String(server.port), '--leave-running', '-o', 'dump.log'], {
      stdio: 'ignore',
    });
    const status = await new Promise<number | null>((r) => dump.on('exit', r));
    assert.equal(status, 0, readFileSync(join(dumpDir, 'dump.log'), 'utf8').slice(-2000));
    const [report] = await server.finished;
    assert.equal(report!.ok, true, report!.error?.message);
    assert.ok(report!.counts!.pagesWritten >= 4096);
    assert.ok(existsSync(join(dir, `pagemap-${f.pid}.img`)));
    assert.ok(!existsSync(join(dumpDir, `pagemap-${f.pid}.img`)), 'pagemaps went to the page server');
    assert.deepEqual(verifyImages(dir).problems, []);
  });
});
