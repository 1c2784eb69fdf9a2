/**
 * Round trips of kernel_state.c through fullDumpProcess and restoreProcess: the kernel state a process
 * cannot see in its memory comes back: pending signals (per thread and shared, with their siginfo),
 * itimers, personality, credentials (per thread: ids, groups, capability sets, securebits), scheduling
 * (per thread: nice, policy); a process that dropped to another user (other_uid.c): its ids and limits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { coreEntryCodec, decodeImageOf, MAGIC } from '../images/index.js';
import { kill as sysKill } from '../sys/index.js';
import { DUMPERS, type Fixture, NO_CRIU, Scratch } from '../testing/index.js';
import { RestoreError } from './errors.js';
import { killAndReap } from './reap.js';
import { restoreProcess } from './restore-process.js';
import { dumpedPersonality } from './task-state.js';

const scratch = new Scratch('ckpt-restore-kstate-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const lines = (f: Fixture, re: RegExp) =>
  readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l));

/** The lines of /proc/PID/task/TID/status that start with one of `keys`. */
function status(pid: number, tid: number, keys: readonly string[]): string[] {
  return readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
    .split('\n')
    .filter((l) => keys.some((k) => l.startsWith(`${k}:`)));
}

/** SIGUSR1: the fixture reports; resolves with the report's lines (ITIMER, PERSONA, SECBITS, SIG, TSIG). */
async function report(f: Fixture, signals: number): Promise<string[]> {
  const n = lines(f, /^SECBITS /).length;
  sysKill(f.pid, 10);
  const re = /^(ITIMER|PERSONA|PARENT|SECBITS|SIG|TSIG) /;
  for (let i = 0; i < 300; i++) {
    if (lines(f, /^SECBITS /).length > n && lines(f, /^T?SIG /).length >= signals) break;
    await sleep(10);
  }
  return lines(f, re);
}

const ckptDump = DUMPERS.ckpt;

/**
 * Start kernel_state (or `fixture`) with `flags`, run `before` on it, dump it (`dump`: ckpt's by
 * default), kill it, restore it; then `after`.
 */
async function roundTrip(
  flags: string[],
  before: (f: Fixture, worker: number) => unknown,
  after: (f: Fixture, worker: number, dir: string, saw: unknown) => Promise<void>,
  dump = ckptDump,
  fixture = 'kernel_state',
): Promise<void> {
  const dir = scratch.newDir();
  const f = await scratch.start(fixture, flags);
  const worker = f.num('worker');
  const saw = before(f, worker);
  await dump(f.pid, dir);
  f.kill();
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped process is gone');
  const beats = lines(f, /^BEAT /).length;
  const r = await restoreProcess({ imagesDir: dir });
  try {
    assert.equal(r.pid, f.pid);
    for (let i = 0; i < 300 && lines(f, /^BEAT /).length <= beats + 2; i++) await sleep(10);
    assert.ok(lines(f, /^BEAT /).length > beats + 2, 'no heartbeat after restore');
    await after(f, worker, dir, saw);
  } finally {
    killAndReap(f.pid);
  }
}

const SIG_KEYS = ['SigPnd', 'ShdPnd', 'SigBlk'];

test('restore gives back pending signals: per thread and shared, blocked, with their siginfo', async () => {
  await roundTrip(
    ['signals'],
    (f, w) => {
      const s = [status(f.pid, f.pid, SIG_KEYS), status(f.pid, w, SIG_KEYS)];
      // SIGUSR2 (12) to the main thread, SIGRTMIN+3 (37) to the worker, SIGRTMIN+2 (36) shared
      assert.deepEqual(s[0]!.slice(0, 2), ['SigPnd:\t0000000000000800', 'ShdPnd:\t0000000800000000']);
      assert.equal(s[1]![0], 'SigPnd:\t0000001000000000');
      return s;
    },
    async (f, w, _dir, saw) => {
      assert.deepEqual([status(f.pid, f.pid, SIG_KEYS), status(f.pid, w, SIG_KEYS)], saw);
      const got = (await report(f, 3)).filter((l) => /^T?SIG /.test(l));
      // si_code: SI_QUEUE (-1) with the queued values; tgkill's SI_TKILL glibc's sigtimedwait shows as SI_USER
      assert.deepEqual(got.slice().sort(), ['SIG 12 0 0', 'SIG 36 -1 4242', 'TSIG 37 -1 77']);
    },
  );
});

