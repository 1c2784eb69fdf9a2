import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageDir, INCOMPLETE_MARKER, PE } from '../images/index.js';
import { PAGE_SIZE, SIG } from '../sys/index.js';
import { critDecodesAll, requireOrSkip, Scratch, snapshotPages } from '../testing/index.js';
import { DumpError } from './errors.js';
import { preDumpSplice } from './splice-pre-dump.js';

const scratch = new Scratch('ckpt-splice-test-', [`/tmp/ckpt-guard-s-${process.pid}`]); // the guard fixture's file
const { root } = scratch;
const newDir = () => scratch.newDir();
const start = (name: string, args: string[]) => scratch.start(name, args);

const fdCount = (pid: number | 'self') => readdirSync(`/proc/${pid}/fd`).length;
const maps = (pid: number) => readFileSync(`/proc/${pid}/maps`, 'utf8');

/**
 * Every image page is present in the target, the data span [base, base+len) is there byte for byte, and
 * at most one present page is missing from the images: the code page the injector's stub copied on write
 * (it became anonymous after the scan).
 */
function assertImagesMatch(dir: string, pid: number, span: [number, number], expected: Map<number, Buffer>) {
  const d = ImageDir.open(dir);
  assert.equal(d.complete, true);
  assert.equal(d.inventory().pre_dump_mode, 1, 'inventory says splice');
  using pm = d.pagemap(pid);
  let pages = 0;
  let data = 0;
  for (const r of pm) {
    assert.equal(r.flags, PE.PRESENT);
    for (let i = 0; i < r.nrPages; i++) {
      const va = r.vaddr + i * PAGE_SIZE;
      const want = expected.get(va);
      assert.ok(want, `image holds 0x${va.toString(16)}, which is not present in the target`);
      if (va >= span[0] && va < span[1]) {
        const got = pm.readPage(va)!;
        assert.ok(got.equals(want), `page 0x${va.toString(16)} differs`);
        assert.equal(Number(got.readBigUInt64LE(0)), va, 'word 0 is the page address');
        data++;
      }
      pages++;
    }
  }
  assert.equal(data, (span[1] - span[0]) / PAGE_SIZE, 'every data page is in the images');
  assert.ok(expected.size - pages <= 1, `${expected.size - pages} present pages missing from the images`);
  assert.equal(d.stats()?.dump?.pages_written, pages);
}

test('splice mode, static 64 MiB target: images equal memory, crit decodes them, nothing left behind', async (t) => {
  const f = await start('static', ['64']);
  const span: [number, number] = [f.num('base'), f.num('base') + f.num('len')];
  const fdsBefore = fdCount(f.pid);
  const ourFds = fdCount('self');
  const mapsBefore = maps(f.pid);
  const dir = newDir();
  const r = await preDumpSplice({ pid: f.pid, imagesDir: dir, pipesPerRound: 5 });
  assert.doesNotMatch(f.state(), /^[Tt]$/, 'running again');
  assert.equal(fdCount(f.pid), fdsBefore, 'no fd left in the target');
  assert.equal(maps(f.pid), mapsBefore, 'no mapping left in the target');
  assert.equal(fdCount('self'), ourFds, 'every pipe closed on our side');
  assert.ok(r.splice.pipes >= 64, `${r.splice.pipes} pipes`);
  assert.ok(r.splice.rounds >= 13);
  assert.ok(r.splice.peakPipeBytes >= 64 << 20);
  assert.ok(r.splice.peakFds > r.splice.pipes, 'every pipe was held at once');
  assert.equal(r.splice.peakTargetFds, 10);
  // pipe2 + fcntl + vmsplice per pipe, one close_range per round (contiguous fds), mmap + munmap
  assert.ok(
    r.splice.injectedSyscalls <= 3 * r.splice.pipes + r.splice.rounds + 2,
    `${r.splice.injectedSyscalls}`,
  );
  assert.equal(r.pagesSkipped, 0);
  assert.equal(r.frozen, true);
  assert.ok(r.frozenTime > 0);
  assertImagesMatch(dir, f.pid, span, await snapshotPages(f.pid));
  critDecodesAll(t, dir);
});

test('small pipes over many VMAs and a no-PROT_READ VMA: every page once', async () => {
  const f = await start('manyvma', ['300', '4']);
  const dir = newDir();
  const r = await preDumpSplice({ pid: f.pid, imagesDir: dir, pipeSize: 16 * 1024, pipesPerRound: 7 });
  assert.equal(r.splice.pipeSize, 16 * 1024);
  assert.ok(r.splice.pipes >= r.pagesWritten / 4);
  const expected = await snapshotPages(f.pid);
  const base = f.num('base');
  const len = f.num('len');
  using pm = ImageDir.open(dir).pagemap(f.pid);
  let pages = 0;
  for (const range of pm) {
    for (let i = 0; i < range.nrPages; i++) {
      const va = range.vaddr + i * PAGE_SIZE;
      const want = expected.get(va);
      assert.ok(want, `0x${va.toString(16)} is present in the target`);
      if (va >= base && va < base + len)
        assert.ok(pm.readPage(va)?.equals(want), `page 0x${va.toString(16)}`);
      pages++;
    }
  }
  assert.equal(pages, r.pagesWritten);
  assert.ok(expected.size - pages <= 1);

  const g = await start('guard', [`/tmp/ckpt-guard-s-${process.pid}`]);
  const rg = await preDumpSplice({ pid: g.pid, imagesDir: newDir() });
  assert.deepEqual(rg.deferred.map((d) => [d.reason, d.pages]).sort(), [
    ['anon-shared', 16],
    ['no-prot-read', 16],
  ]);
});

