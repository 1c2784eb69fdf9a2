/**
 * What only the target can tell: collected by injecting system calls into each frozen thread (ptrace/'s
 * Injector), their answers written into the injector's data area (`page` below) and read back through it.
 *
 * ```
 * leader thread                          every thread (its own injector, one after another)
 *  rt_sigaction(sig, NULL, page+32*(sig-1), 8)  for each signal caught or ignored (SigCgt|SigIgn of
 *                                                /proc: the others are SIG_DFL, read as zeros)
 *  getitimer(REAL/VIRTUAL/PROF, page+2048+32*w)  sigaltstack(NULL, page+2200)
 *  brk(0)                                        prctl(PR_GET_TID_ADDRESS, page+2240)
 *  prctl(PR_GET_DUMPABLE), PR_GET_SECUREBITS,    prctl(PR_GET_PDEATHSIG, page+2248)
 *  PR_GET_CHILD_SUBREAPER (page+2256), PR_GET_THP_DISABLE
 *  timer_gettime(id, page+2304), timer_getoverrun(id)   for each POSIX timer (posix-timers.ts)
 * ```
 * The answers go to the injector's own data area (Injector.scratch), not to a page mapped for them (an
 * injected mmap and munmap per thread less in the frozen window). Runs while the process is frozen; every
 * injector is cured (scratch mapping unmapped, code and registers restored) before this returns, also on
 * failure. Uses only Injector.infect / call / mmap / scratch / read / write / cure, so it survives changes
 * of the injector's internals.
 *
 * @example
 * using frozen = freeze(pid);
 * const s = collectInjectedState(frozen);
 * s.sigactions[10 - 1]?.handler; // SIGUSR1's handler address
 */
import { type FrozenProcess, Injector } from '../../ptrace/index.js';
import type { LiveTimer } from './posix-timers.js';

const SYS_RT_SIGACTION = 13;
const SYS_BRK = 12;
const SYS_GETITIMER = 36;
const SYS_SIGALTSTACK = 131;
const SYS_PRCTL = 157;
const SYS_TIMER_GETTIME = 224;
const SYS_TIMER_GETOVERRUN = 225;
const PR_GET_PDEATHSIG = 2;
const PR_GET_DUMPABLE = 3;
const PR_GET_SECUREBITS = 27;
const PR_GET_CHILD_SUBREAPER = 37;
const PR_GET_TID_ADDRESS = 40;
const PR_GET_THP_DISABLE = 42;

const PAGE = 4096;
const OFF_ITIMERS = 2048;
const OFF_SAS = 2200;
const OFF_TID_ADDRESS = 2240;
const OFF_PDEATHSIG = 2248;
const OFF_SUBREAPER = 2256;
const OFF_TIMER = 2304;

/** One signal's disposition (kernel `struct sigaction` on x86-64). */
export interface Sigaction {
  readonly handler: bigint;
  readonly flags: bigint;
  readonly restorer: bigint;
  readonly mask: bigint;
}

/** An interval timer: interval and current value, seconds + microseconds. */
export interface Itimer {
  readonly isec: bigint;
  readonly iusec: bigint;
  readonly vsec: bigint;
  readonly vusec: bigint;
}

/** Per-thread answers. */
export interface InjectedThreadState {
  readonly tid: number;
  readonly sigaltstack: { sp: bigint; size: bigint; flags: number };
  readonly clearChildTid: bigint;
  readonly pdeathSig: number;
}

/** Per-process answers (from the leader) and every thread's. */
export interface InjectedState {
  /** Index sig-1 for signal sig (1..64); SIGKILL and SIGSTOP hold the default (zeros). */
  readonly sigactions: readonly Sigaction[];
  readonly itimers: { real: Itimer; virt: Itimer; prof: Itimer };
  readonly brk: bigint;
  readonly dumpable: number;
  readonly securebits: number;
  readonly childSubreaper: boolean;
  readonly thpDisabled: boolean;
  /** timer_gettime and timer_getoverrun of each POSIX timer asked about. */
  readonly posixTimers: readonly LiveTimer[];
  readonly threads: ReadonlyMap<number, InjectedThreadState>;
}

/** Reads the answers back (the injector reads the target's memory). */
type Answers = Pick<Injector, 'read'>;

/** Bytes of the answer area the calls write into (the POSIX timer's slot is the last). */
const ANSWERS = OFF_TIMER + 32;

/**
 * Run `f` with an injector on `tid` and an area for the answers, read back through the injector: its own
 * data area (Injector.scratch: no injected mmap and munmap, two round trips of the frozen window per thread,
 * nor a /proc/PID/mem of our own), or a page of its own where that area is too small; cures on every way out.
 */
function withInjector<T>(
  frozen: FrozenProcess,
  tid: number,
  site: number | undefined,
  f: (inj: Injector, page: number, mem: Answers) => T,
): T {
  const inj = Injector.infect(frozen, tid, site);
  try {
    if (inj.scratch.size < ANSWERS) return f(inj, inj.mmap(PAGE), inj); // a fresh page: zeros
    // the answers of signals not asked about are read as zeros (SIG_DFL): clear the area first
    inj.write(inj.scratch.address, new Uint8Array(ANSWERS));
    return f(inj, inj.scratch.address, inj);
  } finally {
    inj.cure();
  }
}

