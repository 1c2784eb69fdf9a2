/**
 * The writing side of ptrace masks and options, for a restore (setXstate is in ptrace-regset.ts):
 * PTRACE_SETSIGMASK, the PTRACE_SETOPTIONS bits a restore needs, and PTRACE_GETEVENTMSG.
 *
 * @example
 * setSigmask(tid, 1n << 9n);        // SIGUSR1 (10) blocked
 */
import { ptraceBuf } from './syscalls.js';

const SETSIGMASK = 0x420b;
const GETEVENTMSG = 0x4201;

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
