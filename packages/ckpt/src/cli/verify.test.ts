import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkImageChain, ImageDir, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
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
      assert.ok(
        verifyImages(join(ps, '2')).problems.some((p) => /bytes, pagemap-10\.img says/.test(p.message)),
      );
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
    assert.ok(r.problems.some((p) => /was aborted: target exited/.test(p.message)));
  });

  /** A committed local set in `dir` with 3 pages (parent link `parent` if given). */
  function localSet(dir: string, parent?: string): void {
    const d = ImageDir.create(dir, parent === undefined ? {} : { parent });
    const sink = new LocalSink(d);
    sink.begin(7);
    if (parent === undefined) sink.addPages(0x1000, 3, page(9, 3));
    else sink.addHole(0x1000, 3);
    sink.end();
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1000));
    d.commit();
  }

  it('refuses what is not a complete set: an empty directory, a killed run with its log only', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    assert.throws(() => verifyCommand(empty, () => {}), { code: 'CORRUPT_IMAGE' });
    assert.match(
      verifyImages(empty).problems[0]!.message,
      /no inventory\.img: not a complete image set \(empty\)/,
    );
    const killed = join(root, 'killed');
    mkdirSync(killed);
    writeFileSync(join(killed, 'pre-dump.log.bin'), 'log');
    const lines: string[] = [];
    assert.throws(() => verifyCommand(killed, (l) => lines.push(l)), { code: 'CORRUPT_IMAGE' });
    assert.ok(!lines.some((l) => l.startsWith('ok')), lines.join('\n'));
    assert.throws(() => checkImageChain(killed), { code: 'INCOMPLETE' });
  });

  it('refuses a chain whose parent lost inventory.img or has a truncated pages file', () => {
    const base = join(root, 'chain');
    localSet(join(base, '1'));
    localSet(join(base, '2'), '../1');
    assert.deepEqual(verifyImages(join(base, '2')).problems, []);
    checkImageChain(join(base, '2')); // complete
    const inv = join(base, '1', 'inventory.img');
    const invBytes = readFileSync(inv);
    unlinkSync(inv);
    try {
      assert.ok(
        verifyImages(join(base, '2')).problems.some((p) => /1 has no inventory\.img/.test(p.message)),
      );
      assert.throws(() => verifyCommand(join(base, '2'), () => {}), { code: 'CORRUPT_IMAGE' });
      assert.throws(() => checkImageChain(join(base, '2')), {
        code: 'INCOMPLETE',
        message: /^parent .*1 has no inventory/,
      });
    } finally {
      writeFileSync(inv, invBytes);
    }
    const pages = join(base, '1', 'pages-1.img');
    truncateSync(pages, 4096);
    assert.ok(
      verifyImages(join(base, '2')).problems.some((p) => /pages-1\.img is 4096 bytes/.test(p.message)),
    );
    assert.throws(() => checkImageChain(join(base, '2')), {
      code: 'CORRUPT_IMAGE',
      message: /4096 bytes, pagemap-7\.img says 12288/,
    });
    // a dangling and a looping parent link
    const dangling = join(root, 'dangling');
    localSet(dangling);
    symlinkSync('../nowhere', join(dangling, 'parent'));
    assert.throws(() => checkImageChain(dangling), { code: 'BROKEN_CHAIN' });
  });
});
