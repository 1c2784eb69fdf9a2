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
import { PagemapTracker } from './pagemap-tracker.js';
import type { AddressRange, CollectResult, WrittenRangeCallback } from './tracker.js';

export class NoneTracker extends PagemapTracker {
  readonly kind = 'none' as const;
  readonly needsFreeze = false;

  start(ranges: readonly AddressRange[]): void {
    try {
      this.scanner = PagemapScanner.open(this.pid);
    } catch (e) {
      throw new MemError('ESRCH', `cannot open the pagemap of ${this.pid}`, { cause: e });
    }
    this.add(ranges);
  }

  collect(onRange: WrittenRangeCallback): CollectResult {
    const t0 = performance.now();
    const mask = { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT };
    const pages = this.scanRanges(mask, (s, e) => onRange(s, e, true));
    return { pages, scanMicros: Math.round((performance.now() - t0) * 1000) };
  }
}
