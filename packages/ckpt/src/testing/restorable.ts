/**
 * The restorable fixture (test/fixtures/restorable.c) seen from a test, and CRIU's restore of its dumps:
 * its log lines (BEAT, SUM, POS, PIPE, CHILD), a SUM report on SIGUSR1, `criu restore -d` and
 * `criu dump` with CKPT_CRIU (DUMPERS: either tool's dump), and the kill and reap of a restored process (our child again: we are a child subreaper).
 *
 * @example
 * const before = await sumReport(f, 1);
 * // ... dump, kill ...
 * const r = criuRestore(criu, dir); assert.ok(r.ok, r.log);
 * assert.deepEqual(await sumReport(f, 2), before);
 * killRestored(f.pid);
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fullDumpProcess } from '../dump/full/index.js';
import { restoreProcess } from '../restore/index.js';
import { kill as sysKill, WAIT, WStatus, waitpid } from '../sys/index.js';
import type { Fixture } from './fixture.js';

/** The CRIU binary of CKPT_CRIU, or the reason a restore test is skipped. */
export const CKPT_CRIU = process.env.CKPT_CRIU;
export const NO_CRIU: string | false = CKPT_CRIU
  ? false
  : 'CKPT_CRIU is not set (path to a CRIU 4.x binary that runs on this kernel)';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines of the fixture's log that match `re`. */
export function logLines(f: Fixture, re: RegExp): string[] {
  return readFileSync(f.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l));
}

/** Send SIGUSR1 to `pid` (default the fixture) and wait for the `n`-th report: [SUM, POS, PIPE] lines. */
export async function sumReport(f: Fixture, n: number, pid = f.pid): Promise<string[]> {
  sysKill(pid, 10);
  for (let i = 0; i < 300 && logLines(f, /^SUM /).length < n; i++) await sleep(10);
  const sums = logLines(f, /^SUM /);
  assert.ok(sums.length >= n, `no SUM report ${n}: ${readFileSync(f.logFile, 'utf8').slice(-300)}`);
  const nth = (re: RegExp) => logLines(f, re)[n - 1] ?? '-';
  return [sums[n - 1]!, nth(/^POS /), nth(/^PIPE /)];
}

/**
 * Send SIGUSR1 to the fixture and wait for its `n`-th report (a "DONE" line); returns the `n`-th block of
 * `perReport` lines matching `re` (every matching line of the first report when `perReport` is omitted).
 */
export async function doneReport(f: Fixture, re: RegExp, n = 1, perReport?: number): Promise<string[]> {
  sysKill(f.pid, 10);
  for (let i = 0; i < 300 && logLines(f, /^DONE/).length < n; i++) await sleep(10);
  assert.equal(
    logLines(f, /^DONE/).length,
    n,
    `no report ${n}: ${readFileSync(f.logFile, 'utf8').slice(-300)}`,
  );
  const all = logLines(f, re);
  return perReport === undefined ? all : all.slice(perReport * (n - 1), perReport * n);
}

/** Connect (TCP host:port or a unix path) and read what the peer writes until it closes. */
export function readUntilClosed(to: { host: string; port: number } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(to);
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      got += d;
    });
    s.on('end', () => resolve(got.trim()));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer from ${JSON.stringify(to)}`)));
  });
}

/** Wait until more than `after + 2` lines match `re` (a heartbeat goes on); false if none come. */
export async function beatsAfter(f: Fixture, re: RegExp, after: number): Promise<boolean> {
  for (let i = 0; i < 200 && logLines(f, re).length <= after + 2; i++) await sleep(10);
  return logLines(f, re).length > after + 2;
}

/** Wait (up to ~1 s) for `pid`, a child of ours, to exit and reap it. */
export function reap(pid: number): void {
  for (let i = 0; i < 500; i++) {
    try {
      const w = waitpid(pid, WAIT.WNOHANG | WAIT.WALL);
      if (w.pid === pid && !WStatus.stopped(w.status)) return;
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

/** Kill and reap a restored process. */
export function killRestored(pid: number): void {
  try {
    sysKill(pid, 9);
  } catch {
    return;
  }
  reap(pid);
}

/** `criu restore -D dir -d` (CKPT_CRIU); returns the error lines of its log on failure. */
export function criuRestore(
  criu: string,
  dir: string,
  extra: readonly string[] = [],
): { ok: boolean; log: string } {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n 20000 && exec "$0" restore -D "$1" -d -o restore.log -v4 ${extra.join(' ')}`,
      criu,
      dir,
    ],
    { encoding: 'utf8' },
  );
  const logPath = join(dir, 'restore.log');
  const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : r.stderr;
  const errors = log
    .split('\n')
    .filter((l) => /Error|FAIL/.test(l) && !/RLIMIT_NOFILE/.test(l))
    .join('\n');
  return { ok: r.status === 0, log: errors || log.slice(-2000) };
}

/**
 * `criu dump -t pid -D dir [extra]` (CKPT_CRIU; the process is killed; `dir` made if missing); returns the
 * end of its log on failure.
 */
export function criuDump(
  criu: string,
  pid: number,
  dir: string,
  extra: readonly string[] = [],
): { ok: boolean; log: string } {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n 20000 && exec "$0" dump -t "$1" -D "$2" -o dump.log -v4 ${extra.join(' ')}`,
      criu,
      String(pid),
      dir,
    ],
    { encoding: 'utf8' },
  );
  const logPath = join(dir, 'dump.log');
  const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
  return { ok: r.status === 0, log: `${r.stderr} ${log.slice(-1500)}` };
}

/**
 * Dump `pid` into `dir` with ckpt's full dump (fullDumpProcess) or `criu dump` (CKPT_CRIU, asserted to
 * succeed): either way the process is killed.
 */
export const DUMPERS = {
  ckpt: async (pid: number, dir: string): Promise<void> => {
    await fullDumpProcess({ pid, imagesDir: dir });
  },
  criu: async (pid: number, dir: string): Promise<void> => {
    const d = criuDump(CKPT_CRIU!, pid, dir);
    assert.ok(d.ok, `criu dump failed: ${d.log}`);
  },
} as const;

/** Restore `dir` with ckpt's restoreProcess or `criu restore -d` (CKPT_CRIU, asserted to succeed). */
export const RESTORERS = {
  ckpt: async (dir: string): Promise<void> => {
    await restoreProcess({ imagesDir: dir });
  },
  criu: async (dir: string): Promise<void> => {
    const r = criuRestore(CKPT_CRIU!, dir);
    assert.ok(r.ok, `criu restore failed: ${r.log}`);
  },
} as const;

/**
 * The pairs a cross-tool round trip runs: ckpt's dump by ckpt's restore (always), criu's dump by ckpt's
 * restore and ckpt's dump by criu's restore (CKPT_CRIU), each with its skip reason.
 */
export const TOOL_PAIRS = [
  { dumper: 'ckpt', restorer: 'ckpt', skip: false },
  { dumper: 'criu', restorer: 'ckpt', skip: NO_CRIU },
  { dumper: 'ckpt', restorer: 'criu', skip: NO_CRIU },
] as const;
