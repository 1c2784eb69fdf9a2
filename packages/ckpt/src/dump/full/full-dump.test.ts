/**
 * Full dumps of fixtures of growing difficulty (restorable.c): the images decode with crit, the state
 * collected is what the fixture set up, and, with CKPT_CRIU=/path/to/criu (CRIU 4.x), `criu restore -d`
 * brings the killed process back: same pid, heartbeat alive, memory checksum equal, file offset and pipe
 * contents kept.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeImageOf, imageFileName, MAGIC, mmEntryCodec, VMA_STATUS } from '../../images/index.js';
import { closeLeftovers } from '../../mem/index.js';
import { findScratchMappings } from '../../ptrace/index.js';
import { SYS, syscall, kill as sysKill } from '../../sys/index.js';
import {
  CKPT_CRIU,
  critDecodesAll,
  type Fixture,
  killRestored,
  logLines,
  NO_CRIU,
  reap,
  criuRestore as restore,
  Scratch,
  sleep,
  sumReport,
} from '../../testing/index.js';
import { DumpError } from '../errors.js';
import { fullDumpProcess } from './dump-process.js';
import { finalDump } from './final-dump.js';

const scratch = new Scratch('ckpt-fulldump-test-');
const criu = CKPT_CRIU;
const noCriu = NO_CRIU;
const lines = logLines;
const report = (pid: number, f: Fixture, n: number) => sumReport(f, n, pid);
const criuRestore = (dir: string) => restore(criu!, dir);

interface Case {
  readonly name: string;
  readonly args: (dir: string) => string[];
  readonly check?: (f: Fixture, r: Awaited<ReturnType<typeof fullDumpProcess>>) => void;
  /** A child process prints CHILD lines. */
  readonly child?: boolean;
  /** Before the dump (after the first report). */
  readonly before?: (f: Fixture) => void;
  /** After the restore (the restored process runs). */
  readonly restored?: (f: Fixture) => void;
}

