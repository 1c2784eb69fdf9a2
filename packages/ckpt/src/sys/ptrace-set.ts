/**
 * The writing side of ptrace register sets and masks, for a restore: PTRACE_SETREGSET (NT_X86_XSTATE:
 * the FPU/vector state in the XSAVE layout getXstate returns), PTRACE_SETSIGMASK, PTRACE_SETOPTIONS with
 * the options a restore needs, and PTRACE_GETEVENTMSG.
 *
 * @example
 * setXstate(tid, xs);              // bytes as getXstate(tid) returned them, fields changed
 * setSigmask(tid, 1n << 9n);        // SIGUSR1 (10) blocked
 */
import { addressOf, ptraceBuf } from './syscalls.js';

const SETREGSET = 0x4205;
const SETSIGMASK = 0x420b;
const GETEVENTMSG = 0x4201;
const NT_X86_XSTATE = 0x202;

/** PTRACE_O_* bits beyond TRACESYSGOOD. */
export const PTRACE_O = {
  TRACESYSGOOD: 1,
  TRACEFORK: 2,
  TRACECLONE: 8,
  /** The tracee is killed when the tracer exits: a restore cut short leaves nothing half-built. */
  EXITKILL: 0x100000,
} as const;

/** PTRACE_EVENT_* numbers (status >> 16 of a stop). */
export const PTRACE_EVENT = { FORK: 1, CLONE: 3, STOP: 128 } as const;

/** PTRACE_SETREGSET(NT_X86_XSTATE) of stopped tracee `tid` from an XSAVE area (standard format). */
export function setXstate(tid: number, xstate: Uint8Array): void {
  const iov = new Uint8Array(16);
  const v = new DataView(iov.buffer);
  v.setBigUint64(0, BigInt(addressOf(xstate)), true);
  v.setBigUint64(8, BigInt(xstate.length), true);
  ptraceBuf(SETREGSET, tid, iov, NT_X86_XSTATE);
}

/** PTRACE_SETSIGMASK: the blocked signals of stopped tracee `tid` (bit n-1: signal n). */
export function setSigmask(tid: number, mask: bigint): void {
  const m = new BigUint64Array([mask]);
  ptraceBuf(SETSIGMASK, tid, m, 8);
}

/** PTRACE_GETEVENTMSG: e.g. the new pid at a PTRACE_EVENT_FORK stop. */
export function getEventMsg(tid: number): number {
  const m = new BigUint64Array(1);
  ptraceBuf(GETEVENTMSG, tid, m, 0);
  return Number(m[0]!);
}
