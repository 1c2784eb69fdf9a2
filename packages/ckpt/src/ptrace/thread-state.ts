/**
 * The state of one frozen thread that ptrace gives from outside, in CRIU's terms (core-x86.proto):
 *
 * ```
 * PTRACE_GETREGSET NT_PRSTATUS     -> gpregs (27 u64, fs/gs base included), then the restart fixup:
 *     orig_ax >= 0 and ax = -ERESTARTSYS/-ERESTARTNOINTR/-ERESTARTNOHAND -> ax = orig_ax, ip -= 2
 *     orig_ax >= 0 and ax = -ERESTART_RESTARTBLOCK                      -> ax = -EINTR
 *     (as compel's get_task_regs: the restored thread re-enters the call, or sees EINTR)
 * PTRACE_GETREGSET NT_X86_XSTATE   -> fxsave area (512 B) + xsave header + components at their standard
 *     offsets (YMM 576, BNDREGS 960, BNDCSR 1024, OPMASK 1088, ZMM_Hi256 1152, Hi16_ZMM 1664, PKRU 2688),
 *     each only when the kernel's xfeatures (sw_reserved, byte 472) has it; NT_PRFPREG when XSTATE fails
 * PTRACE_GET_THREAD_AREA 12..14    -> GDT TLS entries
 * PTRACE_GETSIGMASK                -> blocked signals
 * PTRACE_GET_RSEQ_CONFIGURATION    -> rseq registration (absent when size is 0)
 * PTRACE_PEEKSIGINFO               -> the thread's queued signals (+ those the freeze caught)
 * get_robust_list(tid)             -> futex_rla, futex_rla_len
 * sched_getscheduler/getparam, getpriority -> sched
 * ```
 * Call only while the thread is in a ptrace stop (frozen), before any injection changes its registers.
 *
 * @example
 * using frozen = freeze(pid);
 * const t = readThreadState(frozen, pid);
 * t.gpregs.ip.toString(16);
 */
import {
  getRegset,
  getRobustList,
  getRseqConfig,
  getSched,
  getSigmask,
  getThreadArea,
  NT,
  peekSiginfo,
  SIGINFO_SIZE,
} from '../sys/index.js';
import { ptraceErrorFrom } from './errors.js';
import type { FrozenProcess } from './frozen-process.js';

/** gpregs under CRIU's names (user_x86_regs_entry), u64 each. */
export const GPREG_NAMES = [
  'r15',
  'r14',
  'r13',
  'r12',
  'bp',
  'bx',
  'r11',
  'r10',
  'r9',
  'r8',
  'ax',
  'cx',
  'dx',
  'si',
  'di',
  'orig_ax',
  'ip',
  'cs',
  'flags',
  'sp',
  'ss',
  'fs_base',
  'gs_base',
  'ds',
  'es',
  'fs',
  'gs',
] as const;
export type GpregName = (typeof GPREG_NAMES)[number];
export type Gpregs = Record<GpregName, bigint>;

export interface Fxsave {
  cwd: number;
  swd: number;
  twd: number;
  fop: number;
  rip: bigint;
  rdp: bigint;
  mxcsr: number;
  mxcsr_mask: number;
  st_space: number[];
  xmm_space: number[];
}

export interface XsaveParts {
  xstate_bv: bigint;
  ymmh_space?: number[];
  bndreg_state?: bigint[];
  bndcsr_state?: bigint[];
  opmask_reg?: bigint[];
  zmm_upper?: bigint[];
  hi16_zmm?: bigint[];
  pkru?: number[];
}

export interface TlsDesc {
  entry_number: number;
  base_addr: number;
  limit: number;
  seg_32bit: boolean;
  contents_h: boolean;
  contents_l: boolean;
  read_exec_only: boolean;
  limit_in_pages: boolean;
  seg_not_present: boolean;
  usable: boolean;
}

export interface ThreadState {
  readonly tid: number;
  /** After the syscall-restart fixup. */
  readonly gpregs: Gpregs;
  readonly fpregs: Fxsave;
  readonly xsave?: XsaveParts;
  readonly tls: TlsDesc[];
  readonly blocked: bigint;
  readonly rseq?: { pointer: bigint; size: number; signature: number };
  readonly robustList: { head: bigint; len: number };
  readonly sched: { policy: number; prio: number; nice: number };
  /**
   * Signals queued for this thread (128-byte siginfo_t each, oldest first): PTRACE_PEEKSIGINFO, then those
   * the freeze caught in signal-delivery-stops (FrozenThread.signals: re-delivered at a thaw, so pending
   * too; their siginfo is rebuilt as SI_USER from pid 0).
   */
  readonly pending: readonly Uint8Array[];
}

/** A siginfo_t for signal `sig` sent with kill() (SI_USER) by no known process. */
export function userSiginfo(sig: number): Uint8Array {
  const b = new Uint8Array(SIGINFO_SIZE);
  new DataView(b.buffer).setInt32(0, sig, true); // si_signo; si_errno, si_code (SI_USER), si_pid 0
  return b;
}

const ERESTARTSYS = 512n;
const ERESTARTNOINTR = 513n;
const ERESTARTNOHAND = 514n;
const ERESTART_RESTARTBLOCK = 516n;
const EINTR = 4n;
const U64 = (v: bigint) => BigInt.asUintN(64, v);

/** compel's fixup of a thread stopped inside a system call (see the module comment). */
export function fixupSyscallRestart(r: Gpregs): void {
  if (BigInt.asIntN(32, r.orig_ax) < 0n) return;
  const ax = BigInt.asIntN(32, r.ax);
  if (ax === -ERESTARTSYS || ax === -ERESTARTNOINTR || ax === -ERESTARTNOHAND) {
    r.ax = r.orig_ax;
    r.ip = U64(r.ip - 2n);
  } else if (ax === -ERESTART_RESTARTBLOCK) {
    r.ax = U64(-EINTR);
  }
}

