/**
 * POSIX timers (timer_create) of a frozen process, as CRIU dumps them (posix_timer_entry in the leader's
 * TaskTimersEntry): what /proc/PID/timers shows, plus what only the process can ask (timer_gettime,
 * timer_getoverrun: injected-state.ts).
 *
 * ```
 * /proc/PID/timers, per timer:          ->  posix_timer_entry
 *   ID: 1                                     it_id
 *   signal: 35/0000000000001092               si_signo, sival_ptr (hex)
 *   notify: signal/pid.4242                   it_sigev_notify: signal 0, none 1, thread 2, | 4 when "tid"
 *           (signal/tid.4243: SIGEV_THREAD_ID) notify_thread_id (only with SIGEV_THREAD_ID)
 *   ClockID: 1                                clock_id
 * injected timer_gettime, timer_getoverrun   isec/insec (interval), vsec/vnsec (value), overrun
 * ```
 * CRIU's parse_posix_timers reads the same lines.
 *
 * @example
 * const timers = readPosixTimers(pid);                 // before the injection
 * const live = collectInjectedState(frozen, site, handled, timers.map((t) => t.id)).posixTimers;
 * posixTimerEntries(timers, live);                      // -> tc.timers.posix
 */
import type { PosixTimerEntry } from '../../images/index.js';
import { readProcFile } from '../../proc/index.js';
import { DumpError } from '../errors.js';

const SIGEV_SIGNAL = 0;
const SIGEV_NONE = 1;
const SIGEV_THREAD = 2;
const SIGEV_THREAD_ID = 4;

/** One timer as /proc/PID/timers shows it. */
export interface ProcTimer {
  readonly id: number;
  readonly clock: number;
  readonly signo: number;
  readonly sivalPtr: bigint;
  /** SIGEV_* (| SIGEV_THREAD_ID). */
  readonly notify: number;
  /** The pid or tid the kernel shows with the notify mode. */
  readonly notifyPid: number;
}

/** What timer_gettime and timer_getoverrun answered for timer `id` (injected-state.ts). */
export interface LiveTimer {
  readonly id: number;
  readonly isec: bigint;
  readonly insec: bigint;
  readonly vsec: bigint;
  readonly vnsec: bigint;
  readonly overrun: number;
}

/**
 * The timers of /proc/PID/timers (see the module comment), in its order. Throws ProcError, DumpError
 * ENOTSUP when a timer is shown in a format not understood (none is left out silently).
 */
export function readPosixTimers(pid: number): ProcTimer[] {
  const out: ProcTimer[] = [];
  const re = /^ID: (\d+)\nsignal: (\d+)\/([0-9a-f]+)\nnotify: ([a-z]+)\/([a-z]+)\.(\d+)\nClockID: (\d+)$/gm;
  const text = readProcFile(pid, 'timers');
  for (const m of text.matchAll(re)) {
    const mode = m[4] === 'signal' ? SIGEV_SIGNAL : m[4] === 'thread' ? SIGEV_THREAD : SIGEV_NONE;
    out.push({
      id: Number(m[1]),
      signo: Number(m[2]),
      sivalPtr: BigInt(`0x${m[3]}`),
      notify: mode | (m[5] === 'tid' ? SIGEV_THREAD_ID : 0),
      notifyPid: Number(m[6]),
      clock: Number(m[7]),
    });
  }
  const listed = text.match(/^ID: /gm)?.length ?? 0;
  if (listed !== out.length)
    throw new DumpError(
      'ENOTSUP',
      `process ${pid}: ${listed} POSIX timers, ${out.length} of them understood`,
    );
  return out;
}

/** The posix_timer_entry of each timer (CRIU's fields), from /proc's view and the injected answers. */
export function posixTimerEntries(
  timers: readonly ProcTimer[],
  live: readonly LiveTimer[],
): PosixTimerEntry[] {
  return timers.map((t) => {
    const l = live.find((x) => x.id === t.id);
    if (!l) throw new Error(`no timer_gettime answer for POSIX timer ${t.id}`);
    return {
      it_id: t.id,
      clock_id: t.clock,
      si_signo: t.signo,
      it_sigev_notify: t.notify,
      sival_ptr: t.sivalPtr,
      overrun: l.overrun,
      isec: l.isec,
      insec: l.insec,
      vsec: l.vsec,
      vnsec: l.vnsec,
      ...(t.notify & SIGEV_THREAD_ID ? { notify_thread_id: t.notifyPid } : {}),
    };
  });
}
