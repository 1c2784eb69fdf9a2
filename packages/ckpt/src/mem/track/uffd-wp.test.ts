import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcError, readMaps, readStatus } from '../../proc/index.js';
import { freeze } from '../../ptrace/index.js';
import { AlignedBuffer, IovecArray, PAGE_SIZE, processVmReadv, SysError } from '../../sys/index.js';
import { Fixture, skipUnlessAvailable } from '../../testing/index.js';
import { MemError } from '../errors.js';
import {
  type AddressRange,
  type DirtyTracker,
  memError,
  subtractRanges,
  trackableRanges,
  UffdWpTracker,
  UNREGISTER_STEP,
  uffdWpUnsupportedReason,
} from './index.js';

const skip = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());

/** The writer fixture and its command FIFO. */
class Writer {
  private seq = 0;
  private constructor(
    readonly f: Fixture,
    private readonly fifo: number,
    private readonly dir: string,
  ) {}

  static async start(mib: number, threads: number, populate = 0): Promise<Writer> {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-writer-'));
    const path = join(dir, 'cmd');
    spawnSync('mkfifo', [path]);
    const f = await Fixture.start('writer', [String(mib), String(threads), path, '0', String(populate)]);
    return new Writer(f, openSync(path, 'w'), dir);
  }

  get pid(): number {
    return this.f.pid;
  }
  get base(): number {
    return this.f.num('base');
  }
  get pages(): number {
    return this.f.num('pages');
  }

  /** Send a command and wait (synchronously) for its "OK <seq> <result>" line. */
  cmd(line: string): string {
    const seq = ++this.seq;
    writeSync(this.fifo, `${line}\n`);
    const re = new RegExp(`^OK ${seq} (.*)$`, 'm');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 10_000; i++) {
      const m = re.exec(readFileSync(this.f.logFile, 'utf8'));
      if (m) return m[1]!;
      Atomics.wait(cell, 0, 0, 1);
    }
    throw new Error(`writer did not answer ${line}`);
  }

  /** `addr=0x...` of a command's answer. */
  addr(line: string): number {
    return Number(/addr=(0x[0-9a-f]+)/.exec(this.cmd(line))![1]);
  }

  /** The write counter (word 1) of every page of [start, start + pages pages). */
  counters(start = this.base, pages = this.pages): Uint32Array {
    const buf = new AlignedBuffer(4 << 20);
    const words = new Uint32Array(buf.bytes.buffer, buf.bytes.byteOffset, buf.size / 4);
    const local = new IovecArray(1);
    const remote = new IovecArray(1);
    const out = new Uint32Array(pages);
    for (let p = 0; p < pages; p += 1024) {
      const n = Math.min(1024, pages - p);
      local.clear();
      local.push(buf.address, n * PAGE_SIZE);
      remote.clear();
      remote.push(start + p * PAGE_SIZE, n * PAGE_SIZE);
      assert.equal(processVmReadv(this.pid, local, remote), n * PAGE_SIZE);
      for (let i = 0; i < n; i++) out[p + i] = words[i * 1024 + 2]!;
    }
    return out;
  }

  close(): void {
    closeSync(this.fifo);
    this.f.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Pages of [start, end) that the tracker reported, as page indexes, with their `present` flag. */
function collectPages(t: DirtyTracker, start: number, end: number): Map<number, boolean> {
  const got = new Map<number, boolean>();
  t.collect((s, e, present) => {
    for (let a = Math.max(s, start); a < Math.min(e, end); a += PAGE_SIZE)
      got.set((a - start) / PAGE_SIZE, present);
  });
  return got;
}

function changed(a: Uint32Array, b: Uint32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

const sorted = (m: Map<number, boolean>) => [...m.keys()].sort((x, y) => x - y);

function uffdFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .filter((n) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${n}`) === 'anon_inode:[userfaultfd]';
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** What the dump layer does between iterations: register the trackable VMAs that are new in maps. */
function addNewVmas(t: UffdWpTracker): AddressRange[] {
  const fresh = subtractRanges(trackableRanges(readMaps(t.pid)), [...t.ranges(), ...t.untrackedRanges()]);
  t.add(fresh);
  return fresh;
}

for (const threads of [1, 4]) {
  test(`uffd-wp reports exactly the written pages (${threads} writer threads)`, { skip }, async (tc) => {
    const w = await Writer.start(64, threads, 0);
    const ourFds = readdirSync('/proc/self/fd').length;
    try {
      using t = new UffdWpTracker(w.pid);
      t.start(trackableRanges(readMaps(w.pid)));
      tc.diagnostic(
        `setup: stopped ${t.setup.stoppedMicros} µs (inject ${t.setup.injectMicros}), register ${t.setup.registerMicros} µs, arm ${t.setup.armMicros} µs, ${t.setup.registered} ranges, ${t.setup.refused} refused`,
      );
      tc.diagnostic(`target's longest stall around setup: ${w.cmd('s')}`);
      assert.equal(t.setup.refused, 0);
      assert.equal(readStatus(w.pid).tracerPid, 0);
      assert.deepEqual(uffdFds(w.pid), [], 'the target closed its userfaultfd');
      const end = w.base + w.pages * PAGE_SIZE;
      let before = w.counters();
      for (const k of [1000, 3000, 5, 0, 2000]) {
        if (k) w.cmd(`w ${k}`);
        const got = collectPages(t, w.base, end);
        const after = w.counters();
        assert.deepEqual(sorted(got), changed(before, after), `round with ${k} writes`);
        assert.ok([...got.values()].every((p) => p));
        before = after;
      }
      assert.equal(collectPages(t, w.base, end).size, 0, 'an immediate second collect is empty');
      t.close();
      assert.equal(readdirSync('/proc/self/fd').length, ourFds, 'no descriptor leaked');
    } finally {
      w.close();
    }
  });
}