for (const how of ['a fault hook throws', 'the target is killed'] as const) {
  test(`${how} in the middle of the splice: cured and thawed (or gone), pipes closed, images incomplete`, async () => {
    const f = await start('static', ['32']);
    const fdsBefore = fdCount(f.pid);
    const ourFds = fdCount('self');
    const mapsBefore = maps(f.pid);
    const dir = newDir();
    const boom = new Error('forced fault');
    await assert.rejects(
      preDumpSplice({
        pid: f.pid,
        imagesDir: dir,
        pipesPerRound: 4,
        afterPipe: (i) => {
          if (i !== 9) return;
          if (how === 'the target is killed') f.signal(SIG.SIGKILL);
          else throw boom;
        },
      }),
      (e: unknown) =>
        how === 'the target is killed'
          ? e instanceof DumpError && e.code === 'ESRCH' && /exited during the dump/.test(e.message)
          : e === boom,
    );
    assert.equal(fdCount('self'), ourFds, 'every pipe closed on our side');
    assert.equal(existsSync(join(dir, 'inventory.img')), false);
    assert.equal(existsSync(join(dir, INCOMPLETE_MARKER)), true);
    if (how === 'the target is killed') {
      f.kill();
      assert.equal(f.state(), '', 'gone and reaped');
    } else {
      assert.doesNotMatch(f.state(), /^[Tt]$/, 'running again');
      assert.equal(fdCount(f.pid), fdsBefore, 'no fd left in the target');
      assert.equal(maps(f.pid), mapsBefore, 'no mapping left in the target');
      // and it can be dumped again
      const r = await preDumpSplice({ pid: f.pid, imagesDir: newDir() });
      assert.ok(r.pagesWritten >= (32 << 20) / PAGE_SIZE);
    }
  });
}

test('a target that frees and rewrites its memory during the dump: every page is one it held', async () => {
  const statsFile = join(root, 'churn-stats');
  const f = await start('churn', ['64', statsFile]);
  const rate = Buffer.alloc(8);
  rate.writeBigUInt64LE(512n); // MiB/s
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const fd = openSync(statsFile, 'r+');
  writeSync(fd, rate, 0, 8, 24);
  closeSync(fd);
  const base = f.num('base');
  const len = f.num('len');
  const dir = newDir();
  const r = await preDumpSplice({ pid: f.pid, imagesDir: dir, pipeSize: 64 * 1024 });
  using pm = ImageDir.open(dir).pagemap(f.pid);
  let data = 0;
  let torn = 0;
  for (const range of pm) {
    for (let i = 0; i < range.nrPages; i++) {
      const va = range.vaddr + i * PAGE_SIZE;
      if (va < base || va >= base + len) continue;
      // a page of this address, as the target held it at the freeze (the pipe kept it when the target
      // freed it); only the one page the churn thread was filling when frozen may be half written
      if (Number(pm.readPage(va)!.readBigUInt64LE(0)) !== va) torn++;
      data++;
    }
  }
  assert.ok(torn <= 1, `${torn} pages hold another page's data`);
  // pages freed and not yet refilled at the freeze are not present: at most the chunk being rewritten
  assert.ok(data >= len / PAGE_SIZE - 256, `${data} data pages spliced`);
  assert.equal(r.pagesSkipped, 0);
  assert.ok(readFileSync(statsFile).readBigUInt64LE(16) > 0n, 'the target churned');
});

test("the target's fd limit: one pipe per round with 2 free fds, a clear error with 1", async (t) => {
  if (
    requireOrSkip(
      t,
      'prlimit',
      spawnSync('prlimit', ['--version']).status !== 0 && 'prlimit(1) is not installed',
    )
  ) {
    return;
  }
  const f = await start('static', ['4']);
  const used = fdCount(f.pid);
  // fds are allocated lowest first: with the limit at lo + 2, exactly lo and lo + 1 are free
  const open = new Set(readdirSync(`/proc/${f.pid}/fd`).map(Number));
  let lo = 0;
  while (open.has(lo)) lo++;
  assert.ok(!open.has(lo + 1), 'two free fds in a row');
  const limit = (n: number) => {
    const r = spawnSync('prlimit', ['--pid', String(f.pid), `--nofile=${n}:${n}`]);
    assert.equal(r.status, 0, String(r.stderr));
  };
  limit(lo + 2);
  const r = await preDumpSplice({ pid: f.pid, imagesDir: newDir() });
  assert.equal(r.splice.peakTargetFds, 2);
  assert.equal(r.splice.rounds, r.splice.pipes);
  assert.ok(r.pagesWritten >= (4 << 20) / PAGE_SIZE);
  limit(lo + 1);
  const mapsBefore = maps(f.pid);
  const dir = newDir();
  await assert.rejects(
    preDumpSplice({ pid: f.pid, imagesDir: dir }),
    (e: unknown) => e instanceof DumpError && e.code === 'EIO' && /no free file descriptor/.test(e.message),
  );
  assert.equal(existsSync(join(dir, INCOMPLETE_MARKER)), true);
  assert.equal(fdCount(f.pid), used);
  assert.equal(maps(f.pid), mapsBefore);
  assert.doesNotMatch(f.state(), /^[Tt]$/);
});

test('bad options and no such process', async () => {
  await assert.rejects(preDumpSplice({ pid: 0, imagesDir: newDir() }), { code: 'EINVAL' });
  await assert.rejects(preDumpSplice({ pid: 1, imagesDir: newDir(), pipeSize: 100 }), { code: 'EINVAL' });
  await assert.rejects(preDumpSplice({ pid: 0x3ffffff0, imagesDir: newDir() }), { code: 'ESRCH' });
});
