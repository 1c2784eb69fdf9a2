/**
 * The "none" tracker: no change tracking. Every collect() reports every present page of the tracked
 * ranges (PAGEMAP_SCAN with PAGE_IS_PRESENT), so each pre-dump iteration is a full dump. Always available.
 *
 * @example
 * using t = new NoneTracker(pid);
 * t.start(ranges);
 * t.collect((start, end) => toRead.push([start, end]));
 */
import { PAGE_IS, PagemapScanner } from '../../sys/index.js';
import { MemError } from '../errors.js';
import { normalizeRanges } from './range-list.js';
import type { AddressRange, CollectResult, DirtyTracker, WrittenRangeCallback } from './tracker.js';

export class NoneTracker implements DirtyTracker {
  readonly kind = 'none' as const;
  readonly needsFreeze = false;
  private scanner: PagemapScanner | undefined;
  private list: AddressRange[] = [];

  constructor(readonly pid: number) {}

  start(ranges: readonly AddressRange[]): void {
    try {
      this.scanner = PagemapScanner.open(this.pid);
    } catch (e) {
      throw new MemError('ESRCH', `cannot open the pagemap of ${this.pid}`, { cause: e });
    }
    this.add(ranges);
  }

  add(ranges: readonly AddressRange[]): void {
    this.list = normalizeRanges([...this.list, ...ranges]);
  }

  collect(onRange: WrittenRangeCallback): CollectResult {
    if (!this.scanner) throw new MemError('EIO', 'tracker not started or closed');
    const t0 = performance.now();
    let pages = 0;
    const cb = (s: number, e: number) => onRange(s, e, true);
    for (const r of this.list) {
      pages += this.scanner.scan(
        r.start,
        r.end,
        { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT },
        cb,
      );
    }
    return { pages, scanMicros: Math.round((performance.now() - t0) * 1000) };
  }

  ranges(): readonly AddressRange[] {
    return this.list.map((r) => ({ ...r }));
  }

  close(): void {
    this.scanner?.close();
    this.scanner = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
