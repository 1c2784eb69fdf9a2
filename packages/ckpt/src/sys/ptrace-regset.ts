/**
 * PTRACE_GETREGSET/SETREGSET(NT_X86_XSTATE) and PTRACE_GETSIGMASK: the FPU/vector state (XSAVE layout, standard
 * format, its software-reserved bytes filled in by the kernel as in a signal frame) and the blocked-signal
 * mask of a stopped tracee. 64-bit and wider data: returned as bytes and bigint.
 *
 * @example
 * const xs = getXstate(tid);    // e.g. 2696 bytes with AVX-512
 * const mask = getSigmask(tid); // bit n-1 set: signal n blocked
 */
import { PTRACE } from './constants.js';
import { addressOf, ptraceBuf } from './syscalls.js';

const GETREGSET = 0x4204;
const NT_X86_XSTATE = 0x202;
const MAX_XSTATE = 1 << 16;

/** The XSAVE area of stopped tracee `tid` (as long as the kernel's user xstate size). */
export function getXstate(tid: number): Uint8Array {
  const buf = new Uint8Array(MAX_XSTATE);
  const iov = new Uint8Array(16);
  const v = new DataView(iov.buffer);
  v.setBigUint64(0, BigInt(addressOf(buf)), true);
  v.setBigUint64(8, BigInt(buf.length), true);
  ptraceBuf(GETREGSET, tid, iov, NT_X86_XSTATE);
  return buf.slice(0, Number(v.getBigUint64(8, true)));
}

/** The blocked-signal mask of stopped tracee `tid`. */
export function getSigmask(tid: number): bigint {
  const m = new BigUint64Array(1);
  ptraceBuf(PTRACE.GETSIGMASK, tid, m, 8);
  return m[0]!;
}

const SETREGSET = 0x4205;

/** Set the XSAVE area of stopped tracee `tid` (a buffer as getXstate() returns it). */
export function setXstate(tid: number, xstate: Uint8Array): void {
  const iov = new Uint8Array(16);
  const v = new DataView(iov.buffer);
  v.setBigUint64(0, BigInt(addressOf(xstate)), true);
  v.setBigUint64(8, BigInt(xstate.length), true);
  ptraceBuf(SETREGSET, tid, iov, NT_X86_XSTATE);
}
