/**
 * Page-aligned buffers. A destination that is not aligned makes process_vm_readv about 40% slower, and
 * first-touching fresh memory costs page faults, so a buffer is allocated once, aligned, touched once and
 * reused for the whole run.
 *
 * @example
 * const buf = new AlignedBuffer(4 << 20);
 * processVmReadv(pid, buf.bytes, ...);
 */
import { PAGE_SIZE } from './constants.js';
import { libc } from './libc.js';

export class AlignedBuffer {
  /** The aligned view: `bytes.length` is the requested size, its address a multiple of the alignment. */
  readonly bytes: Buffer;
  /** Address of `bytes[0]` in this process. */
  readonly address: number;

  /**
   * `touch` (default true): write every page now, so that later use takes no page fault (for memory a
   * frozen window will use). false: the kernel faults pages in on first use (one zeroing instead of two:
   * for memory used while nothing is frozen).
   */
  constructor(size: number, align = PAGE_SIZE, touch = true) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`bad buffer size ${size}`);
    const raw = Buffer.allocUnsafeSlow(size + align);
    const base = libc().address(raw);
    const off = (align - (base % align)) % align;
    this.bytes = raw.subarray(off, off + size);
    this.address = base + off;
    if (touch) this.bytes.fill(0); // touch every page once, now, not in the hot loop
  }

  get size(): number {
    return this.bytes.length;
  }
}
