/** /proc/PID/status and /proc/PID/stat: state, name, start time. */
import { readFileSync } from 'node:fs';
import { ProcError } from './errors.js';
import { readProcFile } from './file.js';

export interface ProcStatus {
  /** One-letter state: R, S, D, T (stopped), t (tracing stop), Z, X, I. */
  readonly state: string;
  readonly name: string;
  readonly tgid: number;
  readonly tracerPid: number;
  readonly threads: number;
  /** VmRSS in bytes (0 when absent, e.g. zombies). */
  readonly rss: number;
  /** VmHWM (peak RSS) in bytes. */
  readonly hwm: number;
}

/**
 * Parse /proc/PID/status (or /proc/PID/task/TID/status when `tid` is given).
 *
 * @example
 * readStatus(pid).state === 'S'
 */
export function readStatus(pid: number, tid?: number): ProcStatus {
  const text = readProcFile(pid, tid === undefined ? 'status' : `task/${tid}/status`);
  const field = (k: string): string => {
    const m = new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim() : '';
  };
  const kb = (k: string) => (Number.parseInt(field(k), 10) || 0) * 1024;
  return {
    state: field('State').charAt(0),
    name: field('Name'),
    tgid: Number(field('Tgid')),
    tracerPid: Number(field('TracerPid')),
    threads: Number(field('Threads')),
    rss: kb('VmRSS'),
    hwm: kb('VmHWM'),
  };
}

/**
 * State letter of a process from /proc/PID/stat (field 3: R, S, D, T, t, Z, X, I), or undefined when the
 * process is gone (or its stat cannot be read).
 *
 * @example
 * readState(pid) === 'Z'; // exited, not yet reaped
 */
export function readState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** True when `pid` has exited: a zombie, dying, or gone (reaped). */
export function hasExited(pid: number): boolean {
  const st = readState(pid);
  return st === undefined || st === 'Z' || st === 'X';
}

/** Clock ticks per second for /proc/PID/stat times (sysconf(_SC_CLK_TCK), 100 on Linux). */
export const CLOCK_TICKS = 100;

/**
 * Start time of a process in microseconds since boot (field 22 of /proc/PID/stat), the value CRIU compares
 * with a parent image's dump_uptime to detect pid reuse.
 */
export function readStartTimeMicros(pid: number): number {
  const text = readProcFile(pid, 'stat');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19]
  const ticks = Number(fields[19]);
  if (!Number.isFinite(ticks)) throw new ProcError('EPARSE', `malformed /proc/${pid}/stat`);
  return Math.round((ticks * 1e6) / CLOCK_TICKS);
}

/** System uptime in microseconds, from /proc/uptime (10 ms resolution), as CRIU's dump_uptime. */
export function readUptimeMicros(): number {
  const text = readFileSync('/proc/uptime', 'latin1');
  return Math.round(Number.parseFloat(text) * 1e6);
}
