/**
 * System calls that read a task's state from outside, for the full dump: ptrace register sets (GETREGSET
 * NT_PRSTATUS / NT_X86_XSTATE / NT_PRFPREG), GDT TLS entries, the blocked mask, the rseq registration,
 * the robust futex list, resource limits and scheduling parameters. Every call is synchronous on the
 * tracer thread; the ptrace ones need the thread in a ptrace stop.
 *
 * @example
 * const regs = getRegset(tid, NT.PRSTATUS, 27 * 8);     // user_regs_struct bytes
 * const xs = getRegset(tid, NT.X86_XSTATE, 4096);       // as many bytes as the kernel fills
 * (the blocked mask: getSigmask in ptrace-regset.ts)
 */
import { addressOf, ptraceBuf, syscall } from './syscalls.js';

/** ELF note types of PTRACE_GETREGSET. */
export const NT = {
  PRSTATUS: 1,
  PRFPREG: 2,
  X86_XSTATE: 0x202,
} as const;

const PTRACE_GETREGSET = 0x4204;
const PTRACE_GET_THREAD_AREA = 25;
const PTRACE_GET_RSEQ_CONFIGURATION = 0x420f;
const SYS_GET_ROBUST_LIST = 274;
const SYS_PRLIMIT64 = 302;
const SYS_GETPRIORITY = 140;
const SYS_SCHED_GETSCHEDULER = 145;
const SYS_SCHED_GETPARAM = 143;

/** Number of resource limits (RLIMIT_CPU .. RLIMIT_RTTIME) CRIU saves. */
export const RLIM_NLIMITS = 16;

/** PTRACE_GETREGSET of note `nt` into a `size`-byte buffer; returns the bytes the kernel filled. */
export function getRegset(tid: number, nt: number, size: number): Uint8Array {
  const buf = new Uint8Array(size);
  const iov = new BigUint64Array(2);
  iov[0] = BigInt(addressOf(buf));
  iov[1] = BigInt(size);
  ptraceBuf(PTRACE_GETREGSET, tid, iov, nt);
  return buf.subarray(0, Number(iov[1]));
}

/** PTRACE_GET_THREAD_AREA of GDT entry `index` (12..14 on x86-64): the 16-byte `struct user_desc`. */
export function getThreadArea(tid: number, index: number): Uint8Array {
  const desc = new Uint8Array(16);
  ptraceBuf(PTRACE_GET_THREAD_AREA, tid, desc, index);
  return desc;
}

/** The rseq area a thread registered; `size` 0 when it registered none. */
export interface RseqConfig {
  readonly pointer: bigint;
  readonly size: number;
  readonly signature: number;
  readonly flags: number;
}

/** PTRACE_GET_RSEQ_CONFIGURATION; undefined when the kernel lacks it (EIO/EINVAL). */
export function getRseqConfig(tid: number): RseqConfig | undefined {
  const b = new Uint8Array(32);
  try {
    ptraceBuf(PTRACE_GET_RSEQ_CONFIGURATION, tid, b, 32);
  } catch (e) {
    if ((e as { code?: string }).code === 'EIO' || (e as { code?: string }).code === 'EINVAL')
      return undefined;
    throw e;
  }
  const v = new DataView(b.buffer);
  return {
    pointer: v.getBigUint64(0, true),
    size: v.getUint32(8, true),
    signature: v.getUint32(12, true),
    flags: v.getUint32(16, true),
  };
}

/** get_robust_list(2) of thread `tid`: the list head address and its length (24 on x86-64). */
export function getRobustList(tid: number): { head: bigint; len: number } {
  const head = new Uint8Array(8);
  const len = new Uint8Array(8);
  syscall(SYS_GET_ROBUST_LIST, tid, addressOf(head), addressOf(len));
  return {
    head: new DataView(head.buffer).getBigUint64(0, true),
    len: Number(new DataView(len.buffer).getBigUint64(0, true)),
  };
}