test('uffd-wp: MADV_DONTNEED is written-but-not-present', { skip }, async () => {
  const w = await Writer.start(16, 1, 1);
  try {
    using t = new UffdWpTracker(w.pid);
    t.start(trackableRanges(readMaps(w.pid)));
    const end = w.base + w.pages * PAGE_SIZE;
    w.cmd('d 100 10');
    w.cmd('w 50');
    const got = collectPages(t, w.base, end);
    for (let p = 100; p < 110; p++) assert.equal(got.get(p), false, `page ${p} reported not present`);
    assert.ok(got.size >= 10 && got.size <= 60);
    assert.ok(
      w.counters(w.base + 100 * PAGE_SIZE, 10).every((c) => c === 0),
      'reads as zero',
    );
  } finally {
    w.close();
  }
});

test('uffd-wp follows mmap, munmap, mremap and MAP_FIXED replacement', { skip }, async () => {
  const w = await Writer.start(16, 1, 1);
  try {
    using t = new UffdWpTracker(w.pid);
    t.start(trackableRanges(readMaps(w.pid)));
    const end = w.base + w.pages * PAGE_SIZE;
    // mmap: a new VMA, found by a maps diff and added without stopping the target
    const a = w.addr('m 50');
    const added = addNewVmas(t);
    assert.ok(added.some((r) => r.start <= a && a < r.end));
    w.cmd(`x ${a + 3 * PAGE_SIZE}`);
    assert.deepEqual(sorted(collectPages(t, a, a + 50 * PAGE_SIZE)), [3]);
    // munmap: the walk skips the hole
    w.cmd(`u ${a} 50`);
    w.cmd('w 20'); // its threads may get their stacks where the unmapped VMA was: then they are new VMAs
    let before = w.counters();
    const inHole = collectPages(t, a, a + 50 * PAGE_SIZE);
    const now = readMaps(w.pid);
    for (const p of inHole.keys()) {
      const addr = a + p * PAGE_SIZE;
      assert.ok(
        now.some((v) => v.start <= addr && addr < v.end),
        'only pages of mapped VMAs are reported',
      );
    }
    // mremap: the last 64 pages move; the moved VMA is new (uffd drops it without EVENT_REMAP)
    const moved = w.addr(`r ${end - 64 * PAGE_SIZE} 64`);
    assert.ok(addNewVmas(t).some((r) => r.start <= moved && moved < r.end));
    w.cmd(`x ${moved + 7 * PAGE_SIZE}`);
    // the moved VMA may overlap the old, unmapped one (registered in our books, not in the kernel's):
    // that part is reported in full once (reconcile), never missed
    assert.ok(collectPages(t, moved, moved + 64 * PAGE_SIZE).has(7));
    w.cmd(`x ${moved + 9 * PAGE_SIZE}`);
    assert.deepEqual(sorted(collectPages(t, moved, moved + 64 * PAGE_SIZE)), [9]);
    // MAP_FIXED over pages 200..209 of the region: reported in full (EPERM -> reconcile), then tracked
    before = w.counters(w.base, w.pages - 64);
    w.addr(`f ${w.base + 200 * PAGE_SIZE} 10`);
    w.cmd('w 30');
    const fixed = collectPages(t, w.base, end - 64 * PAGE_SIZE);
    const after = w.counters(w.base, w.pages - 64);
    for (const p of changed(before, after)) assert.ok(fixed.has(p), `page ${p} changed but was not reported`);
    for (let p = 200; p < 210; p++) assert.ok(fixed.has(p));
    w.cmd(`x ${w.base + 205 * PAGE_SIZE}`);
    assert.deepEqual(sorted(collectPages(t, w.base, end - 64 * PAGE_SIZE)), [205]);
  } finally {
    w.close();
  }
});

