/**
 * chooseTracker: pick the best tracker this kernel supports, and say which and why.
 * Order for 'auto': uffd-wp (async userfaultfd WP + PAGEMAP_SCAN, Linux 6.7+), then soft-dirty
 * (CONFIG_MEM_SOFT_DIRTY), then none (full dumps). Asking for a specific kind that is not available
 * throws KernelUnsupportedError with the reason.
 *
 * @example
 * const { tracker, reason } = chooseTracker('auto', pid);
 * console.log(`tracking with ${tracker.kind}: ${reason}`);
 */
import { KernelUnsupportedError, PagemapScanner } from '../../sys/index.js';
import { NoneTracker } from './none.js';
import { SoftDirtyTracker, softDirtyUnsupportedReason } from './soft-dirty.js';
import type { DirtyTracker, TrackerKind } from './tracker.js';
import { type UffdWpOptions, UffdWpTracker } from './uffd-wp.js';
import { uffdWpUnsupportedReason } from './userfaultfd.js';

export type TrackerChoice = TrackerKind | 'auto';

function uffdReason(): string | null {
  try {
    if (!PagemapScanner.supported()) return 'no PAGEMAP_SCAN (Linux 6.7+)';
  } catch (e) {
    return (e as Error).message;
  }
  return uffdWpUnsupportedReason();
}

/** Build a tracker for `pid` (not started). `options` apply to uffd-wp. */
export function chooseTracker(
  choice: TrackerChoice,
  pid: number,
  options: UffdWpOptions = {},
): { tracker: DirtyTracker; reason: string } {
  if (choice === 'none') return { tracker: new NoneTracker(pid), reason: 'asked for none' };
  if (choice === 'uffd-wp' || choice === 'auto') {
    const why = uffdReason();
    if (!why) return { tracker: new UffdWpTracker(pid, options), reason: 'async userfaultfd write-protect' };
    if (choice === 'uffd-wp') throw new KernelUnsupportedError(`uffd-wp tracking: ${why}`);
    const sd = softDirtyUnsupportedReason();
    if (!sd) return { tracker: new SoftDirtyTracker(pid), reason: `soft-dirty bits (uffd-wp: ${why})` };
    return {
      tracker: new NoneTracker(pid),
      reason: `no tracking available (uffd-wp: ${why}; soft-dirty: ${sd})`,
    };
  }
  return { tracker: new SoftDirtyTracker(pid), reason: 'soft-dirty bits' };
}

/**
 * Take tracking over from a previous run's saved state (TrackStateFile.tasks[pid]) of a tracker of `kind`.
 * Returns the tracker and how it tracks, or null with the reason it cannot be resumed (then a new tracker
 * starts and the process is dumped in full).
 */
export function resumeTracker(
  kind: TrackerKind,
  state: unknown,
): { tracker: DirtyTracker; reason: string } | { tracker: null; reason: string } {
  if (kind !== 'uffd-wp') {
    return { tracker: null, reason: `${kind} tracking does not carry over between runs` };
  }
  const r = UffdWpTracker.resume(state);
  return r.tracker ? { tracker: r.tracker, reason: 'async userfaultfd write-protect (resumed)' } : r;
}
