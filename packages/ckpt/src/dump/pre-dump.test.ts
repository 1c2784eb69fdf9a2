import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageDir, INCOMPLETE_MARKER, PE } from '../images/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { critDecodesAll, type Fixture, Scratch, snapshotPages } from '../testing/index.js';
import { NullSink } from '../xfer/index.js';
import { DumpError } from './errors.js';
import { preDump } from './pre-dump.js';

const scratch = new Scratch('ckpt-predump-test-', [`/tmp/ckpt-guard-d-${process.pid}`]); // the guard fixture's file
const newDir = () => scratch.newDir();
const start = (name: string, args: string[]) => scratch.start(name, args);

/**
 * The fixture's own data: [start, end) spans that never change after READY. Other pages (stacks, libc
 * data) may change when a thread resumes, e.g. after a freeze, so only their presence is compared.
 */
function dataSpans(f: Fixture): [number, number][] {
  const P = PAGE_SIZE;
  if (f.info.base !== undefined) return [[f.num('base'), f.num('base') + f.num('len')]];
  if (f.info.base0 !== undefined) {
    const len = f.num('mib') * 2 ** 20;
    return Object.keys(f.info)
      .filter((k) => /^base\d+$/.test(k))
      .map((k) => [f.num(k), f.num(k) + len]);
  }
  return [
    [f.num('anon'), f.num('anon') + 64 * P],
    [f.num('file'), f.num('file') + 8 * P],
  ];
}

/**
 * Every page of the images is present in the target and no present page is missing; the fixture's data
 * pages are equal byte for byte.
 */
function assertImagesMatch(dir: string, f: Fixture, expected: Map<number, Buffer>): void {
  const pid = f.pid;
  const spans = dataSpans(f);
  const isData = (va: number) => spans.some(([a, b]) => va >= a && va < b);
  const d = ImageDir.open(dir);
  assert.equal(d.complete, true);
  assert.equal(d.inventory().pre_dump_mode, 2);
  assert.ok((d.inventory().dump_uptime ?? 0) > 0);
  using pm = d.pagemap(pid);
  let pages = 0;
  let dataPages = 0;
  assert.ok(readdirSync(dir).includes(`pages-${pm.pagesId}.img`));
  for (const r of pm) {
    assert.equal(r.flags, PE.PRESENT);
    for (let i = 0; i < r.nrPages; i++) {
      const va = r.vaddr + i * PAGE_SIZE;
      const want = expected.get(va);
      assert.ok(want, `image holds 0x${va.toString(16)}, which is not present in the target`);
      if (isData(va)) {
        assert.ok(pm.readPage(va)?.equals(want), `page 0x${va.toString(16)} differs`);
        dataPages++;
      }
      pages++;
    }
  }
  assert.equal(pages, expected.size, 'every present page is in the pagemap');
  const spanPages = spans.reduce((n, [a, b]) => n + (b - a) / PAGE_SIZE, 0);
  assert.ok(dataPages >= spanPages - (f.info.nvma ? f.num('nvma') : 0), 'the data pages were compared');
  assert.equal(d.stats()?.dump?.pages_written, pages);
}

test('static 64 MiB target: images equal its memory; crit decodes them', async (t) => {
  const f = await start('static', ['64']);
  const dir = newDir();
  const r = await preDump({ pid: f.pid, imagesDir: dir });
  const expected = await snapshotPages(f.pid);
  assert.equal(r.pagesWritten, expected.size);
  assert.equal(r.pagesSkipped, 0);
  assert.ok(r.pagesWritten >= (64 << 20) / PAGE_SIZE);
  assertImagesMatch(dir, f, expected);
  critDecodesAll(t, dir, /^pages-|\.log\.bin$/);
});

test('the pagemap fallback writes the same images as PAGEMAP_SCAN', async () => {
  const f = await start('static', ['16']);
  const a = newDir();
  const b = newDir();
  await preDump({ pid: f.pid, imagesDir: a, pagesMethod: 'pagemap' });
  await preDump({ pid: f.pid, imagesDir: b });
  using pa = ImageDir.open(a).pagemap(f.pid);
  using pb = ImageDir.open(b).pagemap(f.pid);
  assert.deepEqual(pa.ranges, pb.ranges);
});

test('many VMAs, guard pages, a multi-threaded target: every page, nothing more', async () => {
  for (const [name, args] of [
    ['manyvma', ['2000', '4']],
    ['mt', ['4', '4']],
    ['guard', [`/tmp/ckpt-guard-d-${process.pid}`]],
  ] as const) {
    const f = await start(name, [...args]);
    const dir = newDir();
    const r = await preDump({ pid: f.pid, imagesDir: dir, bufferSize: 256 * 1024 });
    assertImagesMatch(dir, f, await snapshotPages(f.pid));
    if (name === 'mt') assert.equal(r.threads, 5);
    if (name === 'guard') {
      assert.deepEqual(r.deferred.map((d) => [d.reason, d.pages]).sort(), [
        ['anon-shared', 16],
        ['no-prot-read', 16],
      ]);
    }
  }
});

