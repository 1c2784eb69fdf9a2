/**
 * The memory-change tracker interface: what the dump layer calls to learn which pages of the target were
 * written since the previous pre-dump iteration. One file per variant: uffd-wp.ts (async userfaultfd
 * write-protect + PAGEMAP_SCAN, no stop after setup), soft-dirty.ts (clear_refs + soft-dirty bits, needs
 * CONFIG_MEM_SOFT_DIRTY and a frozen target), none.ts (every present page, every time).
 *
 * How the dump layer uses a tracker (the order matters for correctness):
 * ```
 *  t = chooseTracker('auto', pid).tracker
 *  t.start(ranges)            the ranges to track (writable private VMAs, see trackable.ts)
 *  read every present page    base dump: AFTER start() returned, so a write that lands after the page
 *                             was read is reported by the next collect()
 *  loop (next iteration):
 *    diff /proc/PID/maps      new ranges -> t.add(new); read every present page of them (as after start)
 *    t.collect(cb)            written ranges since the previous collect (re-armed in the same walk)
 *    read the reported pages  AFTER collect() returned; present=false means "now reads as zeroes"
 *  t.close()                  (or save() for a later run: see uffd-wp.ts and README.md)
 *  t.release(frozen?)         the chain's end or a failure: nothing of ours left in the target
 * ```
 * Everything tracker-specific stays behind this interface: the dump layer never tests for a concrete
 * tracker class (untrackedRanges, knownRanges, setupStoppedMicros, endInTarget, save and release say what
 * it needs to know or do).
 * A page may be reported more than once over the iterations (it was written again); a page that was
 * written is never missed: zero false negatives is the contract, false positives are allowed.
 *
 * @example
 * using t = chooseTracker('auto', pid).tracker;
 * t.start(trackableRanges(readMaps(pid)));
 * const { pages } = t.collect((start, end, present) => plan.push({ start, end, present }));
 */
import type { FrozenProcess } from '../../ptrace/index.js';

/** A half-open page-aligned address range [start, end). */
export interface AddressRange {
  readonly start: number;
  readonly end: number;
}

export type TrackerKind = 'uffd-wp' | 'soft-dirty' | 'none';

/** Options of DirtyTracker.collect(). */
export interface CollectOptions {
  /** The last collect of the chain: report, do not re-arm. */
  readonly last?: boolean;
}

export interface CollectResult {
  /** Pages reported by this collect. */
  readonly pages: number;
  /** Time spent scanning (and re-arming), in microseconds. */
  readonly scanMicros: number;
}

/** Called for each written range; `present` is false when the pages are gone (e.g. MADV_DONTNEED). */
export type WrittenRangeCallback = (start: number, end: number, present: boolean) => void;

export interface DirtyTracker extends Disposable {
  readonly kind: TrackerKind;
  /**
   * Start tracking these ranges. Called once, with the target frozen if `needsFreeze`; after it returns,
   * every write to a tracked page is reported by the next collect().
   */
  start(ranges: readonly AddressRange[]): void;
  /**
   * New VMAs found later (maps diff): register without stopping the target. As after start(), the caller
   * reads their present pages in full; later writes are reported by collect().
   */
  add(ranges: readonly AddressRange[]): void;
  /**
   * Report ranges written since start()/the previous collect(), and re-arm (without stopping the target
   * for uffd-wp). `present` tells whether the written page is still present (MADV_DONTNEED -> written but
   * not present: the page now reads as zero). `last`: the chain ends with this collect, nothing is
   * re-armed (no write-protection put back, no soft-dirty bits cleared: the window's cheapest walk).
   */
  collect(onRange: WrittenRangeCallback, o?: CollectOptions): CollectResult;
  /** True if start() and collect() must be called with the target frozen. */
  readonly needsFreeze: boolean;
  /** The ranges currently tracked. */
  ranges(): readonly AddressRange[];
  /** Ranges the kernel refused to track: every collect() reports all their present pages. */
  untrackedRanges(): readonly AddressRange[];
  /**
   * Why ranges are untracked (the first refusal, e.g. "EBUSY: ..."), or undefined when none is.
   */
  readonly untrackedReason: string | undefined;
  /**
   * The tracked ranges whose history the tracker knows right now: ranges() minus the parts that stopped
   * being tracked behind its back (uffd-wp: VMAs unmapped and mapped again, not registered any more). Call
   * it before collect() (collect() adopts such parts again, reporting them in full).
   */
  knownRanges(): readonly AddressRange[];
  /** µs the target was stopped by start() itself (0 when the caller froze it, or no stop). */
  readonly setupStoppedMicros: number;
  /**
   * The target is frozen (`frozen`) and this is the chain's last collect: end what tracking keeps in the
   * target now (uffd-wp: close its userfaultfd by injection), so that what ending it changes in the
   * target is reported by the collect() that follows. Our side keeps collecting until release().
   */
  endInTarget(frozen: FrozenProcess): void;
  /** A JSON-able state for a later run (see uffd-wp-state.ts), or undefined if this kind does not carry over. */
  save(): unknown;
  /**
   * End tracking for good (the chain's end, or a failure): leave nothing of ours in the target (through
   * `frozen` when the caller froze it) and give back what tracking cost it (uffd-wp: huge pages split by
   * write-protection are collapsed again), then close our side. Safe to call twice.
   */
  release(frozen?: FrozenProcess): void;
  /** Release our side only (a persisting tracker stays in the target for a later run). Safe to call twice. */
  close(): void;
}
