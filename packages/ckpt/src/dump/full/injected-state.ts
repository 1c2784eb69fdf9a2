/**
 * What only the target can tell: collected by injecting system calls into each frozen thread (ptrace/'s
 * Injector), their answers written into the injector's data area (`page` below) and read back through it.
 *
 * ```
 * leader thread: ONE batch (Injector.batch)     every other thread: ONE batch, as a guest of the
 *                                                leader's injector (Injector.guest, one after another)
 *  rt_sigaction(sig, NULL, page+32*(sig-1), 8)  for each signal caught or ignored (SigCgt|SigIgn of
 *                                                /proc: the others are SIG_DFL, read as zeros)
 *  getitimer(REAL/VIRTUAL/PROF, page+2048+32*w)  sigaltstack(NULL, page+2200)
 *  brk(0)                                        prctl(PR_GET_TID_ADDRESS, page+2240)
 *  prctl(PR_GET_DUMPABLE), PR_GET_SECUREBITS,    prctl(PR_GET_PDEATHSIG, page+2248)
 *  PR_GET_CHILD_SUBREAPER (page+2256), PR_GET_THP_DISABLE
 *  sigaltstack, PR_GET_TID_ADDRESS, PR_GET_PDEATHSIG (as every thread)
 *  timer_gettime(id, page+2304+32*i), timer_getoverrun(id)   for each POSIX timer (posix-timers.ts;
 *                                                48 slots a batch: more timers, more batches)
 * ```
 * The calls have no dependencies between them (the answers go to memory slots), so each thread's run as
 * one batch: one ptrace stop per 32 calls instead of two per call (ptrace/call-batch.ts). One infection
 * per process: the other threads run their batch from the leader's scratch mapping (no mapping, site
 * call or interrupt of their own); a thread that cannot be a guest (no quiet signal, in a group-stop, no
 * stack room) gets an injector of its own after the leader's cure, as before. The answers go to the
 * injector's own data area (Injector.scratch), not to a page mapped for them. Runs while the process is
 * frozen; every injector and guest is cured (scratch mapping unmapped, code and registers restored)
 * before this returns, also on failure.
 *
 * @example
 * using frozen = freeze(pid);
 * const s = collectInjectedState(frozen);
 * s.sigactions[10 - 1]?.handler; // SIGUSR1's handler address
 */
import {
  type BatchCall,
  checkedBatch,
  type FrozenProcess,
  Injector,
  type NamedCall,
} from '../../ptrace/index.js';
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
  /** What it took: system calls injected (the injectors' own included) and ptrace stops waited for. */
  readonly injection: { readonly calls: number; readonly stops: number };
  /**
   * With `uncured`: the target's ranges still ours (the leader's injector left standing), which a reader
   * of its mappings leaves out; empty when it was cured.
   */
  readonly ours: readonly { readonly start: number; readonly end: number }[];
}

/** POSIX timers asked about per batch (each its own answer slot; more run in further batches). */
const TIMER_SLOTS = 48;
/** Bytes of the answer area the calls write into (the POSIX timers' slots are the last). */
const ANSWERS = OFF_TIMER + 32 * TIMER_SLOTS;

/** Runs a batch in one thread: Injector.batch or GuestThread.batch. */
type RunBatch = (calls: readonly BatchCall[]) => number[];

/** Where the answers go: the injector's own data area (cleared: unasked signals read as SIG_DFL). */
function answerArea(inj: Injector): number {
  if (inj.scratch.size < ANSWERS) return inj.mmap(PAGE); // a fresh page: zeros
  inj.write(inj.scratch.address, new Uint8Array(ANSWERS));
  return inj.scratch.address;
}

/** The per-thread calls (their answers: threadAnswers). */
function threadCalls(page: number): NamedCall[] {
  return [
    { name: 'sigaltstack', nr: SYS_SIGALTSTACK, args: [0, page + OFF_SAS] },
    { name: 'prctl(PR_GET_TID_ADDRESS)', nr: SYS_PRCTL, args: [PR_GET_TID_ADDRESS, page + OFF_TID_ADDRESS] },
    { name: 'prctl(PR_GET_PDEATHSIG)', nr: SYS_PRCTL, args: [PR_GET_PDEATHSIG, page + OFF_PDEATHSIG] },
  ];
}

function threadAnswers(inj: Injector, page: number, tid: number): InjectedThreadState {
  const b = inj.read(page + OFF_SAS, 64);
  return {
    tid,
    sigaltstack: { sp: b.readBigUInt64LE(0), flags: b.readInt32LE(8), size: b.readBigUInt64LE(16) },
    clearChildTid: b.readBigUInt64LE(OFF_TID_ADDRESS - OFF_SAS),
    pdeathSig: b.readInt32LE(OFF_PDEATHSIG - OFF_SAS),
  };
}

/** timer_gettime and timer_getoverrun of up to TIMER_SLOTS timers, each into its own slot. */
function timerCalls(page: number, ids: readonly number[]): NamedCall[] {
  return ids.flatMap((id, i) => [
    { name: `timer_gettime(${id})`, nr: SYS_TIMER_GETTIME, args: [id, page + OFF_TIMER + 32 * i] },
    { name: `timer_getoverrun(${id})`, nr: SYS_TIMER_GETOVERRUN, args: [id] },
  ]);
}

/** The timers' answers: `results` are their calls' (timerCalls order). */
function timerAnswers(inj: Injector, page: number, ids: readonly number[], results: number[]): LiveTimer[] {
  const b = ids.length > 0 ? inj.read(page + OFF_TIMER, 32 * ids.length) : Buffer.alloc(0);
  return ids.map((id, i) => ({
    id,
    isec: b.readBigUInt64LE(32 * i),
    insec: b.readBigUInt64LE(32 * i + 8),
    vsec: b.readBigUInt64LE(32 * i + 16),
    vnsec: b.readBigUInt64LE(32 * i + 24),
    overrun: results[2 * i + 1]!,
  }));
}

