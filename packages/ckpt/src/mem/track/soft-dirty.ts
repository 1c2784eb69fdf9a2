/**
 * The soft-dirty tracker (CRIU's classic method): writing "4" to /proc/PID/clear_refs clears the
 * soft-dirty bit of every page; a write sets it again; PAGEMAP_SCAN with PAGE_IS_SOFT_DIRTY finds them.
 * Needs CONFIG_MEM_SOFT_DIRTY (not on this machine: the constructor throws KernelUnsupportedError).
 *
 * Scan-then-clear is not atomic: a write between the scan and the clear would be lost, so start() and
 * collect() must run with the target frozen (`needsFreeze`). A page dropped with MADV_DONTNEED has no PTE
 * left to carry the bit, so it is not reported (CRIU has the same blind spot); uffd-wp reports it.
 *
 * @example
 * using frozen = freeze(pid);
 * const t = new SoftDirtyTracker(pid);
 * t.start(ranges);
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import {
  AlignedBuffer,
  KernelUnsupportedError,
  PAGE_IS,
  PAGE_SIZE,
  PagemapScanner,
} from '../../sys/index.js';
import { MemError } from '../errors.js';
import { PagemapTracker } from './pagemap-tracker.js';
import { normalizeRanges } from './range-list.js';
import type { AddressRange, CollectOptions, CollectResult, WrittenRangeCallback } from './tracker.js';

/**
 * Whether soft-dirty bits work here: a page we just wrote must show PAGE_IS_SOFT_DIRTY in our own pagemap
 * (fresh pages are always soft-dirty when the kernel has the feature). Returns null if so, else the reason.
 */
export function softDirtyUnsupportedReason(): string | null {
  const b = new AlignedBuffer(PAGE_SIZE);
  b.bytes[0] = 1;
  let s: PagemapScanner | undefined;
  try {
    s = PagemapScanner.open(process.pid, 1);
    const mask = { categoryMask: PAGE_IS.SOFT_DIRTY, returnMask: PAGE_IS.SOFT_DIRTY };
    const n = s.scan(b.address, b.address + PAGE_SIZE, mask, () => {});
    return n > 0 ? null : 'the kernel has no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY is not set)';
  } catch (e) {
    return (e as Error).message;
  } finally {
    s?.close();
  }
}

/** add() (from PagemapTracker): new ranges' pages are soft-dirty already (VM_SOFTDIRTY), so the caller reads them in full. */
export class SoftDirtyTracker extends PagemapTracker {
  readonly kind = 'soft-dirty' as const;
  readonly needsFreeze = true;

  /** Throws KernelUnsupportedError where soft-dirty bits do not exist. */
  constructor(pid: number) {
    super(pid);
    const why = softDirtyUnsupportedReason();
    if (why) throw new KernelUnsupportedError(why);
  }

  private clearRefs(): void {
    try {
      const fd = openSync(`/proc/${this.pid}/clear_refs`, 'w');
      try {
        writeSync(fd, '4');
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new MemError('ESRCH', `cannot clear the soft-dirty bits of ${this.pid}`, { cause: e });
    }
  }

  start(ranges: readonly AddressRange[]): void {
    this.scanner = PagemapScanner.open(this.pid);
    this.list = normalizeRanges(ranges);
    this.clearRefs();
  }

  collect(onRange: WrittenRangeCallback, o: CollectOptions = {}): CollectResult {
    const t0 = performance.now();
    const mask = { categoryMask: PAGE_IS.SOFT_DIRTY, returnMask: PAGE_IS.SOFT_DIRTY | PAGE_IS.PRESENT };
    const cb = (s: number, e: number, c: number) => onRange(s, e, (c & PAGE_IS.PRESENT) !== 0);
    const pages = this.scanRanges(mask, cb);
    if (!o.last) this.clearRefs();
    return { pages, scanMicros: Math.round((performance.now() - t0) * 1000) };
  }
}