test('restore gives back itimers (ITIMER_REAL, _VIRTUAL, _PROF): interval equal, value counted on', async () => {
  await roundTrip(
    ['itimers'],
    () => undefined,
    async (f, _w, dir) => {
      const core = coreEntryCodec.decode(
        decodeImageOf(readFileSync(join(dir, `core-${f.pid}.img`)), MAGIC.CORE)[0]!,
      );
      const t = core.tc!.timers!;
      const got = (await report(f, 0)).filter((l) => l.startsWith('ITIMER '));
      assert.equal(got.length, 3);
      for (const [w, it] of [t.real, t.virt, t.prof].entries()) {
        const [, which, value, interval] = got[w]!.split(' ').map(Number);
        assert.equal(which, w);
        assert.equal(BigInt(interval!), it.isec * 1_000_000n + it.iusec, `interval of itimer ${w}`);
        const dumped = Number(it.vsec * 1_000_000n + it.vusec);
        assert.ok(dumped > 0, `itimer ${w} was armed in the dump`);
        assert.ok(
          // CPU-time timers are rounded up to a scheduler tick when set
          value! > 0 && value! <= dumped + 20_000 && value! > dumped - 60e6,
          `itimer ${w}: ${value} of ${dumped}`,
        );
      }
    },
  );
});

/** [nice, policy] of thread `tid` (/proc/PID/task/TID/stat fields 19 and 41). */
function sched(pid: number, tid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return [Number(f[19 - 3]), Number(f[41 - 3])];
}

test('restore gives back scheduling per thread: nice (raised and lowered), policy', async () => {
  const SCHED_OTHER = 0;
  const SCHED_BATCH = 3;
  await roundTrip(
    [],
    (f, worker) => {
      for (const args of [
        ['chrt', '-b', '-p', '0', String(f.pid)],
        ['renice', '-n', '7', '-p', String(f.pid)],
        ['renice', '-n', '-5', '-p', String(worker)],
      ]) {
        const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
        assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      }
      assert.deepEqual(sched(f.pid, f.pid), [7, SCHED_BATCH]);
      assert.deepEqual(sched(f.pid, worker), [-5, SCHED_OTHER]);
    },
    async (f, worker) => {
      assert.deepEqual(sched(f.pid, f.pid), [7, SCHED_BATCH], 'the leader: nice 7, SCHED_BATCH');
      assert.deepEqual(sched(f.pid, worker), [-5, SCHED_OTHER], 'the worker: nice -5');
    },
  );
});

test('restore gives back the personality', async () => {
  await roundTrip(
    ['personality'],
    (f) => assert.equal(readFileSync(`/proc/${f.pid}/personality`, 'utf8').trim(), '00060000'),
    async (f) => {
      assert.equal(readFileSync(`/proc/${f.pid}/personality`, 'utf8').trim(), '00060000');
      assert.ok((await report(f, 0)).includes('PERSONA 60000'));
    },
  );
});

test("a personality from CRIU's images (hex digits read as decimal) is read back as hex", () => {
  assert.equal(dumpedPersonality(1, 0x60000), 0x60000); // ckpt's dump
  assert.equal(dumpedPersonality(1, 60000), 0x60000); // CRIU's atoi("00060000")
  assert.equal(dumpedPersonality(1, 400000), 0x400000); // READ_IMPLIES_EXEC
  assert.equal(dumpedPersonality(1, 8), 8); // PER_LINUX32: the same either way
  assert.throws(
    () => dumpedPersonality(1, 0x1234abcd),
    (e: unknown) => e instanceof RestoreError,
  );
});

const CRED_KEYS = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs'];

