/**
 * What the PAGEMAP_SCAN trackers (none, soft-dirty) share: the tracked ranges and the target's pagemap
 * scanner, owned here. A subclass opens the scanner in start() and scans the ranges in collect() with its
 * own category mask.
 *
 * @example
 * class PresentTracker extends PagemapTracker {
 *   readonly kind = 'none' as const;
 *   readonly needsFreeze = false;
 *   start(ranges: readonly AddressRange[]) { this.scanner = PagemapScanner.open(this.pid); this.add(ranges); }
 *   collect(cb: WrittenRangeCallback) {
 *     const mask = { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT };
 *     return { pages: this.scanRanges(mask, (s, e) => cb(s, e, true)), scanMicros: 0 };
 *   }
 * }
 */
import type { FrozenProcess } from '../../ptrace/index.js';
import type { PagemapScanner, RegionCallback, ScanOptions } from '../../sys/index.js';
import { MemError } from '../errors.js';
import { normalizeRanges } from './range-list.js';
import type {
  AddressRange,
  CollectOptions,
  CollectResult,
  DirtyTracker,
  TrackerKind,
  WrittenRangeCallback,
} from './tracker.js';

export abstract class PagemapTracker implements DirtyTracker {
  abstract readonly kind: TrackerKind;
  abstract readonly needsFreeze: boolean;
  protected scanner: PagemapScanner | undefined;
  protected list: AddressRange[] = [];

  constructor(readonly pid: number) {}

  abstract start(ranges: readonly AddressRange[]): void;

  abstract collect(onRange: WrittenRangeCallback, o?: CollectOptions): CollectResult;

  add(ranges: readonly AddressRange[]): void {
    this.list = normalizeRanges([...this.list, ...ranges]);
  }

  /** Scan every tracked range with `mask`; returns the pages reported. Throws EIO if not started or closed. */
  protected scanRanges(mask: ScanOptions, onRegion: RegionCallback): number {
    if (!this.scanner) throw new MemError('EIO', 'tracker not started or closed');
    let pages = 0;
    for (const r of this.list) pages += this.scanner.scan(r.start, r.end, mask, onRegion);
    return pages;
  }

  ranges(): readonly AddressRange[] {
    return this.list.map((r) => ({ ...r }));
  }

  /** Every range is tracked: none is refused. */
  untrackedRanges(): readonly AddressRange[] {
    return [];
  }

  readonly untrackedReason = undefined;

  knownRanges(): readonly AddressRange[] {
    return this.ranges();
  }

  /** start() stops nothing itself (soft-dirty's caller freezes). */
  readonly setupStoppedMicros = 0;

  /** Nothing of ours is in the target. */
  endInTarget(_frozen: FrozenProcess): void {}

  /** Nothing carries over between runs. */
  save(): undefined {
    return undefined;
  }

  release(_frozen?: FrozenProcess): void {
    this.close();
  }

  close(): void {
    this.scanner?.close();
    this.scanner = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
