/**
 * Test fixtures: small C programs under packages/ckpt/test/fixtures/, compiled on demand with gcc, and
 * started so that they are NOT children of Node's child_process (libuv would steal their ptrace stops).
 *
 * Lifecycle of a fixture process:
 * ```
 *   start() --bash: setsid BIN >>LOG & --> orphan, adopted by this process (a child subreaper)
 *      |                             prints "READY pid=P k=v ..." to its log file
 *   ready (info parsed) --> kill() = SIGKILL + waitpid (reaped: no zombie left)
 * ```
 * The test process makes itself a child subreaper once, so orphaned fixtures become its children and it
 * can reap them; libuv only waits for the pids it spawned itself, so it never sees them.
 *
 * @example
 * await using f = await Fixture.start('static', ['64']);
 * f.pid; f.info.base; // from the READY line
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prctl, SIG, kill as sysKill, WAIT, WStatus, waitpid } from '../sys/index.js';

const PR_SET_CHILD_SUBREAPER = 36;
const here = dirname(fileURLToPath(import.meta.url));
/** packages/ckpt/test/fixtures */
export const FIXTURE_DIR = resolve(here, '../../test/fixtures');
const BIN_DIR = join(FIXTURE_DIR, 'bin');

let subreaper = false;

/**
 * Compile `test/fixtures/<name>.c` (if its binary is missing or older than it or any of the fixtures'
 * headers: fixture.h, heartbeat.h) and return the binary's path.
 */
export function fixtureBinary(name: string): string {
  const src = join(FIXTURE_DIR, `${name}.c`);
  const bin = join(BIN_DIR, name);
  const headers = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.h'));
  const newest = Math.max(
    statSync(src).mtimeMs,
    ...headers.map((h) => statSync(join(FIXTURE_DIR, h)).mtimeMs),
  );
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  mkdirSync(BIN_DIR, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  execFileSync('gcc', ['-O2', '-g', '-Wall', '-pthread', '-o', tmp, src], { stdio: 'pipe' });
  renameSync(tmp, bin);
  return bin;
}

export class Fixture {
  /** key=value pairs of the READY line (numbers as text, e.g. base=0x7f...). */
  readonly info: Record<string, string>;
  private exited = false;

  private constructor(
    readonly pid: number,
    readonly logFile: string,
    readyLine: string,
  ) {
    this.info = Object.fromEntries(
      readyLine
        .split(' ')
        .slice(1)
        .map((kv) => kv.split('=') as [string, string]),
    );
  }

  /**
   * Start fixture `name` with `args`; resolves once it printed its READY line. `prefix`: a command that
   * execs the rest in place (e.g. `nsenter --net=...`: the fixture keeps the pid bash reports).
   */
  static async start(
    name: string,
    args: string[] = [],
    timeoutMs = 30_000,
    prefix: readonly string[] = [],
  ): Promise<Fixture> {
    const bin = fixtureBinary(name);
    if (!subreaper) {
      prctl(PR_SET_CHILD_SUBREAPER, 1);
      subreaper = true;
    }
    mkdirSync(join(BIN_DIR, 'logs'), { recursive: true });
    const log = join(
      BIN_DIR,
      'logs',
      `${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`,
    );
    const quoted = [...prefix, bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const r = spawnSync('bash', ['-c', `setsid ${quoted} >>'${log}' 2>&1 </dev/null & echo $!`], {
      encoding: 'utf8',
    });
    const pid = Number(r.stdout.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`could not start fixture ${name}: ${r.stderr}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      const line = text.split('\n').find((l) => l.startsWith('READY '));
      if (line) return new Fixture(pid, log, line);
      const w = waitpid(pid, WAIT.WNOHANG | WAIT.WALL);
      if (w.pid === pid && !WStatus.stopped(w.status)) {
        throw new Error(`fixture ${name} exited before READY: ${text.trim()}`);
      }
      if (Date.now() > deadline) {
        sysKill(pid, SIG.SIGKILL);
        throw new Error(`fixture ${name} not ready after ${timeoutMs} ms: ${text.trim()}`);
      }
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  /** Numeric value of a READY field (hex with 0x or decimal). */
  num(key: string): number {
    const v = this.info[key];
    if (v === undefined) throw new Error(`fixture has no ${key}`);
    return Number(v);
  }

  /** One-letter state from /proc/PID/status ('' once gone). */
  state(): string {
    try {
      const m = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? m[1]! : '';
    } catch {
      return '';
    }
  }

  /** Send a signal (no error if already gone). */
  signal(sig: number): void {
    try {
      sysKill(this.pid, sig);
    } catch {
      /* gone */
    }
  }

  /** Reap the process if it has exited; returns true once reaped. */
  reap(): boolean {
    if (this.exited) return true;
    try {
      const w = waitpid(this.pid, WAIT.WNOHANG | WAIT.WALL);
      if (w.pid === this.pid && !WStatus.stopped(w.status)) this.exited = true;
    } catch {
      this.exited = true; // ECHILD: not ours any more
    }
    return this.exited;
  }

  /** SIGKILL and reap. Safe to call twice. */
  kill(): void {
    if (this.exited) return;
    this.signal(SIG.SIGKILL);
    const deadline = Date.now() + 5000;
    while (!this.reap() && Date.now() < deadline) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }

  [Symbol.dispose](): void {
    this.kill();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill();
  }
}
