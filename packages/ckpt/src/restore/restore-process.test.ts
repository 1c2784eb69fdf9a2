/**
 * Round trips of restorable.c through fullDumpProcess (the library prototype of `ckpt dump`) and
 * restoreProcess: the restored process has the dumped pid, its memory equals the images before it runs
 * (every dumped page, read through /proc/PID/mem), and it goes on: heartbeat, same checksum, file offset.
 * Failure paths forced: the pid taken, a corrupt image: one RestoreError line, nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fullDumpProcess } from '../dump/full/index.js';
import {
  coreEntryCodec,
  decodeImageOf,
  ImageDir,
  imageFileName,
  MAGIC,
  mmEntryCodec,
  PageChain,
  pstreeEntryCodec,
  VMA_STATUS,
} from '../images/index.js';
import { kill as sysKill } from '../sys/index.js';
import { criuDump, FIXTURE_DIR, type Fixture, Scratch } from '../testing/index.js';
import { RestoreError } from './errors.js';
import { killAndReap } from './reap.js';
import { restoreProcess } from './restore-process.js';

const scratch = new Scratch('ckpt-restore-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lines(f: Fixture, re: RegExp): string[] {
  return readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l));
}

async function report(pid: number, f: Fixture, n: number): Promise<string[]> {
  sysKill(pid, 10);
  for (let i = 0; i < 300 && lines(f, /^SUM /).length < n; i++) await sleep(10);
  const sums = lines(f, /^SUM /);
  assert.ok(sums.length >= n, `no SUM report ${n}: ${readFileSync(f.logFile, 'utf8').slice(-300)}`);
  return [sums[n - 1]!, lines(f, /^POS /)[n - 1] ?? '-', lines(f, /^PIPE /)[n - 1] ?? '-'];
}

/** The kernel's fields of every thread's rseq area (cpu_id_start, cpu_id, node_id, mm_cid: it writes them). */
function rseqKernelBytes(dir: string): Set<number> {
  const out = new Set<number>();
  for (const name of readdirSync(dir).filter((n) => /^core-\d+\.img$/.test(n))) {
    const core = coreEntryCodec.decode(decodeImageOf(readFileSync(join(dir, name)), MAGIC.CORE)[0]!);
    const at = Number(core.thread_core?.rseq_entry?.rseq_abi_pointer ?? 0n);
    if (at === 0) continue;
    for (const [off, len] of [
      [0, 8],
      [20, 8],
    ] as const)
      for (let i = 0; i < len; i++) out.add(at + off + i);
  }
  return out;
}

/**
 * Every dumped page (but the vdso's) equals the process's memory at that address, but for the bytes the
 * kernel writes into the rseq area on registration.
 */