/** prlimit64(2) of every resource 0..15 of process `pid`: [soft, hard] pairs, RLIM_INFINITY = 2^64-1. */
export function getRlimits(pid: number): { cur: bigint; max: bigint }[] {
  const out: { cur: bigint; max: bigint }[] = [];
  const old = new Uint8Array(16);
  const v = new DataView(old.buffer);
  for (let r = 0; r < RLIM_NLIMITS; r++) {
    syscall(SYS_PRLIMIT64, pid, r, 0, addressOf(old));
    out.push({ cur: v.getBigUint64(0, true), max: v.getBigUint64(8, true) });
  }
  return out;
}

/** Scheduling policy, real-time priority and nice value of thread `tid`. */
export function getSched(tid: number): { policy: number; prio: number; nice: number } {
  const policy = syscall(SYS_SCHED_GETSCHEDULER, tid) & ~0x40000000; // drop SCHED_RESET_ON_FORK
  const param = new Uint8Array(8);
  syscall(SYS_SCHED_GETPARAM, tid, addressOf(param));
  const prio = new DataView(param.buffer).getInt32(0, true);
  // the raw syscall returns 20 - nice (1..40), never negative
  const nice = 20 - syscall(SYS_GETPRIORITY, 0 /* PRIO_PROCESS */, tid);
  return { policy, prio, nice };
}

const SYS_KCMP = 312;
const KCMP_FILE = 0;

/** kcmp(KCMP_FILE): whether fd `a` of `pidA` and fd `b` of `pidB` are the same open file description. */
export function sameOpenFile(pidA: number, a: number, pidB: number, b: number): boolean {
  return syscall(SYS_KCMP, pidA, pidB, KCMP_FILE, a, b) === 0;
}

const SYS_TEE = 276;
const SPLICE_F_NONBLOCK = 2;

/** tee(2): duplicate up to `len` bytes of pipe `from` into pipe `to` without consuming them. */
export function tee(from: number, to: number, len: number): number {
  return syscall(SYS_TEE, from, to, len, SPLICE_F_NONBLOCK);
}

const PTRACE_PEEKSIGINFO = 0x4209;
const PTRACE_PEEKSIGINFO_SHARED = 1;
/** Bytes of one `siginfo_t` (what CRIU's siginfo_entry holds). */
export const SIGINFO_SIZE = 128;

/**
 * The signals queued for thread `tid` (or, `shared`, for its whole process), oldest first, each a
 * 128-byte `siginfo_t`, read with PTRACE_PEEKSIGINFO (the thread in a ptrace stop; nothing dequeued).
 *
 * @example
 * peekSiginfo(tid, true).map((s) => new DataView(s.buffer, s.byteOffset).getInt32(0, true)); // signal numbers
 */
export function peekSiginfo(tid: number, shared: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const batch = 32;
  const buf = new Uint8Array(SIGINFO_SIZE * batch);
  const args = new DataView(new ArrayBuffer(16));
  const argBytes = new Uint8Array(args.buffer);
  for (;;) {
    args.setBigUint64(0, BigInt(out.length), true); // off
    args.setUint32(8, shared ? PTRACE_PEEKSIGINFO_SHARED : 0, true); // flags
    args.setInt32(12, batch, true); // nr
    const n = ptraceBuf(PTRACE_PEEKSIGINFO, tid, buf, addressOf(argBytes));
    for (let i = 0; i < n; i++) out.push(buf.slice(i * SIGINFO_SIZE, (i + 1) * SIGINFO_SIZE));
    if (n < batch) return out;
  }
}

const SYS_CLOCK_GETTIME = 228;

/** clock_gettime(2) of `clockid` (CLOCK_REALTIME 0, CLOCK_MONOTONIC 1, CLOCK_BOOTTIME 7, ...): [sec, nsec]. */
export function clockGettime(clockid: number): [sec: bigint, nsec: bigint] {
  const ts = new BigInt64Array(2);
  syscall(SYS_CLOCK_GETTIME, clockid, addressOf(new Uint8Array(ts.buffer)));
  return [ts[0]!, ts[1]!];
}
