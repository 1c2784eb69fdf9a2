/**
 * PTRACE_PEEKDATA / PTRACE_POKEDATA: one 64-bit word of a stopped tracee's memory, as BigInt. The fallback
 * for patching code when /proc/PID/mem may not write to read-only pages (kernels built with
 * CONFIG_PROC_MEM_NO_FORCE). The caller must be the tracer thread.
 *
 * @example
 * const w = peekData(tid, rip); pokeData(tid, rip, (w & ~0xffffffn) | 0xcc050fn);
 */
import koffi from 'koffi';
import { PTRACE } from './constants.js';
import { SysError } from './errors.js';

type WordCall = (req: number, pid: number, addr: number, data: bigint) => number | bigint;
let call: WordCall | undefined;

function raw(): WordCall {
  if (!call) {
    const lib = koffi.load('libc.so.6');
    call = lib.func('ptrace', 'int64_t', ['long', 'int', 'uintptr_t', 'uint64_t']) as unknown as WordCall;
  }
  return call;
}

/** Read the word at `addr` of stopped tracee `tid`. Throws SysError (ESRCH, EIO, EFAULT). */
export function peekData(tid: number, addr: number): bigint {
  koffi.errno(0);
  const r = BigInt.asUintN(64, BigInt(raw()(PTRACE.PEEKDATA, tid, addr, 0n)));
  const e = koffi.errno();
  if (r === 0xffffffffffffffffn && e !== 0) throw new SysError('ptrace PEEKDATA', e, `tid ${tid}`);
  return r;
}

/** Write the word at `addr` of stopped tracee `tid` (works on read-only text pages). */
export function pokeData(tid: number, addr: number, word: bigint): void {
  const r = Number(raw()(PTRACE.POKEDATA, tid, addr, BigInt.asUintN(64, word)));
  if (r < 0) throw new SysError('ptrace POKEDATA', koffi.errno(), `tid ${tid}`);
}
