/**
 * `ckpt dump` run as a user would (bin/ckpt.js), on the restorable fixture: the images decode with crit,
 * the pages equal the memory, the tree is killed after a complete dump or left running unharmed, the
 * pre-dumps' tracking ends inside the dump, refusals leave the target untouched; with CKPT_CRIU, `criu
 * restore` brings the dumps back (a chain of two pre-dumps and a dump too).
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ImageDir, PagemapReader, PE, resolvePage } from '../images/index.js';
import { ioctl, PAGE_SIZE } from '../sys/index.js';
import {
  beatsAfter,
  CKPT_CRIU,
  countUserfaultfds,
  critDecodesAll,
  criuRestore,
  type Fixture,
  killRestored,
  logLines,
  NO_CRIU,
  runCkpt,
  runCkptAsync,
  Scratch,
  sleep,
  snapshotPages,
  sumReport,
} from '../testing/index.js';
import { PageServer } from '../xfer/page-server.js';
import { renderShow } from './show.js';

const scratch = new Scratch('ckpt-dump-cli-test-');

/** The fixture's data pages (base .. base+len) as dumped in `dir` equal `pages` (taken before). */
function dataPagesEqual(f: Fixture, dir: string, pages: Map<number, Buffer>, pid = f.pid): number {
  const base = f.num('base');
  const end = base + f.num('len');
  let n = 0;
  for (const [va, bytes] of pages) {
    if (va < base || va >= end) continue;
    const got = resolvePage(dir, pid, va);
    assert.ok(got !== 'absent', `page 0x${va.toString(16)} missing from the images`);
    assert.ok(bytes.equals(got), `page 0x${va.toString(16)} differs from memory`);
    n++;
  }
  assert.ok(n >= Math.floor((end - base) / PAGE_SIZE), `only ${n} data pages compared`);
  return n;
}

/** Wait until the dumped (killed) process is gone and reaped. */
async function gone(f: Fixture, child?: number): Promise<void> {
  f.kill(); // reaps: the pid must be free for a restore
  if (child !== undefined) killRestored(child); // killed by the dump, or left running: killed and reaped
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  assert.equal(existsSync(`/proc/${f.pid}`), false, 'the dumped process is gone');
}

/** criu restore of `dir`; the fixture's heartbeat and report are back (same SUM/POS/PIPE as `before`). */
async function restoredAlive(f: Fixture, dir: string, before: string[], n: number): Promise<void> {
  const beats = logLines(f, /^BEAT /).length;
  const res = criuRestore(CKPT_CRIU!, dir);
  assert.ok(res.ok, `criu restore failed:\n${res.log}`);
  try {
    assert.ok(await beatsAfter(f, /^BEAT /, beats), 'no heartbeat after restore');
    assert.deepEqual(await sumReport(f, n), before);
  } finally {
    killRestored(f.pid);
  }
}

test('ckpt dump kills the tree after a complete dump: crit decodes it; criu restore brings it back', async (t) => {
  const dir = scratch.newDir();
  const work = scratch.newDir();
  mkdirSync(work, { recursive: true });
  const f = await scratch.start('restorable', ['4', '3', join(work, 'data.txt'), 'mask']);
  const before = await sumReport(f, 1);
  const pages = await snapshotPages(f.pid);
  const r = await runCkptAsync(['dump', '-t', String(f.pid), '-D', dir]);
  assert.match(
    r.stdout,
    new RegExp(`^dump of ${f.pid} \\(4 threads\\): .* -> ${dir}; frozen [\\d.]+ ms; killed\\n$`),
  );
  await gone(f);
  assert.ok(ImageDir.open(dir).complete);
  dataPagesEqual(f, dir, pages);
  critDecodesAll(t, dir, /^pages-|\.log\.bin$/);
  if (NO_CRIU) return t.diagnostic(`restore skipped: ${NO_CRIU}`);
  await restoredAlive(f, dir, before, 2);
});