/** Every flag: creds (as set in both threads), pending signals, personality, itimers armed, pdeath signal. */
async function everything(dump = ckptDump): Promise<void> {
  await roundTrip(
    ['signals', 'itimers', 'personality', 'creds', 'parent'],
    (f, w) => {
      const s = [status(f.pid, f.pid, CRED_KEYS), status(f.pid, w, CRED_KEYS)];
      assert.deepEqual(s[0]!.slice(0, 3), [
        'Uid:\t0\t0\t0\t1006',
        'Gid:\t0\t0\t0\t1003',
        'Groups:\t4 24 27 ',
      ]);
      assert.notDeepEqual(s[0], s[1], 'the threads have different creds');
      return [...s, status(f.pid, f.pid, SIG_KEYS)];
    },
    async (f, w, _dir, saw) => {
      const s = saw as string[][];
      assert.deepEqual(status(f.pid, f.pid, CRED_KEYS), s[0]);
      assert.deepEqual(status(f.pid, w, CRED_KEYS), s[1]);
      assert.deepEqual(status(f.pid, f.pid, SIG_KEYS), s[2]);
      const got = await report(f, 3);
      assert.ok(got.includes('SECBITS 10'), got.join('|'));
      assert.ok(got.includes('PERSONA 60000'));
      assert.ok(got.includes('PARENT 28 1'), got.join('|'));
      assert.equal(got.filter((l) => /^T?SIG /.test(l)).length, 3);
      const intervals = got.filter((l) => l.startsWith('ITIMER ')).map((l) => l.split(' ')[3]);
      assert.deepEqual(intervals, ['1000000000', '300000000', '400000000']);
    },
    dump,
  );
}

test('restore gives back creds per thread (ids, groups, capabilities, securebits), with the rest', () =>
  everything());

test(
  "cross-tool: ckpt restore of criu dump's images gives back the same kernel state",
  { skip: NO_CRIU },
  () => everything(DUMPERS.criu),
);

test('a process that dropped to another user (nobody) is dumped (limits from /proc) and restored with its ids', async () => {
  const IDS = ['Uid', 'Gid', 'Groups'];
  const nofile = (pid: number) =>
    /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.slice(1);
  const idLines = async (f: Fixture, n: number) => {
    sysKill(f.pid, 10);
    for (let i = 0; i < 300 && lines(f, /^NOFILE /).length < n; i++) await sleep(10);
    return [lines(f, /^IDS /)[n - 1], lines(f, /^NOFILE /)[n - 1]];
  };
  await roundTrip(
    [],
    (f, w) => {
      const s = [status(f.pid, f.pid, IDS), status(f.pid, w, IDS)];
      assert.deepEqual(s[0], [
        'Uid:\t65534\t65534\t65534\t65534',
        'Gid:\t65534\t65534\t65534\t65534',
        'Groups:\t ',
      ]);
      assert.deepEqual(s[1], s[0]);
      assert.deepEqual(nofile(f.pid), ['300', '400']);
      return s;
    },
    async (f, w, dir, saw) => {
      const s = saw as string[][];
      assert.deepEqual(status(f.pid, f.pid, IDS), s[0], "the leader's ids");
      assert.deepEqual(status(f.pid, w, IDS), s[1], "the worker's ids");
      assert.deepEqual(nofile(f.pid), ['300', '400']);
      const core = coreEntryCodec.decode(
        decodeImageOf(readFileSync(join(dir, `core-${f.pid}.img`)), MAGIC.CORE)[0]!,
      );
      assert.deepEqual(core.tc!.rlimits!.rlimits[7], { cur: 300n, max: 400n }, 'RLIMIT_NOFILE in the image');
      assert.equal(core.tc!.rlimits!.rlimits[0]!.cur, 2n ** 64n - 1n, 'RLIMIT_CPU unlimited: RLIM_INFINITY');
      assert.deepEqual(await idLines(f, 1), ['IDS 65534 65534 65534 65534 65534 65534 0', 'NOFILE 300 400']);
    },
    ckptDump,
    'other_uid',
  );
});
