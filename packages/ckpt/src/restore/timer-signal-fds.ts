/**
 * Timerfds and signalfds of TIMERFD / SIGNALFD entries, made again inside the process being restored:
 *
 * ```
 * timerfd   timerfd_create(clockid, O_NONBLOCK as dumped) -> timerfd_settime(time left, interval):
 *           relative, or for TFD_TIMER_ABSTIME the clock's now + the time left (as CRIU, which keeps the
 *           nanoseconds of the time left) -> TFD_IOC_SET_TICKS with the expirations not read yet
 * signalfd  signalfd4(-1, sigmask, O_NONBLOCK as dumped)
 * ```
 * A timer counts on from the restore: the time between dump and restore is not counted (as CRIU). A
 * disarmed timer (nothing left) stays disarmed.
 *
 * @example
 * const fd = openTimerfd(task, file.tfd);
 */
import type { SignalfdEntry, TimerfdEntry } from '../images/index.js';
import { clockGettime, O, RSYS } from '../sys/index.js';
import type { RemoteTask } from './remote-task.js';
import { putArg } from './task-args.js';

const TFD_TIMER_ABSTIME = 1;
/** _IOW('T', 0, u64) */
const TFD_IOC_SET_TICKS = 0x40085400;
const NSEC = 1_000_000_000n;

/** The timerfd of `e` inside `task`; returns its fd there. */
export function openTimerfd(task: RemoteTask, e: TimerfdEntry): number {
  const what = `timerfd ${e.id}`;
  const fd = task.call(`timerfd_create (${what})`, RSYS.timerfd_create, e.clockid, e.flags & O.NONBLOCK);
  let [sec, nsec] = [BigInt(e.vsec), BigInt(e.vnsec)];
  const armed = sec !== 0n || nsec !== 0n;
  let flags = e.settime_flags & TFD_TIMER_ABSTIME;
  if (!armed) flags = 0;
  else if (flags) {
    const [nowSec, nowNsec] = clockGettime(e.clockid);
    nsec += nowNsec;
    sec += nowSec + nsec / NSEC;
    nsec %= NSEC;
  }
  const spec = Buffer.alloc(32); // struct itimerspec: interval, then value
  spec.writeBigInt64LE(BigInt(e.isec), 0);
  spec.writeBigInt64LE(BigInt(e.insec), 8);
  spec.writeBigInt64LE(sec, 16);
  spec.writeBigInt64LE(nsec, 24);
  task.call(`timerfd_settime (${what})`, RSYS.timerfd_settime, fd, flags, putArg(task, spec), 0);
  if (BigInt(e.ticks) !== 0n) {
    const ticks = Buffer.alloc(8);
    ticks.writeBigUInt64LE(BigInt(e.ticks));
    task.call(`TFD_IOC_SET_TICKS (${what})`, RSYS.ioctl, fd, TFD_IOC_SET_TICKS, putArg(task, ticks));
  }
  return fd;
}

/** The signalfd of `e` inside `task`; returns its fd there. */
export function openSignalfd(task: RemoteTask, e: SignalfdEntry): number {
  const mask = Buffer.alloc(8);
  mask.writeBigUInt64LE(BigInt.asUintN(64, BigInt(e.sigmask)));
  const at = putArg(task, mask);
  return task.call(`signalfd4 (signalfd ${e.id})`, RSYS.signalfd4, -1, at, 8, e.flags & O.NONBLOCK);
}