function threadPart(inj: Injector, page: number, mem: Answers, tid: number): InjectedThreadState {
  inj.call('sigaltstack', SYS_SIGALTSTACK, 0, page + OFF_SAS);
  inj.call('prctl(PR_GET_TID_ADDRESS)', SYS_PRCTL, PR_GET_TID_ADDRESS, page + OFF_TID_ADDRESS);
  inj.call('prctl(PR_GET_PDEATHSIG)', SYS_PRCTL, PR_GET_PDEATHSIG, page + OFF_PDEATHSIG);
  const b = mem.read(page + OFF_SAS, 64);
  return {
    tid,
    sigaltstack: { sp: b.readBigUInt64LE(0), flags: b.readInt32LE(8), size: b.readBigUInt64LE(16) },
    clearChildTid: b.readBigUInt64LE(OFF_TID_ADDRESS - OFF_SAS),
    pdeathSig: b.readInt32LE(OFF_PDEATHSIG - OFF_SAS),
  };
}

/**
 * Inject the calls of the module comment into every thread of `frozen`. `site`: the injection site read
 * before freezing (ptrace/injectionSite), or undefined to read it now. `handled`: the signals to ask
 * rt_sigaction about (bit sig-1: SigCgt|SigIgn; default all): a SIG_DFL disposition's flags and mask are
 * then taken as zeros (one injected call instead of 62). `timerIds`: the POSIX timers to ask about
 * (/proc/PID/timers). Throws PtraceError (EINJECT when a call fails in the target, ESRCH when the target
 * died).
 */
export function collectInjectedState(
  frozen: FrozenProcess,
  site?: number,
  handled = ~0n,
  timerIds: readonly number[] = [],
): InjectedState {
  const threads = new Map<number, InjectedThreadState>();
  const leader = withInjector(frozen, frozen.pid, site, (inj, page, mem) => {
    for (let sig = 1; sig <= 64; sig++) {
      if (sig === 9 || sig === 19 || ((handled >> BigInt(sig - 1)) & 1n) === 0n) continue;
      inj.call('rt_sigaction', SYS_RT_SIGACTION, sig, 0, page + 32 * (sig - 1), 8);
    }
    for (let w = 0; w < 3; w++) inj.call('getitimer', SYS_GETITIMER, w, page + OFF_ITIMERS + 32 * w);
    const brk = inj.call('brk', SYS_BRK, 0);
    const dumpable = inj.call('prctl(PR_GET_DUMPABLE)', SYS_PRCTL, PR_GET_DUMPABLE);
    const securebits = inj.call('prctl(PR_GET_SECUREBITS)', SYS_PRCTL, PR_GET_SECUREBITS);
    inj.call('prctl(PR_GET_CHILD_SUBREAPER)', SYS_PRCTL, PR_GET_CHILD_SUBREAPER, page + OFF_SUBREAPER);
    const thp = inj.call('prctl(PR_GET_THP_DISABLE)', SYS_PRCTL, PR_GET_THP_DISABLE);
    const posixTimers = timerIds.map((id): LiveTimer => {
      inj.call(`timer_gettime(${id})`, SYS_TIMER_GETTIME, id, page + OFF_TIMER);
      const overrun = inj.call(`timer_getoverrun(${id})`, SYS_TIMER_GETOVERRUN, id);
      const t = mem.read(page + OFF_TIMER, 32);
      return {
        id,
        isec: t.readBigUInt64LE(0),
        insec: t.readBigUInt64LE(8),
        vsec: t.readBigUInt64LE(16),
        vnsec: t.readBigUInt64LE(24),
        overrun,
      };
    });
    threads.set(frozen.pid, threadPart(inj, page, mem, frozen.pid));
    const b = mem.read(page, OFF_SUBREAPER + 8);
    const sigactions: Sigaction[] = [];
    for (let i = 0; i < 64; i++) {
      const o = 32 * i;
      sigactions.push({
        handler: b.readBigUInt64LE(o),
        flags: b.readBigUInt64LE(o + 8),
        restorer: b.readBigUInt64LE(o + 16),
        mask: b.readBigUInt64LE(o + 24),
      });
    }
    const timer = (w: number): Itimer => {
      const o = OFF_ITIMERS + 32 * w;
      return {
        isec: b.readBigUInt64LE(o),
        iusec: b.readBigUInt64LE(o + 8),
        vsec: b.readBigUInt64LE(o + 16),
        vusec: b.readBigUInt64LE(o + 24),
      };
    };
    return {
      sigactions,
      itimers: { real: timer(0), virt: timer(1), prof: timer(2) },
      brk: BigInt(brk),
      dumpable,
      securebits,
      childSubreaper: b.readInt32LE(OFF_SUBREAPER) !== 0,
      thpDisabled: thp !== 0,
      posixTimers,
    };
  });
  for (const tid of frozen.tids) {
    if (tid === frozen.pid) continue;
    threads.set(
      tid,
      withInjector(frozen, tid, site, (inj, page, mem) => threadPart(inj, page, mem, tid)),
    );
  }
  return { ...leader, threads };
}
