import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { readMaps } from '../proc/index.js';
import { PAGE_SIZE, PagemapScanner } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { findPages, type PageRanges, type PagesMethod } from './pages.js';
import { planVmas } from './vma.js';

const scanOk = PagemapScanner.supported();
const methods: PagesMethod[] = scanOk ? ['scan', 'pagemap'] : ['pagemap'];
const fixtures: Fixture[] = [];
after(() => {
  // kill first (a failed assertion must not leave fixtures running), then check none was left stopped
  const states = fixtures.map((f) => f.state());
  for (const f of fixtures) f.kill();
  rmSync(`/tmp/ckpt-guard-${process.pid}`, { force: true }); // the guard fixture's file
  for (const s of states) assert.doesNotMatch(s, /^[Tt]$/, 'fixture left stopped');
});

/** Pages of [start, end) that `r` covers. */
function covered(r: PageRanges, start: number, end: number): number {
  let n = 0;
  for (let i = 0; i < r.length; i++) {
    const a = Math.max(start, r.starts[i]!);
    const b = Math.min(end, r.ends[i]!);
    if (b > a) n += (b - a) / PAGE_SIZE;
  }
  return n;
}

/**
 * What the kernel mapped for the pages of [addr, addr + n pages) that were only read: per page, whether it
 * is the shared zero page (KPF_ZERO_PAGE in /proc/kpageflags; without that file, a present page not mapped
 * exclusively) or a page of its own (some kernels answer a read fault on private anonymous memory with a
 * fresh zero-filled page).
 */
function zeroPagesOf(pid: number, addr: number, n: number): boolean[] {
  const pm = openSync(`/proc/${pid}/pagemap`, 'r');
  let kf: number | undefined;
  try {
    kf = openSync('/proc/kpageflags', 'r');
  } catch {}
  try {
    const e = Buffer.alloc(8);
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) {
      readSync(pm, e, 0, 8, (addr / PAGE_SIZE + i) * 8);
      const v = e.readBigUInt64LE(0);
      const present = (v >> 63n) & 1n;
      const exclusive = (v >> 56n) & 1n;
      const pfn = v & ((1n << 55n) - 1n);
      if (!present) {
        out.push(false);
        continue;
      }
      if (kf !== undefined && pfn !== 0n) {
        readSync(kf, e, 0, 8, Number(pfn) * 8);
        out.push(((e.readBigUInt64LE(0) >> 24n) & 1n) === 1n); // KPF_ZERO_PAGE
      } else out.push(exclusive === 0n);
    }
    return out;
  } finally {
    closeSync(pm);
    if (kf !== undefined) closeSync(kf);
  }
}

/** The bytes of [addr, addr + len) in process `pid` (/proc/PID/mem). */
function memoryOf(pid: number, addr: number, len: number): Buffer {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(len);
    assert.equal(readSync(fd, b, 0, len, addr), len);
    return b;
  } finally {
    closeSync(fd);
  }
}

test('guard fixture: COWed file pages, guards, zero pages, deferred VMAs', async (t) => {
  const f = await Fixture.start('guard', [`/tmp/ckpt-guard-${process.pid}`]);
  fixtures.push(f);
  const P = PAGE_SIZE;
  const plan = planVmas(readMaps(f.pid));
  const results = [];
  for (const method of methods) {
    await t.test(method, () => {
      const found = findPages(f.pid, plan, { method });
      results.push(found);
      const anon = f.num('anon');
      assert.equal(covered(found.ranges, anon, anon + 64 * P), 64, 'anon pages');
      assert.equal(covered(found.ranges, anon - P, anon), 0, 'guard below');
      assert.equal(covered(found.ranges, anon + 64 * P, anon + 65 * P), 0, 'guard above');
      // the 16 pages only read: the shared zero page is not data; a fresh page the kernel gave instead is
      // (and holds zeroes, as the memory does)
      const zero = f.num('zero');
      const isZero = zeroPagesOf(f.pid, zero, 16);
      const zeroPages = isZero.filter(Boolean).length;
      t.diagnostic(
        `${method}: read-only pages: ${zeroPages} shared zero pages (skipped), ${16 - zeroPages} fresh zero-filled pages (dumped)`,
      );
      for (let i = 0; i < 16; i++) {
        const a = zero + i * P;
        assert.equal(covered(found.ranges, a, a + P), isZero[i] ? 0 : 1, `page ${i}: zero page ${isZero[i]}`);
      }
      assert.ok(
        memoryOf(f.pid, zero, 16 * P).every((b) => b === 0),
        'the read pages hold zeroes',
      );
      const file = f.num('file');
      assert.equal(covered(found.ranges, file, file + 8 * P), 8, 'COWed file pages');
      assert.equal(covered(found.ranges, file + 8 * P, file + 32 * P), 0, 'clean file pages');
      const hidden = found.deferred.find((d) => d.vma.start === f.num('hidden'));
      assert.deepEqual([hidden?.reason, hidden?.pages], ['no-prot-read', 16]);
      const shared = found.deferred.find((d) => d.vma.start === f.num('shared'));
      assert.deepEqual([shared?.reason, shared?.pages], ['anon-shared', 16]);
      assert.ok(found.guards >= 1, 'the guard VMAs are counted as guards');
      assert.ok(!found.deferred.some((d) => d.vma.end === anon || d.vma.start === anon + 64 * P));
    });
  }
});

test('manyvma: 2000 VMAs separated by PROT_NONE pages, every page found, methods agree', async () => {
  const f = await Fixture.start('manyvma', ['2000', '4']);
  fixtures.push(f);
  const plan = planVmas(readMaps(f.pid));
  const base = f.num('base');
  const len = f.num('len');
  const found = methods.map((method) => findPages(f.pid, plan, { method }));
  for (const r of found) assert.equal(covered(r.ranges, base, base + len), 2000 * 4);
  if (found.length === 2) {
    assert.deepEqual(found[0]!.ranges.starts, found[1]!.ranges.starts);
    assert.deepEqual(found[0]!.ranges.ends, found[1]!.ranges.ends);
  }
});

test('a process that does not exist is ESRCH', () => {
  const plan = planVmas([]);
  for (const method of methods) {
    assert.throws(() => findPages(0x3ffffff0, plan, { method }), { code: 'ESRCH' });
  }
});