test('uffd-wp persists across runs: save, resume, release', { skip }, async () => {
  const w = await Writer.start(16, 1, 1);
  try {
    const end = w.base + w.pages * PAGE_SIZE;
    const t1 = new UffdWpTracker(w.pid, { persist: true });
    t1.start(trackableRanges(readMaps(w.pid)));
    const state = JSON.parse(JSON.stringify(t1.save()));
    t1.close();
    assert.deepEqual(uffdFds(w.pid), [state.fd], 'the target keeps its userfaultfd');
    const before = w.counters();
    w.cmd('w 300'); // written while no tracker process holds the fd
    const r = UffdWpTracker.resume(state);
    assert.ok(r.tracker, r.reason);
    const t2 = r.tracker;
    assert.deepEqual(sorted(collectPages(t2, w.base, end)), changed(before, w.counters()));
    assert.equal(
      UffdWpTracker.resume({ ...state, startTimeMicros: state.startTimeMicros + 1 }).tracker,
      null,
    );
    assert.match(UffdWpTracker.resume({ ...state, fd: 0 }).reason ?? '', /fd 0/);
    assert.match(UffdWpTracker.resume({ version: 2 }).reason ?? '', /version/);
    t2.release();
    assert.deepEqual(uffdFds(w.pid), [], 'release closed the target fd');
    // our side unregistered every range in paced steps (unregister-pace.ts), the region's 16 MiB included
    assert.equal(t2.unregistered?.complete, true);
    assert.ok((t2.unregistered?.steps ?? 0) >= Math.ceil((16 << 20) / UNREGISTER_STEP) + 1);
    assert.match(UffdWpTracker.resume(state).reason ?? '', /closed/);
    assert.match(w.f.state(), /^[SR]$/);
  } finally {
    w.close();
  }
});

test('uffd-wp with a frozen process the caller owns', { skip }, async () => {
  const w = await Writer.start(16, 1, 1);
  try {
    const end = w.base + w.pages * PAGE_SIZE;
    using t = (() => {
      using frozen = freeze(w.pid);
      const tr = new UffdWpTracker(w.pid, { frozen });
      tr.start(trackableRanges(readMaps(w.pid)));
      assert.equal(tr.setup.stoppedMicros, 0, 'the caller owns the stop');
      assert.equal(frozen.state, 'frozen');
      return tr;
    })();
    const before = w.counters();
    w.cmd('w 40');
    assert.deepEqual(sorted(collectPages(t, w.base, end)), changed(before, w.counters()));
  } finally {
    w.close();
  }
});

test('uffd-wp: a target that exits gives MemError ESRCH, on collect and on start', { skip }, async () => {
  const f = await Fixture.start('static', ['4']);
  const t = new UffdWpTracker(f.pid);
  t.start(trackableRanges(readMaps(f.pid)));
  f.kill();
  const esrch = (e: unknown) => e instanceof MemError && e.code === 'ESRCH';
  assert.throws(() => t.collect(() => {}), esrch);
  t.close();
  t.close();
  assert.throws(() => new UffdWpTracker(f.pid).start([]), esrch);
});

test('tracker errors keep their class: EPERM stays EPERM, a vanished process is ESRCH', () => {
  const eperm = memError(new ProcError('EPERM', 'not permitted to read maps of process 1'), 1, 'scan');
  assert.ok(eperm instanceof MemError);
  assert.equal(eperm.code, 'EPERM');
  assert.equal((memError(new ProcError('ESRCH', 'no such process: 1'), 1, 'scan') as MemError).code, 'ESRCH');
  assert.equal((memError(new SysError('ioctl', 1), 1, 'scan') as MemError).code, 'EPERM');
  assert.equal((memError(new ProcError('EPARSE', 'bad'), 1, 'scan') as MemError).code, 'EIO');
});