/** Pending signals of /proc/PID/status: the thread's (SigPnd) and the process's (ShdPnd). */
function pendingMasks(pid: number): { sigPnd: bigint; shdPnd: bigint } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hex = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(st)?.[1] ?? '0'}`);
  return { sigPnd: hex('SigPnd'), shdPnd: hex('ShdPnd') };
}

const SIGUSR2_BIT = 1n << 11n;
const SIGPIPE_BIT = 1n << 12n;

const CASES: Case[] = [
  { name: 'single thread', args: () => ['1', '0', '-'] },
  {
    name: 'many threads',
    args: () => ['1', '6', '-'],
    check: (_f, r) => assert.equal(r.states[0]!.threads.length, 7),
  },
  {
    name: 'a regular file at an offset',
    args: (d) => ['1', '0', join(d, 'data.txt')],
    check: (_f, r) => {
      const fd = r.states[0]!.fds.find((x) => x.path.endsWith('data.txt'));
      assert.equal(fd?.pos, 37);
    },
  },
  {
    name: 'a blocked signal mask',
    args: () => ['1', '0', '-', 'mask'],
    check: (_f, r) => {
      const blocked = r.states[0]!.threads[0]!.state.blocked;
      assert.equal(blocked & ((1n << 11n) | (1n << 12n)), (1n << 11n) | (1n << 12n)); // SIGUSR2, SIGPIPE
    },
  },
  {
    name: 'pending signals (blocked: one for the process, one for a thread)',
    args: () => ['1', '2', '-', 'mask'],
    before: (f) => {
      sysKill(f.pid, 12); // SIGUSR2 to the process: shared pending
      syscall(SYS.tgkill, f.pid, f.pid, 13); // SIGPIPE to the leader: its own
      assert.deepEqual(pendingMasks(f.pid), { sigPnd: SIGPIPE_BIT, shdPnd: SIGUSR2_BIT });
    },
    check: (_f, r) => {
      const signo = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getInt32(0, true);
      assert.deepEqual(r.states[0]!.sharedPending.map(signo), [12]);
      assert.deepEqual(r.states[0]!.threads[0]!.state.pending.map(signo), [13]);
    },
    restored: (f) => assert.deepEqual(pendingMasks(f.pid), { sigPnd: SIGPIPE_BIT, shdPnd: SIGUSR2_BIT }),
  },
  {
    name: 'a pipe holding data',
    args: () => ['1', '0', '-', 'pipe'],
    check: (_f, r) => {
      const datas = [...r.states[0]!.pipes.values()].map((p) => p.data.toString());
      assert.ok(datas.includes('hello'), `pipe contents ${JSON.stringify(datas)}`);
    },
  },
  {
    name: 'a child process sharing a pipe holding data',
    args: () => ['1', '2', '-', 'pipe', 'child'],
    child: true,
    check: (f, r) => {
      assert.deepEqual(
        r.states.map((s) => s.pid),
        [f.pid, f.num('child')],
      );
      assert.equal(r.states[1]!.ppid, f.pid);
    },
  },
];

for (const c of CASES) {
  test(`full dump of ${c.name}: crit decodes every image; criu restore brings it back`, async (t) => {
    const dir = scratch.newDir();
    const work = scratch.newDir();
    spawnSync('mkdir', ['-p', work]);
    const f = await scratch.start('restorable', c.args(work));
    const before = await report(f.pid, f, 1);
    c.before?.(f);
    const r = await fullDumpProcess({ pid: f.pid, imagesDir: dir });
    f.kill(); // reap: the pid must be free for the restore
    if (c.child) reap(f.num('child')); // orphaned to us, a child subreaper
    for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
    assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped process is gone');
    // every fixture installs a SIGUSR1 handler (SA_RESTART)
    const usr1 = r.states[0]!.injected.sigactions[9]!;
    assert.notEqual(usr1.handler, 0n);
    assert.equal(usr1.flags & 0x10000000n, 0x10000000n);
    c.check?.(f, r);
    const mm = mmEntryCodec.decode(
      decodeImageOf(readFileSync(join(dir, imageFileName.mm(f.pid))), MAGIC.MM)[0]!,
    );
    assert.ok(mm.vmas.some((v) => v.status & VMA_STATUS.HEAP || v.flags & 0x100)); // heap or stack seen
    critDecodesAll(t, dir);
    if (noCriu) {
      t.diagnostic(`restore skipped: ${noCriu}`);
      return;
    }
    const beats = lines(f, /^BEAT /).length;
    const childBeats = lines(f, /^CHILD /).length;
    const res = criuRestore(dir);
    try {
      assert.ok(res.ok, `criu restore failed:\n${res.log}`);
      for (let i = 0; i < 200 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
      assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after restore');
      const after = await report(f.pid, f, 2);
      assert.deepEqual(after, before);
      c.restored?.(f);
      if (c.child) {
        for (let i = 0; i < 200 && lines(f, /^CHILD /).length <= childBeats + 2; i++) await sleep(10);
        assert.ok(lines(f, /^CHILD /).length > childBeats + 2, 'no child heartbeat after restore');
      }
    } finally {
      if (c.child) killRestored(f.num('child'));
      killRestored(f.pid);
    }
  });
}

test('a process holding a socket is refused before anything is frozen or written', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '0', '-', 'socket']);
  await assert.rejects(fullDumpProcess({ pid: f.pid, imagesDir: dir }), (e: unknown) => {
    assert.ok(e instanceof DumpError && e.code === 'ENOTSUP');
    assert.match(
      e.message,
      new RegExp(`process ${f.pid} fd \\d+: a netlink socket \\(not dumped yet\\): socket:\\[\\d+\\]`),
    );
    return true;
  });
  assert.equal(existsSync(dir), false);
  assert.match(f.state(), /^[RS]$/);
  const beats = lines(f, /^BEAT /).length;
  for (let i = 0; i < 100 && lines(f, /^BEAT /).length === beats; i++) await sleep(10);
  assert.ok(lines(f, /^BEAT /).length > beats, 'the refused target kept running');
});

test('--leave-running: the process goes on unharmed (same memory, no mapping left, not stopped)', async (t) => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '2', '-']);
  const before = await report(f.pid, f, 1);
  const maps = readFileSync(`/proc/${f.pid}/maps`, 'utf8');
  await fullDumpProcess({ pid: f.pid, imagesDir: dir, leaveRunning: true });
  assert.match(f.state(), /^[RS]$/);
  assert.equal(readFileSync(`/proc/${f.pid}/maps`, 'utf8'), maps);
  const beats = lines(f, /^BEAT /).length;
  for (let i = 0; i < 200 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
  assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after the dump');
  assert.deepEqual(await report(f.pid, f, 2), before);
  critDecodesAll(t, dir);
});

test("a tree kept after all (the release says 'thaw'): its last infection, left uncured for a kill, is cured; the images hold none of ours", async (t) => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '2', '-']); // 3 threads: the leader and two guests
  const before = await report(f.pid, f, 1);
  const maps = readFileSync(`/proc/${f.pid}/maps`, 'utf8');
  let during = '';
  const r = await finalDump({
    pid: f.pid,
    imagesDir: dir,
    release: async () => {
      during = readFileSync(`/proc/${f.pid}/maps`, 'utf8'); // still frozen, the set complete
      return 'thaw';
    },
  });
  assert.equal(r.killed, false);
  assert.notEqual(during, maps, 'the infection stood uncured while the tree waited for its end');
  assert.equal(readFileSync(`/proc/${f.pid}/maps`, 'utf8'), maps, 'cured by the thaw: no mapping left');
  assert.match(f.state(), /^[RS]$/);
  assert.deepEqual(await report(f.pid, f, 2), before);
  const starts = new Set(maps.split('\n').map((l) => Number.parseInt(l.split('-')[0] ?? '', 16)));
  const mm = mmEntryCodec.decode(
    decodeImageOf(readFileSync(join(dir, imageFileName.mm(f.pid))), MAGIC.MM)[0]!,
  );
  for (const v of mm.vmas)
    assert.ok(starts.has(Number(v.start)), `0x${v.start.toString(16)}: not a VMA of the target`);
  critDecodesAll(t, dir);
});

const here = dirname(fileURLToPath(import.meta.url));

/** A ckpt that SIGKILLs itself once the set is complete, the tree frozen with its infection uncured. */
const KILLED_IN_RELEASE = `
import { finalDump } from ${JSON.stringify(pathToFileURL(join(here, 'index.js')).href)};
await finalDump({
  pid: Number(process.argv[2]),
  imagesDir: process.argv[3],
  release: async () => {
    process.kill(process.pid, 'SIGKILL');
    return new Promise(() => {});
  },
});
`;

test('ckpt killed while the tree waits for its end (its infection uncured): the tree runs on unharmed; the scratch mapping left is removed as a leftover', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '2', '-']);
  const before = await report(f.pid, f, 1);
  const script = join(scratch.root, 'killed-in-release.mjs');
  writeFileSync(script, KILLED_IN_RELEASE);
  const r = spawnSync(process.execPath, [script, String(f.pid), dir], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.match(f.state(), /^[RS]$/, 'not stopped: the kernel detached it');
  const beats = lines(f, /^BEAT /).length;
  for (let i = 0; i < 200 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
  assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after the killed dump');
  assert.deepEqual(await report(f.pid, f, 2), before);
  const left = findScratchMappings(f.pid);
  assert.equal(left.length, 1, "the killed ckpt's scratch mapping stays");
  assert.equal(left[0]!.tracer, r.pid);
  assert.deepEqual(
    closeLeftovers(f.pid).unmapped.map((m) => m.start),
    [left[0]!.start],
  );
  assert.deepEqual(findScratchMappings(f.pid), []);
  assert.deepEqual(await report(f.pid, f, 3), before);
});
