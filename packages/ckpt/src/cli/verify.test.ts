import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageDir, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { LocalSink } from '../xfer/local.js';
import { PageServerClient } from '../xfer/page-client.js';
import { PageServer } from '../xfer/page-server.js';
import { verifyCommand, verifyImages } from './verify.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-verify-'));
after(() => rmSync(root, { recursive: true, force: true }));
const page = (v: number, n = 1) => Buffer.alloc(n * 4096, v & 0xff);

describe('ckpt verify', () => {
  const ps = join(root, 'ps');
  before(async () => {
    // A page-server chain with checksums: ps/1 (data), ps/2 (holes into 1 + new data).
    const server = await PageServer.listen({ dir: ps, address: '127.0.0.1', port: 0, daemon: true });
    const c1 = await PageServerClient.connect({ address: '127.0.0.1', port: server.port, checksums: true });
    await c1.begin(10);
    c1.addPages(0x10000, 4, page(1, 4));
    c1.addPages(0x20000, 2, page(2, 2));
    await c1.end();
    const c2 = await PageServerClient.connect({ address: '127.0.0.1', port: server.port, checksums: true });
    await c2.begin(10);
    c2.addHole(0x10000, 4);
    c2.addPages(0x20000, 2, page(3, 2));
    await c2.end();
    const reports = await server.close();
    assert.deepEqual(
      reports.map((r) => r.ok),
      [true, true],
    );
  });

  it('accepts a good chain and verifies the stored checksums', () => {
    const r = verifyImages(join(ps, '2'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.dirs.length, 2);
    assert.equal(r.dirs[0]!.checksums, 1);
    assert.equal(r.dirs[1]!.checksums, 2);
    assert.equal(r.dirs[0]!.holePages, 4);
    const lines: string[] = [];
    verifyCommand(join(ps, '2'), (l) => lines.push(l));
    assert.match(lines.at(-1)!, /^ok: 2 image set/);
  });

  it('accepts a local pre-dump directory', async () => {
    const dir = join(root, 'local');
    const d = ImageDir.create(dir);
    const sink = new LocalSink(d);
    sink.begin(7);
    sink.addPages(0x1000, 3, page(9, 3));
    sink.end();
    d.writeStats({
      freezing_time: 0,
      frozen_time: 0,
      memdump_time: 1,
      memwrite_time: 1,
      pages_scanned: 3,
      pages_skipped_parent: 0,
      pages_written: 3,
      pages_lazy: 0,
    });
    d.writeIrmapCache();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1000));
    d.commit();
    assert.deepEqual(verifyImages(dir).problems, []);
  });

  it('finds a flipped byte (checksum), a short pages file, a missing parent and an aborted set', () => {
    const pages1 = join(ps, '1', 'pages-65537.img');
    const orig = readFileSync(pages1);
    try {
      const flipped = Buffer.from(orig);
      flipped[5000] ^= 0x40;
      writeFileSync(pages1, flipped);
      const r = verifyImages(join(ps, '2'));
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0]!.message, /crc32/);
      assert.throws(() => verifyCommand(join(ps, '2'), () => {}), { code: 'CORRUPT_IMAGE' });

      truncateSync(pages1, orig.length - 4096);
      assert.ok(verifyImages(join(ps, '2')).problems.some((p) => /bytes, the pagemap says/.test(p.message)));
    } finally {
      writeFileSync(pages1, orig);
    }

    renameSync(join(ps, '1'), join(ps, 'gone'));
    try {
      const r = verifyImages(join(ps, '2'));
      assert.ok(r.problems.some((p) => p.message === 'no such directory'));
      assert.ok(r.problems.some((p) => /parent chain/.test(p.message)));
    } finally {
      renameSync(join(ps, 'gone'), join(ps, '1'));
    }

    const aborted = join(root, 'aborted');
    const d = ImageDir.create(aborted);
    d.pagemapWriter(3).addPages(0x1000, 1, page(1));
    d.abort('target exited');
    const r = verifyImages(aborted);
    assert.ok(r.problems.some((p) => /aborted: target exited/.test(p.message)));
  });
});