function assertMemoryEqualsImages(dir: string, pid: number): number {
  const mm = mmEntryCodec.decode(decodeImageOf(readFileSync(join(dir, imageFileName.mm(pid))), MAGIC.MM)[0]!);
  const kernelBytes = rseqKernelBytes(dir);
  using chain = new PageChain(ImageDir.open(dir), pid);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  let pages = 0;
  try {
    const live = Buffer.alloc(4096);
    for (const v of mm.vmas) {
      if (v.status & (VMA_STATUS.VDSO | VMA_STATUS.VVAR)) continue;
      for (const loc of chain.locate(Number(v.start), Number(v.end - v.start) / 4096)) {
        if (loc.where !== 'data') continue;
        for (let i = 0; i < loc.nrPages; i++) {
          const addr: number = loc.vaddr + i * 4096;
          assert.equal(readSync(fd, live, 0, 4096, addr), 4096, `read 0x${addr.toString(16)}`);
          const img = chain.page(addr) as Buffer;
          for (const b of kernelBytes) if (b >= addr && b < addr + 4096) live[b - addr] = img[b - addr]!;
          if (!img.equals(live)) {
            let off = 0;
            while (img[off] === live[off]) off++;
            assert.fail(
              `page 0x${addr.toString(16)} differs from the image at +${off}: ${img.subarray(off, off + 16).toString('hex')} / ${live.subarray(off, off + 16).toString('hex')}`,
            );
          }
          pages++;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}

async function dumpAndKill(
  args: (dir: string) => string[],
  setup?: (pid: number) => void,
): Promise<{ f: Fixture; dir: string; before: string[] }> {
  const dir = scratch.newDir();
  const work = scratch.newDir();
  mkdirSync(work, { recursive: true });
  const f = await scratch.start('restorable', args(work));
  setup?.(f.pid);
  const before = await report(f.pid, f, 1);
  await fullDumpProcess({ pid: f.pid, imagesDir: dir });
  f.kill();
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped process is gone');
  return { f, dir, before };
}

const CASES = [
  { name: 'a single thread', args: () => ['1', '0', '-'] },
  {
    name: 'a regular file at an offset, a blocked mask, lowered limits',
    args: (d: string) => ['1', '0', join(d, 'data.txt'), 'mask'],
    // lowered limits (raising a hard one needs CAP_SYS_RESOURCE)
    setup: (pid: number) => spawnSync('prlimit', ['--pid', String(pid), '--nofile=300:400', '--core=0:0']),
    limits: true,
  },
  { name: 'a pipe holding data', args: () => ['1', '0', '-', 'pipe'] },
  { name: 'six threads besides the leader', args: () => ['1', '6', '-'], threads: 7 },
  {
    name: 'a child sharing a pipe holding data, two threads',
    args: () => ['1', '2', '-', 'pipe', 'child'],
    child: true,
  },
  {
    name: 'a single thread, pages by injected pread',
    args: () => ['1', '0', '-'],
    pageFill: 'pread' as const,
  },
];

/** Timeslices each thread of `pid` has run (schedstat's third field), by tid. */
function timeslices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`))
    out.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[2]));
  return out;
}

for (const c of CASES) {
  test(`restore of ${c.name}: same pid, memory equal to the images, it runs on`, async () => {
    const { f, dir, before } = await dumpAndKill(c.args, c.setup);
    const beats = lines(f, /^BEAT /).length;
    let compared = 0;
    const r = await restoreProcess({
      imagesDir: dir,
      pageFill: c.pageFill,
      beforeRun: (pid) => (compared = assertMemoryEqualsImages(dir, pid)),
    });
    try {
      assert.equal(r.pid, f.pid);
      assert.ok(compared > 256, `only ${compared} pages compared`);
      for (let i = 0; i < 300 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
      assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after restore');
      assert.deepEqual(await report(f.pid, f, 2), before);
      assert.match(readFileSync(`/proc/${f.pid}/stat`, 'utf8'), /^\d+ \(restorable\) [RS]/);
      if (c.child) {
        const child = f.num('child');
        assert.deepEqual(r.pids, [f.pid, child]);
        const ppid = Number(
          readFileSync(`/proc/${child}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1],
        );
        assert.equal(ppid, f.pid, "the child's parent is the restored root");
        const n = lines(f, /^CHILD /).length;
        for (let i = 0; i < 300 && lines(f, /^CHILD /).length <= n + 2; i++) await sleep(10);
        assert.ok(lines(f, /^CHILD /).length > n + 2, 'no child heartbeat after restore');
      }
      if (c.limits) {
        const text = readFileSync(`/proc/${f.pid}/limits`, 'utf8');
        assert.match(text, /Max open files\s+300\s+400\s/);
        assert.match(text, /Max core file size\s+0\s+0\s/);
      }
      if (c.threads) {
        const before = timeslices(f.pid);
        assert.equal(before.size, c.threads);
        const tree = pstreeEntryCodec.decode(
          decodeImageOf(readFileSync(join(dir, 'pstree.img')), MAGIC.PSTREE)[0]!,
        );
        assert.deepEqual([...before.keys()].sort(), [...tree.threads].sort(), 'the dumped thread ids');
        await sleep(200);
        for (const [tid, n] of timeslices(f.pid))
          assert.ok(n > before.get(tid)!, `thread ${tid} does not run`);
      }
    } finally {
      killAndReap(f.pid);
      if (c.child) killAndReap(f.num('child'));
    }
  });
}

/** Helper processes (`sleep 600`) this test process is the parent of. */
function helpersLeft(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.replace(/^.*\) /s, '').split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8') === 'sleep\u0000600\u0000')
        out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

test('a taken pid is refused in one line, naming its holder; no helper left', async () => {
  const { f, dir } = await dumpAndKill(() => ['1', '0', '-']);
  const first = await restoreProcess({ imagesDir: dir });
  try {
    await assert.rejects(
      restoreProcess({ imagesDir: dir }),
      (e: unknown) =>
        e instanceof RestoreError &&
        e.code === 'EBUSY' &&
        e.message === `pid ${f.pid} is taken (by restorable)`,
    );
    assert.deepEqual(helpersLeft(), []);
  } finally {
    killAndReap(first.pid);
  }
});

