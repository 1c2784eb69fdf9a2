/**
 * `ckpt restore` end to end (bin/ckpt.js in a child Node process) on a full dump of restorable.c made with
 * the library (fullDumpProcess): -d exits once the process runs again with its pid; without -d ckpt waits
 * and exits with the process's status; a taken pid is one line and status 1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { fullDumpProcess } from '../dump/full/index.js';
import { killAndReap } from '../restore/index.js';
import { ioctl, kill as sysKill } from '../sys/index.js';
import {
  CKPT_BIN,
  CKPT_CRIU,
  criuDump,
  type Fixture,
  fixtureBinary,
  logLines,
  NO_CRIU,
  runCkpt,
  runCkptAsync,
  Scratch,
  sumReport,
} from '../testing/index.js';

const scratch = new Scratch('ckpt-restore-cli-test-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const beats = (f: Fixture) =>
  readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('BEAT ')).length;

async function dumped(): Promise<{ f: Fixture; dir: string }> {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '0', '-']);
  await fullDumpProcess({ pid: f.pid, imagesDir: dir });
  f.kill();
  for (let i = 0; i < 500 && existsSync(`/proc/${f.pid}`); i++) await sleep(10);
  return { f, dir };
}

test('ckpt restore -d --json: exits 0 once the process runs again with its pid', async () => {
  const { f, dir } = await dumped();
  const n = beats(f);
  const r = runCkpt(['restore', '-D', dir, '-d', '--json']);
  try {
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { pid: number; memory: { pages: number } };
    assert.equal(out.pid, f.pid);
    assert.ok(out.memory.pages > 256);
    for (let i = 0; i < 300 && beats(f) <= n + 2; i++) await sleep(10);
    assert.ok(beats(f) > n + 2, 'no heartbeat after ckpt restore -d');
  } finally {
    killAndReap(f.pid);
  }
});

test('ckpt restore without -d waits for the process and exits with its status (SIGKILL: 137)', async () => {
  const { f, dir } = await dumped();
  const n = beats(f);
  const child = spawn(process.execPath, [CKPT_BIN, 'restore', '-D', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  try {
    for (let i = 0; i < 500 && beats(f) <= n + 2; i++) await sleep(10);
    assert.ok(beats(f) > n + 2, `no heartbeat after ckpt restore: ${stderr}`);
    const ppid = Number(
      readFileSync(`/proc/${f.pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[1],
    );
    assert.equal(ppid, child.pid, 'the restored process is the child of ckpt');
    sysKill(f.pid, 9);
    assert.equal(await exited, 137, stderr);
  } finally {
    killAndReap(f.pid);
    child.kill('SIGKILL');
  }
});

test('ckpt restore of a taken pid: one line, status 1', async () => {
  const { f, dir } = await dumped();
  const first = runCkpt(['restore', '-D', dir, '-d']);
  try {
    assert.equal(first.status, 0, first.stderr);
    const r = runCkpt(['restore', '-D', dir, '-d']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `ckpt: pid ${f.pid} is taken (by restorable)\n`);
  } finally {
    killAndReap(f.pid);
  }
});

/** `sleep 600` helpers whose parent is this test process. */
function helpersLeft(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const ppid = Number(
          readFileSync(`/proc/${n}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1],
        );
        return ppid === process.pid && readFileSync(`/proc/${n}/cmdline`, 'utf8') === 'sleep\u0000600\u0000';
      } catch {
        return false;
      }
    })
    .map(Number);
}

for (const at of ['cloned', 'children']) {
  test(`SIGTERM mid-restore (at ${at}): one line, status 143, nothing left behind`, async () => {
    const { f, dir } = await dumped();
    const r = spawnSync(process.execPath, [CKPT_BIN, 'restore', '-D', dir, '-d'], {
      encoding: 'utf8',
      env: { ...process.env, CKPT_FAULT: `restore-sigterm-at:${at}` },
    });
    try {
      assert.equal(r.status, 143, r.stderr);
      assert.match(r.stderr, /^ckpt: restore cancelled \(\w+\): what was built is gone\n$/);
      // dead: gone, or a zombie for its parent (this process: a child subreaper) to reap
      const state = existsSync(`/proc/${f.pid}`)
        ? readFileSync(`/proc/${f.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
        : 'gone';
      assert.match(state!, /^(gone|Z)$/, 'the half-built process is dead');
      assert.deepEqual(helpersLeft(), []);
    } finally {
      killAndReap(f.pid);
    }
  });
}

/** [session, pgrp, tty_nr] of a process, from /proc/PID/stat. */
function sessionOf(pid: number): [number, number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return [Number(f[3]), Number(f[2]), Number(f[4])];
}

