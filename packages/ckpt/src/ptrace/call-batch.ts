/**
 * A batch of injected system calls run with ONE ptrace stop instead of two per call: a loop in the
 * scratch mapping's code page runs a table of calls, then sends the thread a signal the target ignores,
 * whose signal-delivery-stop ends the batch for the tracer, and falls through into the thread's restore
 * sequence (resume-stub.ts).
 *
 * ```
 * batch:  while (r13-- > 0) {             ; r12 = table, r13 = count (set by the tracer)
 *           rax = syscall(e.nr, e.a1..a6)  ; e = [r12]: nr a1 a2 a3 a4 a5 a6 out   (8 u64 per call)
 *           if (e.out) *e.out = rax       ; out: its own result slot (0: discarded)
 *           r12 += 64
 *         }
 *         rax = tgkill; rdi = r14 (tgid); rsi = r15 (tid); rdx = rbx (the quiet signal)
 *         jmp rbp                          ; the thread's stub: `syscall` (the tgkill), then restore
 *
 * tracer:  SETREGS (rip = batch, r12..r15, rbx, rbp) ; PTRACE_CONT ; wait for the quiet signal's
 *          signal-delivery-stop at stub + 2 ; read the results ; resume later with signal 0 (dropped)
 * ```
 * The quiet signal is one the target ignores (SIG_IGN, or SIG_DFL with "ignore" as its default action:
 * SIGWINCH, SIGURG, SIGCHLD) and the thread does not block. With a tracer the kernel stops the thread for
 * it all the same (ptrace sees even ignored signals); without one (ckpt SIGKILLed at any instant) the
 * kernel drops it, and the thread runs the rest of the table, then its restore sequence, and resumes
 * where it was frozen: no int3, no stop that could hurt it. A real instance of the same signal arriving
 * meanwhile is told apart by where the thread stopped (the batch's end is the stub's `syscall` + 2): it is
 * remembered and re-delivered as any signal; one already pending when the tgkill runs merges with ours
 * (standard signals do not queue twice) and is dropped with it, which the target cannot tell (it ignores
 * that signal and does not block it, so no sigwait or signalfd waits for it).
 *
 * The signal-delivery-stop is, like the freeze's interrupt stop, a stop inside the kernel's signal path:
 * setting the thread's saved registers there makes the kernel apply its syscall restart at detach
 * exactly as from the freeze (guest-thread.ts cures this way, with no further stop).
 *
 * @example
 * const sig = quietSignal(pid, tid, getSigmask(tid));   // 0: none (run the calls one by one)
 * mem.write(table, batchTable([{ nr: SYS.getpid, args: [] }], table));
 */
import { readTaskCreds } from '../proc/index.js';
import { errnoName } from '../sys/index.js';
import { PtraceError } from './errors.js';
import type { Registers } from './registers.js';

/** Bytes per call in the table: nr, six arguments, the result slot. */
export const BATCH_ENTRY_SIZE = 64;
/** Offset of the result word in an entry. */
const RESULT_OFFSET = 56;
const SYS_TGKILL = 234;

/** One call of a batch: its number, up to six arguments. */
export interface BatchCall {
  readonly nr: number;
  readonly args?: readonly number[];
  /** Its result is not stored (read back as 0): for a call before the table's page is writable. */
  readonly discard?: boolean;
}

/**
 * The thread a batch runs on: `resume` are the registers it resumes with should the tracer vanish,
 * `stub` its resume stub, `quiet` its quiet signal, `rsp` its stack pointer meanwhile (default: resume's).
 */
export interface BatchThread {
  readonly tid: number;
  readonly resume: Registers;
  readonly stub: number;
  readonly quiet: number;
  readonly rsp?: number;
}

/** A call of a batch with its name (for the error when it fails). */
export interface NamedCall extends BatchCall {
  readonly name: string;
}

/**
 * Run `calls` through `run` (Injector.batch, GuestThread.batch) in process `pid`; throws PtraceError
 * EINJECT (with the errno name) naming the first that failed, as Injector.call does.
 *
 * @example
 * const [brk] = checkedBatch((c) => inj.batch(c), pid, [{ name: 'brk', nr: 12, args: [0] }]);
 */