test('ckpt dump --leave-running: the tree (a child, a pipe with data) goes on unharmed', async (t) => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['2', '2', '-', 'pipe', 'child']);
  const child = f.num('child');
  t.after(() => killRestored(child)); // on every way out (the fixture's kill does not reach its child)
  const before = await sumReport(f, 1);
  const pages = await snapshotPages(f.pid);
  const maps = readFileSync(`/proc/${f.pid}/maps`, 'utf8');
  const r = await runCkptAsync(['dump', '-t', String(f.pid), '-D', dir, '--leave-running', '--json']);
  const j = JSON.parse(r.stdout) as { processes: number; killed: boolean; threads: number[] };
  assert.equal(j.killed, false);
  assert.equal(j.processes, 2);
  assert.deepEqual(j.threads, [3, 1]);
  assert.match(f.state(), /^[RS]$/);
  assert.equal(readFileSync(`/proc/${f.pid}/maps`, 'utf8'), maps);
  assert.ok(await beatsAfter(f, /^BEAT /, logLines(f, /^BEAT /).length), 'no heartbeat after the dump');
  assert.ok(await beatsAfter(f, /^CHILD /, logLines(f, /^CHILD /).length), 'no child heartbeat');
  assert.deepEqual(await sumReport(f, 2), before);
  dataPagesEqual(f, dir, pages);
  assert.ok(existsSync(join(dir, `core-${child}.img`)));
  critDecodesAll(t, dir, /^pages-|\.log\.bin$/);
  if (NO_CRIU) return t.diagnostic(`restore skipped: ${NO_CRIU}`);
  await gone(f, child);
  try {
    await restoredAlive(f, dir, before, 3);
  } finally {
    killRestored(child);
  }
});

test('two pre-dumps then ckpt dump --prev-images-dir: parent holes, tracking ended, criu restore', async (t) => {
  const base = scratch.newDir();
  const f = await scratch.start('restorable', ['8', '1', '-']);
  const before = await sumReport(f, 1);
  for (const [d, prev] of [
    ['1', undefined],
    ['2', '../1'],
  ] as const) {
    const args = ['pre-dump', '-t', String(f.pid), '-D', join(base, d)];
    await runCkptAsync(prev ? [...args, '--prev-images-dir', prev] : args);
  }
  const tracked = countUserfaultfds(f.pid);
  const dir = join(base, '3');
  const pages = await snapshotPages(f.pid);
  await runCkptAsync([
    'dump',
    '-t',
    String(f.pid),
    '-D',
    dir,
    '--prev-images-dir',
    '../2',
    '--leave-running',
  ]);
  assert.equal(countUserfaultfds(f.pid), 0, `tracking left a userfaultfd (pre-dumps held ${tracked})`);
  assert.ok(await beatsAfter(f, /^BEAT /, logLines(f, /^BEAT /).length), 'no heartbeat after the dump');
  dataPagesEqual(f, dir, pages);
  using pm = PagemapReader.open(dir, `pagemap-${f.pid}.img`);
  const inParent = [...pm].filter((e) => e.flags & PE.PARENT).reduce((n, e) => n + e.nrPages, 0);
  t.diagnostic(`pre-dumps held ${tracked} userfaultfds; ${inParent} pages left to the parent`);
  if (tracked > 0) assert.ok(inParent >= 1024, `only ${inParent} pages left to the parent`);
  else t.diagnostic('no tracking userfaultfd in the pre-dumps (kernel without uffd-wp): no parent holes');
  critDecodesAll(t, dir, /^pages-|\.log\.bin$/);
  if (NO_CRIU) return t.diagnostic(`restore skipped: ${NO_CRIU}`);
  await gone(f);
  await restoredAlive(f, dir, before, 2);
});