function parseGpregs(b: Uint8Array): Gpregs {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const r = {} as Gpregs;
  GPREG_NAMES.forEach((n, i) => {
    r[n] = v.getBigUint64(i * 8, true);
  });
  return r;
}

function u32s(v: DataView, off: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(v.getUint32(off + i * 4, true));
  return out;
}

function u64s(v: DataView, off: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(v.getBigUint64(off + i * 8, true));
  return out;
}

function parseFxsave(v: DataView): Fxsave {
  return {
    cwd: v.getUint16(0, true),
    swd: v.getUint16(2, true),
    twd: v.getUint16(4, true),
    fop: v.getUint16(6, true),
    rip: v.getBigUint64(8, true),
    rdp: v.getBigUint64(16, true),
    mxcsr: v.getUint32(24, true),
    mxcsr_mask: v.getUint32(28, true),
    st_space: u32s(v, 32, 32),
    xmm_space: u32s(v, 160, 64),
  };
}

/** xsave components: feature bit, standard-format offset, size in bytes. */
const XFEATURES = [
  { bit: 2, off: 576, size: 256, key: 'ymmh_space', words: 32 },
  { bit: 3, off: 960, size: 64, key: 'bndreg_state', words: 64 },
  { bit: 4, off: 1024, size: 64, key: 'bndcsr_state', words: 64 },
  { bit: 5, off: 1088, size: 64, key: 'opmask_reg', words: 64 },
  { bit: 6, off: 1152, size: 512, key: 'zmm_upper', words: 64 },
  { bit: 7, off: 1664, size: 1024, key: 'hi16_zmm', words: 64 },
  { bit: 9, off: 2688, size: 8, key: 'pkru', words: 32 },
] as const;

function parseXsave(v: DataView): XsaveParts | undefined {
  if (v.byteLength < 576) return undefined;
  const xfeatures = v.getBigUint64(472, true); // fpx_sw_bytes.xfeatures in sw_reserved
  const x: XsaveParts = { xstate_bv: v.getBigUint64(512, true) };
  for (const f of XFEATURES) {
    if ((xfeatures & (1n << BigInt(f.bit))) === 0n || f.off + f.size > v.byteLength) continue;
    const rec = x as unknown as Record<string, unknown>;
    rec[f.key] = f.words === 32 ? u32s(v, f.off, f.size / 4) : u64s(v, f.off, f.size / 8);
  }
  return x;
}

function parseUserDesc(b: Uint8Array): TlsDesc {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  const bits = v.getUint32(12, true);
  return {
    entry_number: v.getUint32(0, true),
    base_addr: v.getUint32(4, true),
    limit: v.getUint32(8, true),
    seg_32bit: (bits & 1) !== 0,
    contents_h: (bits & 4) !== 0,
    contents_l: (bits & 2) !== 0,
    read_exec_only: (bits & 8) !== 0,
    limit_in_pages: (bits & 16) !== 0,
    seg_not_present: (bits & 32) !== 0,
    usable: (bits & 64) !== 0,
  };
}

/**
 * A thread state of zeros (every xsave component present, three TLS slots, no signals) for thread `tid`:
 * for rehearsing the code that encodes one (dump/full/rehearse-images.ts), never for an image.
 */
export function sampleThreadState(tid: number): ThreadState {
  const xs = new Uint8Array(2696);
  const xv = new DataView(xs.buffer);
  let bits = 3n;
  for (const f of XFEATURES) bits |= 1n << BigInt(f.bit);
  xv.setBigUint64(472, bits, true);
  xv.setBigUint64(512, bits, true);
  return {
    tid,
    gpregs: parseGpregs(new Uint8Array(27 * 8)),
    fpregs: parseFxsave(xv),
    xsave: parseXsave(xv),
    tls: [12, 13, 14].map((i) => ({ ...parseUserDesc(new Uint8Array(16)), entry_number: i })),
    blocked: 0n,
    robustList: { head: 0n, len: 24 },
    sched: { policy: 0, prio: 0, nice: 0 },
    pending: [],
  };
}

/** Read the state of frozen thread `tid`. Throws PtraceError (ESRCH when it is gone). */
export function readThreadState(frozen: FrozenProcess, tid: number): ThreadState {
  frozen.assertFrozen();
  try {
    const gpregs = parseGpregs(getRegset(tid, NT.PRSTATUS, 27 * 8));
    fixupSyscallRestart(gpregs);
    let xs: Uint8Array;
    try {
      xs = getRegset(tid, NT.X86_XSTATE, 16384);
    } catch {
      xs = getRegset(tid, NT.PRFPREG, 512);
    }
    const xv = new DataView(xs.buffer, xs.byteOffset, xs.byteLength);
    const tls: TlsDesc[] = [];
    for (const idx of [12, 13, 14]) {
      const d = parseUserDesc(getThreadArea(tid, idx));
      tls.push({ ...d, entry_number: idx });
    }
    const rseq = getRseqConfig(tid);
    return {
      tid,
      gpregs,
      fpregs: parseFxsave(xv),
      xsave: xs.byteLength > 512 ? parseXsave(xv) : undefined,
      tls,
      blocked: getSigmask(tid),
      rseq: rseq && rseq.size > 0 ? rseq : undefined,
      robustList: getRobustList(tid),
      sched: getSched(tid),
      pending: [...peekSiginfo(tid, false), ...(frozen.thread(tid)?.signals ?? []).map(userSiginfo)],
    };
  } catch (e) {
    throw ptraceErrorFrom(e, tid, 'read the state of');
  }
}
