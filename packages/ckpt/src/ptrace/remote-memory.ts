/**
 * Reading and patching a stopped tracee's memory: through /proc/PID/mem, which writes even to read-only
 * text pages on kernels with CONFIG_PROC_MEM_ALWAYS_FORCE (this one) or, for the tracer, with
 * PROC_MEM_FORCE_PTRACE; when such a write is refused, PTRACE_POKEDATA word by word (read-modify-write for
 * partial words). Writes to file-backed text copy the page (copy-on-write) in the target only.
 *
 * @example
 * using mem = RemoteMemory.open(pid, tid);
 * const old = mem.read(rip, 8); mem.write(rip, Uint8Array.of(0x0f, 0x05, 0xcc));
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { AlignedBuffer, IovecArray, PAGE_SIZE, peekData, pokeData, processVmWritev } from '../sys/index.js';
import { PtraceError } from './errors.js';

/** How writes reach the tracee: /proc/PID/mem (falls back to POKEDATA when refused), or POKEDATA only. */
export type MemoryAccess = 'proc-mem' | 'pokedata';

export class RemoteMemory {
  private fd: number;
  /** Set once /proc/PID/mem refused a write: later writes go through PTRACE_POKEDATA. */
  private poke = false;

  private constructor(
    readonly pid: number,
    readonly tid: number,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Open /proc/PID/mem read-write. `tid` is a stopped thread of ours, used for the POKEDATA fallback;
   * `access` 'pokedata' uses PTRACE_POKEDATA for every write (as on kernels without FOLL_FORCE for us).
   */
  static open(pid: number, tid = pid, access: MemoryAccess = 'proc-mem'): RemoteMemory {
    try {
      const m = new RemoteMemory(pid, tid, openSync(`/proc/${pid}/mem`, 'r+'));
      m.poke = access === 'pokedata';
      return m;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new PtraceError('ESRCH', `process ${pid} is gone`, { cause: e });
      throw new PtraceError('EPERM', `cannot open /proc/${pid}/mem`, { cause: e });
    }
  }

  /** Read `len` bytes at `addr`. Throws PtraceError EUNEXPECTED on a short read. */
  read(addr: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    let n: number;
    try {
      n = readSync(this.fd, b, 0, len, addr);
    } catch (e) {
      throw new PtraceError('EUNEXPECTED', `cannot read ${len} bytes at 0x${addr.toString(16)}`, {
        cause: e,
      });
    }
    if (n !== len) throw new PtraceError('EUNEXPECTED', `short read at 0x${addr.toString(16)}: ${n}/${len}`);
    return b;
  }

  /** Write `bytes` at `addr`. */
  write(addr: number, bytes: Uint8Array): void {
    if (!this.poke) {
      try {
        if (writeSync(this.fd, bytes, 0, bytes.length, addr) === bytes.length) return;
      } catch {
        /* refused (no FOLL_FORCE for us): fall back to POKEDATA */
      }
      this.poke = true;
    }
    this.pokeBytes(addr, bytes);
  }

  private pokeBytes(addr: number, bytes: Uint8Array): void {
    const first = addr - (addr % 8);
    const end = addr + bytes.length;
    for (let w = first; w < end; w += 8) {
      let word = w >= addr && w + 8 <= end ? 0n : peekData(this.tid, w);
      for (let k = 0; k < 8; k++) {
        const a = w + k;
        if (a < addr || a >= end) continue;
        const shift = BigInt(k * 8);
        word = (word & ~(0xffn << shift)) | (BigInt(bytes[a - addr]!) << shift);
      }
      pokeData(this.tid, w, word);
    }
  }

  /** Close the /proc/PID/mem descriptor. Safe to call twice. */
  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

let probe: { buf: AlignedBuffer; local: IovecArray; remote: IovecArray } | undefined;

/**
 * Whether the word at `addr` in `pid` is writable by the process itself: process_vm_writev of zeros,
 * which honours the page protection (the writes of RemoteMemory, through /proc/PID/mem, do not).
 */
export function writableByTarget(pid: number, addr: number): boolean {
  probe ??= { buf: new AlignedBuffer(PAGE_SIZE), local: new IovecArray(1), remote: new IovecArray(1) };
  probe.buf.bytes.fill(0, 0, 8);
  probe.local.clear();
  probe.local.push(probe.buf.address, 8);
  probe.remote.clear();
  probe.remote.push(addr, 8);
  try {
    return processVmWritev(pid, probe.local, probe.remote) === 8;
  } catch {
    return false;
  }
}