test('a process holding a socket is refused up front: one line, nothing complete, target running', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '0', '-', 'socket']);
  const r = runCkpt(['dump', '-t', String(f.pid), '-D', dir]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`^process ${f.pid} fd \\d+: a netlink socket \\(not dumped yet\\): socket:\\[\\d+\\]$`, 'm'),
  );
  assert.equal(existsSync(join(dir, 'inventory.img')), false);
  assert.match(f.state(), /^[RS]$/);
  assert.equal(readFileSync(`/proc/${f.pid}/status`, 'utf8').match(/TracerPid:\s+(\d+)/)?.[1], '0');
  assert.ok(await beatsAfter(f, /^BEAT /, logLines(f, /^BEAT /).length), 'the refused target kept running');
});

/** A pseudo-terminal held by the test: the master fd and the slave's path (/dev/pts/N). */
function openPty(): { master: number; slave: string } {
  const master = openSync('/dev/ptmx', constants.O_RDWR | constants.O_NOCTTY);
  ioctl(master, 0x40045431, new Int32Array([0])); // TIOCSPTLCK: unlock
  const n = new Int32Array(1);
  ioctl(master, 0x80045430, n); // TIOCGPTN
  return { master, slave: `/dev/pts/${n[0]}` };
}

test('--shell-job: a job holding a terminal is dumped (tty-info), refused without; criu restore --shell-job', async (t) => {
  const pty = openPty();
  try {
    const dir = scratch.newDir();
    const f = await scratch.start('restorable', ['1', '1', '-', `tty=${pty.slave}`]);
    const before = await sumReport(f, 1);
    const refused = runCkpt(['dump', '-t', String(f.pid), '-D', dir]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`^process ${f.pid} fd 0: a terminal \\(.*--shell-job\\): ${pty.slave}$`, 'm'),
    );
    await runCkptAsync(['dump', '-t', String(f.pid), '-D', dir, '--shell-job']);
    await gone(f);
    assert.ok(existsSync(join(dir, 'tty-info.img')));
    assert.match(renderShow(dir), /^ {2}fd +0 {2}TTY +\/dev\/pts\/\d+/m);
    critDecodesAll(t, dir, /^pages-|\.log\.bin$/);
    if (NO_CRIU) return t.diagnostic(`restore skipped: ${NO_CRIU}`);
    const beats = logLines(f, /^BEAT /).length;
    const res = criuRestore(CKPT_CRIU!, dir, ['--shell-job', `<${pty.slave}`]);
    assert.ok(res.ok, `criu restore failed:\n${res.log}`);
    try {
      assert.ok(await beatsAfter(f, /^BEAT /, beats), 'no heartbeat after restore');
      assert.deepEqual(await sumReport(f, 2), before);
      assert.match(readlinkSync(`/proc/${f.pid}/fd/0`), /^\/dev\/pts\/\d+$/);
    } finally {
      killRestored(f.pid);
    }
  } finally {
    closeSync(pty.master);
  }
});

test('ckpt dump --page-server: pages to the server, the rest in -D; merged, they restore', async (t) => {
  const local = scratch.newDir();
  const remote = scratch.newDir();
  const f = await scratch.start('restorable', ['2', '1', '-']);
  const before = await sumReport(f, 1);
  const pages = await snapshotPages(f.pid);
  const server = await PageServer.listen({ dir: remote, address: '127.0.0.1', port: 0 });
  await runCkptAsync([
    'dump',
    '-t',
    String(f.pid),
    '-D',
    local,
    '--page-server',
    '--address',
    '127.0.0.1',
    '--port',
    String(server.port),
  ]);
  const [report] = await server.finished;
  assert.equal(report!.ok, true, report!.error?.message);
  await gone(f);
  assert.ok(existsSync(join(local, `core-${f.pid}.img`)) && existsSync(join(local, 'inventory.img')));
  assert.equal(existsSync(join(local, `pagemap-${f.pid}.img`)), false);
  for (const name of readdirSync(remote).filter((n) => /^(pagemap|pages)-/.test(n))) {
    copyFileSync(join(remote, name), join(local, name));
  }
  dataPagesEqual(f, local, pages);
  critDecodesAll(t, local, /^pages-|\.log\.bin$/);
  if (NO_CRIU) return t.diagnostic(`restore skipped: ${NO_CRIU}`);
  await restoredAlive(f, local, before, 2);
});
