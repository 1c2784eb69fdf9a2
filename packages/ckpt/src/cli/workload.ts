/**
 * The demo's workload: demo/workload.c compiled with gcc (once per source change, into the temp
 * directory) and started as a non-child (bash `setsid ... &`), so that it is an ordinary process owned by
 * no one here, like any target (Node's child_process must not be a tracee: libuv reaps its stops). It
 * prints `READY pid=... base=... len=...` to its log file and then keeps rewriting pages of its memory.
 *
 * ```
 * start() -> running --kill()--> SIGKILL sent -> gone (reaped by init)
 *               |-- the Node process exits (any way but SIGKILL) --> killed by the 'exit' hook
 *               \-- the Node process is SIGKILLed --> the workload sees its owner pid gone (1 s poll), exits
 * ```
 * `kill()` is safe to call twice and waits (up to 2 s) until the process is gone or a zombie, so that a
 * caller that reports "killed" is telling the truth.
 *
 * @example
 * using w = await Workload.start(256);
 * w.pid; w.kill();
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readState } from '../proc/index.js';
import { cancelledBy } from '../sys/index.js';
import { CommandError } from './failure.js';

/** The C source of the workload (data shipped with the package). */
export const WORKLOAD_SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../../demo/workload.c');

function compile(): string {
  const dir = join(tmpdir(), `ckpt-demo-${process.getuid?.() ?? 0}`);
  const bin = join(dir, 'workload');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(WORKLOAD_SOURCE).mtimeMs) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}`;
  try {
    execFileSync('gcc', ['-O2', '-pthread', '-o', tmp, WORKLOAD_SOURCE], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    const why = err.code === 'ENOENT' ? 'gcc is not installed' : String(err.stderr ?? e).trim();
    throw new CommandError('ENOENT', `cannot build the demo workload: ${why}`);
  }
  renameSync(tmp, bin);
  return bin;
}

/** Remove the logs of earlier demos that died without cleaning up (SIGKILL): their owner pid is gone. */
function removeStaleLogs(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = /^workload-(\d+)-\d+\.log$/.exec(name);
    if (m && readState(Number(m[1])) === undefined) rmSync(join(dir, name), { force: true });
  }
}

const live = new Set<Workload>();
let exitHook = false;

export class Workload {
  private alive = true;
  /** Start address and length of its big mapping (from the READY line). */
  private region = { base: 0, len: 0 };

  private constructor(
    readonly pid: number,
    readonly log: string,
  ) {
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const w of live) w.kill(false);
      });
    }
  }

  /**
   * Build if needed, start with `mib` MiB, and wait for its READY line (filling the memory takes about
   * a second per GiB here). `signal` abandons the wait (the workload is killed).
   */
  static async start(mib: number, signal?: AbortSignal): Promise<Workload> {
    const bin = compile();
    removeStaleLogs(dirname(bin));
    const log = join(dirname(bin), `workload-${process.pid}-${Date.now()}.log`);
    const r = spawnSync(
      'bash',
      ['-c', `setsid '${bin}' ${mib} ${process.pid} >'${log}' 2>&1 </dev/null & echo $!`],
      {
        encoding: 'utf8',
      },
    );
    const pid = Number(r.stdout.trim());
    if (!Number.isInteger(pid) || pid <= 0)
      throw new CommandError('ESRCH', `cannot start the demo workload: ${r.stderr}`);
    const w = new Workload(pid, log);
    const deadline = Date.now() + 60_000;
    try {
      while (Date.now() < deadline) {
        if (signal?.aborted) {
          throw cancelledBy(signal, 'demo cancelled while the workload started');
        }
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        const m = /READY pid=\d+ base=(0x[0-9a-f]+) len=(\d+)/.exec(text);
        if (m) {
          w.region = { base: Number(m[1]), len: Number(m[2]) };
          return w;
        }
        const st = readState(pid);
        if (st === undefined || st === 'Z')
          throw new CommandError('ESRCH', `the demo workload exited: ${text.trim()}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      throw new CommandError('ETIMEDOUT', 'the demo workload did not start in 60 s');
    } catch (e) {
      w.kill();
      throw e;
    }
  }

  /** The workload's big mapping: start address and length in bytes. */
  get base(): number {
    return this.region.base;
  }

  get len(): number {
    return this.region.len;
  }

  /** SIGKILL it and (with `wait`) wait until it is gone or a zombie, at most 2 s. Safe to call twice. */
  kill(wait = true): void {
    if (!this.alive) return;
    this.alive = false;
    live.delete(this);
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(this.log, { force: true });
    const deadline = Date.now() + 2000;
    while (wait && Date.now() < deadline) {
      const st = readState(this.pid);
      if (st === undefined || st === 'Z') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }

  [Symbol.dispose](): void {
    this.kill();
  }
}