const hasPython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

for (const dumper of ['ckpt', 'criu'] as const)
  test(`--shell-job: a job on a terminal comes back on the restorer's terminal, in its session; refused without (${dumper} dump)`, {
    skip: !hasPython ? 'python3 (its pty module) is not installed' : dumper === 'criu' ? NO_CRIU : false,
  }, async () => {
    const dir = scratch.newDir();
    const shell = await scratch.start('shelljob', [fixtureBinary('restorable'), '1', '1', '-']);
    const job = shell.num('pid');
    try {
      await shellJobRoundTrip(shell, job, dir, dumper);
    } finally {
      killAndReap(job); // on every way out: it ignores SIGHUP and would outlive its shell
    }
  });

/** The body of the --shell-job test: dump the job of `shell`, refused restore, restore in a new pty. */
async function shellJobRoundTrip(shell: Fixture, job: number, dir: string, dumper: 'ckpt' | 'criu') {
  const dumpedTty = /^TTY (\S+) /m.exec(readFileSync(shell.logFile, 'utf8'))![1]!;
  const [sid, pgrp, ttyNr] = sessionOf(job);
  assert.deepEqual([sid, pgrp], [shell.pid, job], "a job: its own group in the shell's session");
  assert.notEqual(ttyNr, 0, 'the terminal is the controlling one');
  const before = await sumReport(shell, 1, job);
  if (dumper === 'ckpt') await runCkptAsync(['dump', '-t', String(job), '-D', dir, '--shell-job']);
  else {
    const d = criuDump(CKPT_CRIU!, job, dir, ['--shell-job']);
    assert.ok(d.ok, `criu dump --shell-job failed: ${d.log}`);
  }
  for (let i = 0; i < 500 && existsSync(`/proc/${job}`); i++) await sleep(10);

  const refused = runCkpt(['restore', '-D', dir, '-d']);
  assert.equal(refused.status, 1, refused.stderr);
  assert.equal(
    refused.stderr,
    `ckpt: process ${job} fd 0: a terminal (${dumpedTty}) of a shell job: restore it with --shell-job\n`,
  );
  assert.equal(existsSync(`/proc/${job}`), false, 'nothing restored');

  // ckpt restore --shell-job in a new terminal (python's pty.spawn: ckpt leads its session)
  const beatsBefore = logLines(shell, /^BEAT /).length;
  const run = spawn(
    'python3',
    [
      '-c',
      'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))',
      process.execPath,
      CKPT_BIN,
      'restore',
      '-D',
      dir,
      '--shell-job',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (d: Buffer) => {
    output += d;
  };
  run.stdout.on('data', collect);
  run.stderr.on('data', collect);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((res) =>
    run.on('exit', (c) => {
      code = c;
      res(c);
    }),
  );
  try {
    // node's start and the restore take seconds on a loaded machine: wait for the job (or ckpt's end)
    for (
      let i = 0;
      i < 3000 && code === undefined && logLines(shell, /^BEAT /).length <= beatsBefore + 2;
      i++
    )
      await sleep(10);
    assert.ok(
      logLines(shell, /^BEAT /).length > beatsBefore + 2,
      `no heartbeat after restore (${code}): ${output}`,
    );
    const ckpt = Number(
      readFileSync(`/proc/${job}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[1],
    );
    const theirs = readlinkSync(`/proc/${ckpt}/fd/0`);
    assert.match(theirs, /^\/dev\/pts\/\d+$/);
    assert.notEqual(theirs, dumpedTty);
    assert.equal(readlinkSync(`/proc/${job}/fd/0`), theirs, "fd 0 is ckpt's terminal");
    assert.equal(readlinkSync(`/proc/${job}/fd/2`), theirs, "fd 2 is ckpt's terminal");
    assert.deepEqual(sessionOf(job), sessionOf(ckpt), "ckpt's session, group and controlling terminal");
    const tty = openSync(`/proc/${job}/fd/0`, constants.O_RDWR | constants.O_NOCTTY);
    try {
      const ws = new Uint16Array(4);
      ioctl(tty, 0x5413, new Uint8Array(ws.buffer)); // TIOCGWINSZ
      assert.deepEqual([ws[0], ws[1]], [33, 77], 'the dumped window size');
    } finally {
      closeSync(tty);
    }
    assert.deepEqual(await sumReport(shell, 2, job), before);
    sysKill(job, 9);
    assert.equal(await exited, 137, output);
  } finally {
    killAndReap(job);
    run.kill('SIGKILL');
  }
}
