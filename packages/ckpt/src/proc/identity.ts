/**
 * Which process, running which program: what a pid alone does not say. A pid can be reused (another
 * process, a later start time) and a process can exec (same pid and start time, another address space
 * and usually another binary). A dump compares identities taken before and after a copy, and across the
 * iterations of a chain, so that it never commits images that mix two programs.
 *
 * ```
 * startTime  /proc/PID/stat field 22 (µs since boot)          differs: another process (pid reuse)
 * exe        dev:ino of /proc/PID/exe                          differs: another program (exec)
 * mm         start_code, end_code, start_stack, start_brk,     differs: a new address space (exec; with
 *            arg_start, env_end (fields 26-28, 47, 48, 51)     ASLR even of the same binary)
 * ```
 *
 * @example
 * const before = readIdentity(pid);
 * // ... copy ...
 * if (!sameProgram(before, readIdentity(pid))) throw new Error('exec during the dump');
 */
import { statSync } from 'node:fs';
import { ProcError, procErrorFrom } from './errors.js';
import { readProcFile } from './file.js';
import { CLOCK_TICKS } from './status.js';

export interface ProcessIdentity {
  /** µs since boot. */
  readonly startTime: number;
  /** `dev:ino` of the executable ('' for a process without one, e.g. a kernel thread). */
  readonly exe: string;
  /** The address space's layout marks, joined (see the module comment). */
  readonly mm: string;
}

/** Read the identity of `pid`. Throws ProcError (ESRCH when gone or a zombie). */
export function readIdentity(pid: number): ProcessIdentity {
  const text = readProcFile(pid, 'stat');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): field k is fields[k - 3]
  const f = (k: number) => fields[k - 3] ?? '';
  // a zombie has no address space and no executable left: it is gone, not another program
  if (f(3) === 'Z' || f(3) === 'X') throw new ProcError('ESRCH', `process ${pid} has exited`);
  const ticks = Number(f(22));
  if (!Number.isFinite(ticks) || fields.length < 49) {
    throw new ProcError('EPARSE', `malformed /proc/${pid}/stat`);
  }
  let exe = '';
  try {
    const st = statSync(`/proc/${pid}/exe`);
    exe = `${st.dev}:${st.ino}`;
  } catch (e) {
    // no executable (a zombie, a kernel thread): '' while the process is there, ESRCH once it is gone
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw procErrorFrom(e, pid, 'exe');
    readProcFile(pid, 'stat');
  }
  return {
    startTime: Math.round((ticks * 1e6) / CLOCK_TICKS),
    exe,
    mm: [26, 27, 28, 47, 48, 51].map(f).join(','),
  };
}

/**
 * Same process and same program: equal start time, executable and address-space layout.
 *
 * @example
 * sameProgram(a, b); // false after an exec
 */
export function sameProgram(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.startTime === b.startTime && a.exe === b.exe && a.mm === b.mm;
}
