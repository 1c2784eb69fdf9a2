/**
 * An x86-64 `rt_sigframe` for rt_sigreturn, made from a thread's own state: what the thread resumes with
 * when it runs `syscall; ret` (gadgets.ts) with rsp at the frame and nobody stops it (the tracer died).
 *
 * ```
 * S+0     pretcode: the sigreturn gadget (`ret` pops it; rt_sigreturn then finds the frame at rsp - 8)
 * S+8     ucontext: uc_flags FP_XSTATE|SIGCONTEXT_SS|STRICT_RESTORE_SS, uc_link 0,
 *         uc_stack with an invalid ss_flags (the kernel then keeps the thread's sigaltstack as it is),
 *         sigcontext (r8..r15 rdi rsi rbp rbx rdx rax rcx rsp rip eflags cs gs fs ss err trapno oldmask
 *         cr2 fpstate), uc_sigmask: the thread's blocked mask
 * S+312   siginfo (unused by rt_sigreturn)
 * F       the thread's XSAVE area (64-aligned; magic2 after it): FPU and vector registers exact
 * ```
 * rt_sigreturn restores every general register, rip, rsp, rflags, the signal mask and the XSAVE state;
 * fs/gs base are not touched by the injection, so nothing else needs restoring.
 *
 * @example
 * const bytes = sigFrame(resume, getXstate(tid), getSigmask(tid), gadgets.sigreturn, s);
 * mem.write(s, bytes); // s: 64-aligned, below the red zone
 */
import type { Registers } from './registers.js';

const UC_FLAGS = 1n | 2n | 4n;
const FP_XSTATE_MAGIC2 = 0x46505845;
/** Offset of sw_reserved.xstate_size in the XSAVE area. */
const XSTATE_SIZE_AT = 464 + 16;
const XSTATE_AT = 8 + 304 + 128 + 8; // 448: 64-aligned when S is

/** Bytes of the frame for an XSAVE area of `xstateLen` bytes. */
export function sigFrameSize(xstateLen: number): number {
  return XSTATE_AT + xstateLen + 4;
}

/** The frame to write at `at` (64-byte aligned). */
export function sigFrame(
  r: Registers,
  xstate: Uint8Array,
  sigmask: bigint,
  restorer: number,
  at: number,
): Uint8Array {
  const b = Buffer.alloc(sigFrameSize(xstate.length));
  const u64 = (off: number, v: bigint) => b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
  u64(0, BigInt(restorer));
  const uc = 8;
  u64(uc, UC_FLAGS);
  b.writeInt32LE(0x7fff0000, uc + 24); // uc_stack.ss_flags: invalid mode, sigaltstack left as it is
  const sc = uc + 40;
  const regs = [
    'r8',
    'r9',
    'r10',
    'r11',
    'r12',
    'r13',
    'r14',
    'r15',
    'rdi',
    'rsi',
    'rbp',
    'rbx',
    'rdx',
    'rax',
    'rcx',
    'rsp',
    'rip',
    'eflags',
  ] as const;
  for (const [i, name] of regs.entries()) u64(sc + i * 8, r.get(name));
  b.writeUInt16LE(Number(r.get('cs')), sc + 144);
  b.writeUInt16LE(Number(r.get('ss')), sc + 150);
  u64(sc + 184, BigInt(at + XSTATE_AT)); // fpstate
  u64(uc + 40 + 256, sigmask);
  b.set(xstate, XSTATE_AT);
  const size = Buffer.from(xstate.buffer, xstate.byteOffset, xstate.length).readUInt32LE(XSTATE_SIZE_AT);
  b.writeUInt32LE(FP_XSTATE_MAGIC2, XSTATE_AT + Math.min(size, xstate.length));
  return b;
}
