/**
 * Eventfds and epoll instances, as /proc/PID/fdinfo shows them from outside (no injection): what an event
 * loop holds (libuv in every Node process, nginx, redis). Read while the tree is frozen (task-state.ts),
 * so a counter or an interest list cannot change under the dump.
 *
 * ```
 * anon_inode:[eventfd]    eventfd-count: <hex>  eventfd-semaphore: 0|1     -> EVENTFD entry {flags, counter}
 * anon_inode:[eventpoll]  tfd: <fd> events: <hex> data: <hex>  pos:<n> ino:<hex> sdev:<hex>   (one line per
 *                         registered file)                                 -> EVENTPOLL entry {flags, tfd[]}
 * anon_inode:[timerfd]    clockid, ticks, settime flags (octal), it_value (left), it_interval
 *                                                                          -> TIMERFD entry
 * anon_inode:[signalfd]   sigmask: <hex>                                   -> SIGNALFD entry {flags, sigmask}
 * ```
 * A registration names the target by the watcher's descriptor number (tfd). A restore re-adds it with
 * epoll_ctl on that number, so the number must still be open to the same file: a target closed after its
 * registration (epoll keeps watching the file through a dup elsewhere) cannot be restored and is refused,
 * as is an eventfd in semaphore mode (CRIU's image has no field for it).
 *
 * @example
 * const e = eventfdFacts(fd);           // { counter: 7n, semaphore: false }
 * const t = epollTargets(fd);           // [{ tfd: 8, events: 0x19, data: 8n, ino: 1038, dev: 16, pos: 0 }]
 */
import type { FdInfo } from '../../proc/index.js';

export const EVENTFD_TARGET = 'anon_inode:[eventfd]';
export const EVENTPOLL_TARGET = 'anon_inode:[eventpoll]';
export const TIMERFD_TARGET = 'anon_inode:[timerfd]';
export const SIGNALFD_TARGET = 'anon_inode:[signalfd]';

/** A timerfd: its clock, expirations not read yet, TFD_TIMER_ABSTIME, and the time left and interval. */
export interface TimerfdFacts {
  readonly clockid: number;
  readonly ticks: bigint;
  readonly settimeFlags: number;
  readonly value: readonly [sec: bigint, nsec: bigint];
  readonly interval: readonly [sec: bigint, nsec: bigint];
}

/** What fdinfo says of a timerfd (`it_value` is the time left, also for an absolute timer). */
export function timerfdFacts(fd: FdInfo): TimerfdFacts {
  const field = (k: string) => new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(fd.fdinfo)?.[1] ?? '0';
  const pair = (k: string): [bigint, bigint] => {
    const m = new RegExp(`^${k}:\\s*\\((\\d+),\\s*(\\d+)\\)`, 'm').exec(fd.fdinfo);
    return m ? [BigInt(m[1]!), BigInt(m[2]!)] : [0n, 0n];
  };
  return {
    clockid: Number(field('clockid')),
    ticks: BigInt(field('ticks')),
    settimeFlags: Number.parseInt(field('settime flags'), 8),
    value: pair('it_value'),
    interval: pair('it_interval'),
  };
}

/** The signals a signalfd takes (fdinfo's `sigmask`, hex). */
export function signalfdMask(fd: FdInfo): bigint {
  const m = /^sigmask:\s*([0-9a-f]+)/m.exec(fd.fdinfo);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export interface EventfdFacts {
  readonly counter: bigint;
  /** EFD_SEMAPHORE (kernels that say so in fdinfo; false when they do not). */
  readonly semaphore: boolean;
}

/** One file an epoll instance watches. */
export interface EpollTarget {
  readonly tfd: number;
  readonly events: number;
  readonly data: bigint;
  readonly pos: number;
  readonly ino: number;
  readonly dev: number;
}

/** The counter and mode of an eventfd descriptor. */
export function eventfdFacts(fd: FdInfo): EventfdFacts {
  const count = /^eventfd-count:\s*([0-9a-f]+)/m.exec(fd.fdinfo);
  const sem = /^eventfd-semaphore:\s*(\d)/m.exec(fd.fdinfo);
  return { counter: count ? BigInt(`0x${count[1]}`) : 0n, semaphore: sem?.[1] === '1' };
}

const TFD_LINE =
  /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)\s+pos:\s*(\d+)\s+ino:\s*([0-9a-f]+)\s+sdev:\s*([0-9a-f]+)/gm;

/** Every file the epoll instance behind `fd` watches, in fdinfo's order. */
export function epollTargets(fd: FdInfo): EpollTarget[] {
  const out: EpollTarget[] = [];
  for (const m of fd.fdinfo.matchAll(TFD_LINE)) {
    out.push({
      tfd: Number(m[1]),
      events: Number.parseInt(m[2]!, 16),
      data: BigInt(`0x${m[3]}`),
      pos: Number(m[4]),
      ino: Number.parseInt(m[5]!, 16),
      dev: Number.parseInt(m[6]!, 16),
    });
  }
  return out;
}

/**
 * Why the eventfd or epoll descriptor `fd` of a process whose descriptors are `all` cannot be dumped, or
 * undefined when it can (also for any other kind of descriptor).
 */
export function eventFdRefusal(fd: FdInfo, all: readonly FdInfo[]): string | undefined {
  if (fd.target === EVENTFD_TARGET)
    return eventfdFacts(fd).semaphore
      ? 'an eventfd in semaphore mode (CRIU images cannot hold it)'
      : undefined;
  if (fd.target !== EVENTPOLL_TARGET) return undefined;
  for (const t of epollTargets(fd)) {
    const target = all.find((o) => o.fd === t.tfd);
    if (target?.ino !== t.ino)
      return `an epoll instance watching fd ${t.tfd}, which is ${target ? 'now another file' : 'closed'} (its registration cannot be restored)`;
  }
  return undefined;
}