test('a file gone mid-build: one line, the half-built process killed, no helper left', async () => {
  let path = '';
  const { f, dir } = await dumpAndKill((d) => [
    '1',
    '0',
    // biome-ignore lint/suspicious/noAssignInExpressions: the path is wanted after the dump
    (path = join(d, 'data.txt')),
  ]);
  unlinkSync(path);
  await assert.rejects(
    restoreProcess({ imagesDir: dir }),
    (e: unknown) =>
      e instanceof RestoreError &&
      e.code === 'ENOENT' &&
      e.message === `open ${path} in process ${f.pid}: ENOENT`,
  );
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'the half-built process is gone');
  assert.deepEqual(helpersLeft(), []);
});

test('a corrupt image is refused in one line; no pid taken, no process left', async () => {
  const { f, dir } = await dumpAndKill(() => ['1', '0', '-']);
  const mmPath = join(dir, imageFileName.mm(f.pid));
  const bytes = readFileSync(mmPath);
  writeFileSync(mmPath, bytes.subarray(0, bytes.length - 7));
  await assert.rejects(
    restoreProcess({ imagesDir: dir }),
    (e: unknown) => e instanceof RestoreError && e.code === 'CORRUPT_IMAGE' && !e.message.includes('\n'),
  );
  assert.equal(existsSync(`/proc/${f.pid}`), false);
});

const criu = process.env.CKPT_CRIU;
const noCriu = criu ? false : 'CKPT_CRIU is not set (path to a CRIU 4.x binary that runs on this kernel)';

test("cross-tool: ckpt restore of criu dump's images (CKPT_CRIU)", { skip: noCriu }, async () => {
  const dir = scratch.newDir();
  mkdirSync(dir, { recursive: true });
  const f = await scratch.start('restorable', ['1', '2', '-', 'mask']);
  const before = await report(f.pid, f, 1);
  const d = criuDump(criu!, f.pid, dir);
  assert.ok(d.ok, `criu dump failed: ${d.log}`);
  f.kill();
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  const beats = lines(f, /^BEAT /).length;
  const r = await restoreProcess({ imagesDir: dir, beforeRun: (pid) => assertMemoryEqualsImages(dir, pid) });
  try {
    assert.equal(r.pid, f.pid);
    for (let i = 0; i < 300 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
    assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after restore');
    assert.deepEqual(await report(f.pid, f, 2), before);
    assert.equal(readdirSync(`/proc/${f.pid}/task`).length, 3);
  } finally {
    killAndReap(f.pid);
  }
});

test('a Python program with a worker thread continues its work from where it was', async () => {
  const dir = scratch.newDir();
  const log = join(scratch.root, `py-${Date.now()}.log`);
  const script = join(FIXTURE_DIR, 'py_worker.py');
  const start = spawnSync('bash', ['-c', `setsid python3 '${script}' > '${log}' 2>&1 </dev/null & echo $!`], {
    encoding: 'utf8',
  });
  const pid = Number(start.stdout.trim());
  const ticks = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TICK '))
      .map((l) => l.split(' ').slice(1).map(Number) as [number, number]);
  try {
    for (let i = 0; i < 500 && ticks().length < 5; i++) await sleep(10);
    await fullDumpProcess({ pid, imagesDir: dir });
  } finally {
    killAndReap(pid);
  }
  const [lastN, lastLen] = ticks().at(-1)!;
  const before = ticks().length;
  const r = await restoreProcess({ imagesDir: dir });
  try {
    assert.equal(r.pid, pid);
    for (let i = 0; i < 300 && ticks().length < before + 5; i++) await sleep(10);
    const after = ticks().slice(before);
    assert.ok(after.length >= 5, `no TICK after restore: ${readFileSync(log, 'utf8').slice(-300)}`);
    // the main thread's counter goes on from the dump (memory), the worker's list keeps growing (thread)
    assert.equal(after[0]![0], lastN + 1);
    assert.ok(after[0]![1] >= lastLen && after.at(-1)![1] > after[0]![1], JSON.stringify(after));
  } finally {
    killAndReap(pid);
  }
});
