/**
 * The memory a pre-built process holds (prebuilt-process.ts): its address ranges, sorted and disjoint,
 * and the writer through which a migration's page-server session puts received pages straight into it
 * (xfer/held-pages.ts), instead of a pages file that the pre-build would read back.
 *
 * ```
 * session: span(vaddr, end) -> held? write(vaddr, bytes): copied into one 4 MiB buffer, its remote iovec
 *          merged with the previous one when they touch -> process_vm_writev when the buffer or the
 *          iovecs are full, and at flush() (the session's CLOSE)
 * ```
 * One buffer for the process's life: memory touched for the first time is slow on this kind of VM (the
 * host backs each page on first touch), a buffer reused is not.
 *
 * @example
 * const held = new HeldMemory(pid, [{ start: 0x7f0000000000, end: 0x7f0040000000 }]);
 * session = new PageServerSession({ dir, held }, reply);
 */
import type { AddressRange } from '../mem/index.js';
import { AlignedBuffer, IOV_MAX, IovecArray, PAGE_SIZE, processVmWritev } from '../sys/index.js';
import type { HeldPages } from '../xfer/index.js';
import { RestoreError } from './errors.js';

const BUFFER = 4 << 20;

export class HeldMemory implements HeldPages {
  private starts: number[] = [];
  private ends: number[] = [];
  private buf: AlignedBuffer | undefined;
  private readonly local = new IovecArray(1);
  private readonly remote = new IovecArray(IOV_MAX);
  private used = 0;
  /** Pages written into the process so far. */
  pages = 0;

  constructor(
    readonly pid: number,
    ranges: readonly AddressRange[] = [],
  ) {
    this.ranges = ranges;
  }

  /** The held ranges, ascending and disjoint. */
  get ranges(): AddressRange[] {
    return this.starts.map((start, i) => ({ start, end: this.ends[i]! }));
  }

  set ranges(list: readonly AddressRange[]) {
    this.starts = list.map((r) => r.start);
    this.ends = list.map((r) => r.end);
  }

  /** Index of the first range ending after `vaddr`. */
  private after(vaddr: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= vaddr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  span(vaddr: number, end: number): { held: boolean; to: number } {
    const i = this.after(vaddr);
    if (i >= this.starts.length) return { held: false, to: end };
    const s = this.starts[i]!;
    if (s <= vaddr) return { held: true, to: Math.min(end, this.ends[i]!) };
    return { held: false, to: Math.min(end, s) };
  }

  /** Whether every byte of [start, end) is held. */
  covers(start: number, end: number): boolean {
    const i = this.after(start);
    return i < this.starts.length && this.starts[i]! <= start && this.ends[i]! >= end;
  }

  write(vaddr: number, bytes: Uint8Array): void {
    this.buf ??= new AlignedBuffer(BUFFER);
    let at = 0;
    while (at < bytes.length) {
      if (this.used === BUFFER || this.remote.full) this.flush();
      const n = Math.min(bytes.length - at, BUFFER - this.used);
      this.buf.bytes.set(bytes.subarray(at, at + n), this.used);
      this.remote.pushMerged(vaddr + at, n); // the same run continued: one iovec
      this.used += n;
      at += n;
    }
  }

  flush(): void {
    if (this.used === 0) return;
    this.local.clear();
    this.local.push(this.buf!.address, this.used);
    let n: number;
    try {
      n = processVmWritev(this.pid, this.local, this.remote);
    } catch (e) {
      throw new RestoreError(
        'EIO',
        `the pre-built process ${this.pid} could not take the pages it holds: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (n !== this.used)
      throw new RestoreError('EIO', `process_vm_writev into process ${this.pid}: ${n} of ${this.used} bytes`);
    this.pages += this.used / PAGE_SIZE;
    this.used = 0;
    this.remote.clear();
  }
}
