/**
 * `ckpt restore` end to end (bin/ckpt.js in a child Node process) on a full dump of restorable.c made with
 * the library (fullDumpProcess): -d exits once the process runs again with its pid; without -d ckpt waits
 * and exits with the process's status; a taken pid is one line and status 1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fullDumpProcess } from '../dump/full/index.js';
import { killAndReap } from '../restore/index.js';
import { kill as sysKill } from '../sys/index.js';
import { CKPT_BIN, type Fixture, runCkpt, Scratch } from '../testing/index.js';

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