test('--freeze: a consistent copy, the target is running again afterwards', async () => {
  const f = await start('mt', ['3', '8']);
  const dir = newDir();
  const r = await preDump({ pid: f.pid, imagesDir: dir, freeze: true });
  assert.equal(r.frozen, true);
  assert.ok(r.frozenTime > 0);
  assert.doesNotMatch(f.state(), /^[Tt]$/);
  assertImagesMatch(dir, f, await snapshotPages(f.pid));
});

test('a target that changes its mappings during the dump: the dump completes with valid pages', async () => {
  const f = await start('munmapper', ['64', '16']);
  const dir = newDir();
  const r = await preDump({ pid: f.pid, imagesDir: dir, bufferSize: 64 * 1024 });
  assert.equal(r.pagesWritten + r.pagesSkipped, r.pagesPresent);
  const base = f.num('base');
  const len = f.num('len');
  using pm = ImageDir.open(dir).pagemap(f.pid);
  for (const range of pm) {
    for (let i = 0; i < range.nrPages; i++) {
      const va = range.vaddr + i * PAGE_SIZE;
      if (va < base || va >= base + len) continue;
      const w0 = Number(pm.readPage(va)!.readBigUInt64LE(0));
      assert.ok(w0 === va || w0 === 0, `page 0x${va.toString(16)} holds another page's data`);
    }
  }
});

test('the target exits mid-dump: ESRCH, the directory is marked incomplete', async () => {
  const f = await start('static', ['64']);
  const dir = newDir();
  await assert.rejects(
    preDump({
      pid: f.pid,
      imagesDir: dir,
      afterBuffer: (i) => {
        if (i === 1) f.kill();
      },
    }),
    (e: unknown) => e instanceof DumpError && e.code === 'ESRCH' && /exited during the dump/.test(e.message),
  );
  assert.equal(existsSync(join(dir, 'inventory.img')), false);
  assert.equal(existsSync(join(dir, INCOMPLETE_MARKER)), true);
  assert.deepEqual(
    readdirSync(dir).filter((x) => x.endsWith('.tmp')),
    [],
  );
});

test('no such process; bad options; a dry run writes nothing', async () => {
  await assert.rejects(preDump({ pid: 0x3ffffff0, imagesDir: newDir() }), { code: 'ESRCH' });
  await assert.rejects(preDump({ pid: 1, imagesDir: newDir(), bufferSize: 10 }), { code: 'EINVAL' });
  const f = await start('static', ['8']);
  const sink = new NullSink();
  const r = await preDump({ pid: f.pid, sink });
  assert.equal(r.imagesDir, null);
  assert.equal(sink.bytesWritten, r.pagesWritten * PAGE_SIZE);
});

test('the process tree: each descendant gets its own pagemap (CRIU -t), unless tree is false', async () => {
  const f = await start('mt', ['2', '2', '2']);
  const children = [f.num('child0'), f.num('child1')];
  for (const freeze of [false, true]) {
    const dir = newDir();
    const r = await preDump({ pid: f.pid, imagesDir: dir, freeze });
    assert.equal(r.processes, 3);
    assert.deepEqual(
      r.tasks.map((t) => t.pid),
      [f.pid, ...children],
    );
    const d = ImageDir.open(dir);
    assert.deepEqual(
      d.pids(),
      [f.pid, ...children].sort((a, b) => a - b),
    );
    for (const [i, child] of children.entries()) {
      const expected = await snapshotPages(child);
      using pm = d.pagemap(child);
      const cbase = f.num(`cbase${i}`);
      let data = 0;
      for (const range of pm) {
        for (let k = 0; k < range.nrPages; k++) {
          const va = range.vaddr + k * PAGE_SIZE;
          assert.ok(expected.has(va), `0x${va.toString(16)} is present in ${child}`);
          if (va >= cbase && va < cbase + (2 << 20)) {
            assert.ok(pm.readPage(va)?.equals(expected.get(va)!), `child page 0x${va.toString(16)}`);
            assert.equal(Number(pm.readPage(va)!.readBigUInt64LE(8)), 100 + i, 'the child wrote it');
            data++;
          }
        }
      }
      assert.equal(data, (2 << 20) / PAGE_SIZE);
    }
    for (const p of [f.pid, ...children]) {
      assert.doesNotMatch(readFileSync(`/proc/${p}/status`, 'utf8'), /^State:\s+[Tt]/m);
    }
  }
  const single = await preDump({ pid: f.pid, imagesDir: newDir(), tree: false });
  assert.equal(single.processes, 1);
});