export function checkedBatch(
  run: (calls: readonly BatchCall[]) => number[],
  pid: number,
  calls: readonly NamedCall[],
): number[] {
  const r = run(calls);
  r.forEach((v, i) => {
    if (v < 0 && v > -4096) {
      const errno = errnoName(-v);
      throw new PtraceError('EINJECT', `${calls[i]!.name} in process ${pid}: ${errno}`, { errno });
    }
  });
  return r;
}

/** The batch loop (see the module comment): position-independent, 79 bytes. */
export function batchCode(): Uint8Array {
  // biome-ignore format: one instruction a line
  const code = [
    0x4d, 0x85, 0xed,             // loop: test r13, r13
    0x74, 0x3a,                   //       jz done (+58)
    0x49, 0x8b, 0x04, 0x24,       //       mov rax, [r12]
    0x49, 0x8b, 0x7c, 0x24, 0x08, //       mov rdi, [r12+8]
    0x49, 0x8b, 0x74, 0x24, 0x10, //       mov rsi, [r12+16]
    0x49, 0x8b, 0x54, 0x24, 0x18, //       mov rdx, [r12+24]
    0x4d, 0x8b, 0x54, 0x24, 0x20, //       mov r10, [r12+32]
    0x4d, 0x8b, 0x44, 0x24, 0x28, //       mov r8, [r12+40]
    0x4d, 0x8b, 0x4c, 0x24, 0x30, //       mov r9, [r12+48]
    0x0f, 0x05,                   //       syscall
    0x49, 0x8b, 0x4c, 0x24, 0x38, //       mov rcx, [r12+56]
    0x48, 0x85, 0xc9,             //       test rcx, rcx
    0x74, 0x03,                   //       jz next
    0x48, 0x89, 0x01,             //       mov [rcx], rax
    0x49, 0x83, 0xc4, 0x40,       // next: add r12, 64
    0x49, 0xff, 0xcd,             //       dec r13
    0xeb, 0xc1,                   //       jmp loop (-63)
    0xb8, SYS_TGKILL, 0, 0, 0,    // done: mov eax, tgkill
    0x4c, 0x89, 0xf7,             //       mov rdi, r14
    0x4c, 0x89, 0xfe,             //       mov rsi, r15
    0x48, 0x89, 0xda,             //       mov rdx, rbx
    0xff, 0xe5,                   //       jmp rbp
  ];
  return Uint8Array.from(code);
}

/** The table of `calls` placed at `at` in the target (each result lands in its own entry). */
export function batchTable(calls: readonly BatchCall[], at: number): Buffer {
  const b = Buffer.alloc(calls.length * BATCH_ENTRY_SIZE);
  calls.forEach((c, i) => {
    const o = i * BATCH_ENTRY_SIZE;
    b.writeBigInt64LE(BigInt(c.nr), o);
    for (let k = 0; k < 6; k++) b.writeBigInt64LE(BigInt(c.args?.[k] ?? 0), o + 8 + 8 * k);
    if (!c.discard) b.writeBigUInt64LE(BigInt(at + o + RESULT_OFFSET), o + RESULT_OFFSET);
  });
  return b;
}

/** The results of a batch, from the table read back after it ran (rax as is: negative errno). */
export function batchResults(table: Buffer, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++)
    out.push(Number(table.readBigInt64LE(i * BATCH_ENTRY_SIZE + RESULT_OFFSET)));
  return out;
}

/** Signals whose default action is to ignore, without side effects, in the order tried. */
const DEFAULT_IGNORED = [28, 23, 17]; // SIGWINCH, SIGURG, SIGCHLD

/**
 * A signal that ends a batch on thread `tid` harmlessly (see the module comment), or 0 when there is
 * none: not caught, ignored (SIG_IGN or by default), not blocked (`blocked`: the thread's mask, bit sig-1).
 */
export function quietSignal(pid: number, tid: number, blocked: bigint): number {
  const c = readTaskCreds(pid, tid);
  const usable = (sig: number) => {
    const bit = 1n << BigInt(sig - 1);
    return (c.sigCgt & bit) === 0n && (blocked & bit) === 0n;
  };
  for (const sig of DEFAULT_IGNORED) if (usable(sig)) return sig;
  for (let sig = 1; sig <= 64; sig++) {
    if (sig !== 9 && sig !== 19 && (c.sigIgn & (1n << BigInt(sig - 1))) !== 0n && usable(sig)) return sig;
  }
  return 0;
}