/**
 * The leader's per-process calls, its thread part and the first TIMER_SLOTS timers in one batch (one
 * stop per 32 calls); further timers in further batches.
 */
function leaderPart(
  inj: Injector,
  page: number,
  handled: bigint,
  timerIds: readonly number[],
): Omit<InjectedState, 'threads' | 'injection' | 'ours'> & { thread: InjectedThreadState } {
  const run: RunBatch = (c) => inj.batch(c);
  const calls: NamedCall[] = [];
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19 || ((handled >> BigInt(sig - 1)) & 1n) === 0n) continue;
    calls.push({ name: 'rt_sigaction', nr: SYS_RT_SIGACTION, args: [sig, 0, page + 32 * (sig - 1), 8] });
  }
  for (let w = 0; w < 3; w++)
    calls.push({ name: 'getitimer', nr: SYS_GETITIMER, args: [w, page + OFF_ITIMERS + 32 * w] });
  const at = calls.length;
  calls.push(
    { name: 'brk', nr: SYS_BRK, args: [0] },
    { name: 'prctl(PR_GET_DUMPABLE)', nr: SYS_PRCTL, args: [PR_GET_DUMPABLE] },
    { name: 'prctl(PR_GET_SECUREBITS)', nr: SYS_PRCTL, args: [PR_GET_SECUREBITS] },
    {
      name: 'prctl(PR_GET_CHILD_SUBREAPER)',
      nr: SYS_PRCTL,
      args: [PR_GET_CHILD_SUBREAPER, page + OFF_SUBREAPER],
    },
    { name: 'prctl(PR_GET_THP_DISABLE)', nr: SYS_PRCTL, args: [PR_GET_THP_DISABLE] },
    ...threadCalls(page),
  );
  const first = timerIds.slice(0, TIMER_SLOTS);
  const timersAt = calls.length;
  calls.push(...timerCalls(page, first));
  const r = checkedBatch(run, inj.frozen.pid, calls);
  const [brk, dumpable, securebits, , thp] = r.slice(at) as [number, number, number, number, number];
  const posixTimers = timerAnswers(inj, page, first, r.slice(timersAt));
  for (let i = TIMER_SLOTS; i < timerIds.length; i += TIMER_SLOTS) {
    const ids = timerIds.slice(i, i + TIMER_SLOTS);
    posixTimers.push(
      ...timerAnswers(inj, page, ids, checkedBatch(run, inj.frozen.pid, timerCalls(page, ids))),
    );
  }
  const b = inj.read(page, OFF_SUBREAPER + 8);
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
    thread: threadAnswers(inj, page, inj.frozen.pid),
  };
}

/** One non-leader thread's calls in one batch (`run`: a guest's, or its own injector's), and answers. */
function threadPart(run: RunBatch, inj: Injector, page: number, tid: number): InjectedThreadState {
  checkedBatch(run, inj.frozen.pid, threadCalls(page));
  return threadAnswers(inj, page, tid);
}

/**
 * Inject the calls of the module comment into every thread of `frozen`. `site`: the injection site read
 * before freezing (ptrace/injectionSite), or undefined to read it now. `handled`: the signals to ask
 * rt_sigaction about (bit sig-1: SigCgt|SigIgn; default all): a SIG_DFL disposition's flags and mask are
 * then taken as zeros (one injected call instead of 62). `timerIds`: the POSIX timers to ask about
 * (/proc/PID/timers). `uncured` (with FrozenProcess.keepInfection): the leader's injector is left
 * standing (Injector.hold) instead of cured, for a process that is killed frozen after the dump (the cure's
 * three stops, 3-8 ms of a 4 GiB migration's window, for nothing); the thaw cures it if the process runs on
 * after all. Throws PtraceError (EINJECT when a call fails in the target, ESRCH when the target died).
 */
export function collectInjectedState(
  frozen: FrozenProcess,
  site?: number,
  handled = ~0n,
  timerIds: readonly number[] = [],
  uncured = false,
): InjectedState {
  const threads = new Map<number, InjectedThreadState>();
  const alone: number[] = [];
  const injection = { calls: 0, stops: 0 };
  const count = (i: Injector) => {
    injection.calls += i.stats.syscalls;
    injection.stops += i.stats.stops;
  };
  const inj = Injector.infect(frozen, frozen.pid, site);
  let leader: Omit<InjectedState, 'threads' | 'injection' | 'ours'> & { thread: InjectedThreadState };
  try {
    const page = answerArea(inj);
    leader = leaderPart(inj, page, handled, timerIds);
    threads.set(frozen.pid, leader.thread);
    for (const tid of frozen.tids) {
      if (tid === frozen.pid) continue;
      const g = inj.guest(tid);
      if (g)
        threads.set(
          tid,
          threadPart((c) => g.batch(c), inj, page, tid),
        );
      else alone.push(tid);
    }
    // a thread that could not be a guest gets an injector of its own: its infect would cure this one
    if (uncured && alone.length === 0) inj.hold();
    else inj.cure();
  } catch (e) {
    inj.cure();
    throw e;
  } finally {
    count(inj);
  }
  const ours = inj.ownRanges;
  // the threads that could not be guests: an injector of their own each, one after another
  for (const tid of alone) {
    const t = Injector.infect(frozen, tid, site);
    try {
      threads.set(
        tid,
        threadPart((c) => t.batch(c), t, answerArea(t), tid),
      );
    } finally {
      t.cure();
      count(t);
    }
  }
  const { thread: _, ...rest } = leader;
  return { ...rest, threads, injection, ours };
}
