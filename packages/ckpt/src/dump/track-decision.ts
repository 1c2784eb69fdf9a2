/**
 * The decisions of a tracking session (tracking.ts), as pure functions: full or incremental for one
 * process in one iteration, and what a dump that was planned as incremental really was. No kernel here:
 * tracking.ts gathers the facts, these functions decide, track-decision.test.ts tests them with tables.
 *
 * ```
 *  choice none ------------------------------------------------> untracked (full, no tracker)
 *  a tracker, a parent, pid reused or reuse unknown --> drop it --> (as without a tracker)
 *  no tracker, chain ends here (endTracking) ---------------------> untracked (full, nothing to set up)
 *  no tracker ----------------------------------------------------> start     (full, tracking starts)
 *  a tracker -----------------------------------------------------> incremental
 *                                    but it knows no range (all untracked) --> reported full
 * ```
 *
 * @example
 * decideTask({ choice: 'auto', tracker: false, parent: true, endTracking: false });
 * // { action: 'start', drop: false, fallback: 'no tracker for this process yet' }
 */
import type { TrackerChoice } from '../mem/index.js';

/** What the session knows about one process at planTask. */
export interface DecisionInput {
  readonly choice: TrackerChoice;
  /** The session has a tracker for it (its own, or resumed). */
  readonly tracker: boolean;
  /** Why its resumed tracker could not be taken over, if so. */
  readonly resumeProblem?: string;
  /** Why the whole session started without the parent's trackers, if so. */
  readonly sessionFallback?: string;
  /** A parent image set was given (an incremental dump was asked for). */
  readonly parent: boolean;
  /** With a tracker and a parent: is it the same process as in the parent? */
  readonly sameProcess?: 'same' | 'reused' | 'unknown';
  readonly pid?: number;
  /** This iteration ends the chain (frozen). */
  readonly endTracking: boolean;
}

export interface Decision {
  readonly action: 'untracked' | 'start' | 'incremental';
  /** Forget the session's tracker of this process first (not the same process). */
  readonly drop: boolean;
  /** Why a full dump although an incremental one was asked for (or tracking failed to start). */
  readonly fallback?: string;
}

/** Full or incremental for one process (see the module comment). */
export function decideTask(i: DecisionInput): Decision {
  if (i.choice === 'none') return { action: 'untracked', drop: false };
  let tracker = i.tracker;
  let drop = false;
  let fallback = i.resumeProblem ?? (tracker ? undefined : i.sessionFallback);
  if (tracker && i.parent && i.sameProcess !== 'same') {
    fallback =
      i.sameProcess === 'reused'
        ? `pid ${i.pid ?? '?'} was reused since the parent`
        : 'the parent has no dump_uptime (pid reuse cannot be ruled out)';
    drop = true;
    tracker = false;
  }
  if (i.parent && !tracker && !fallback) fallback = 'no tracker for this process yet';
  const base = { drop, ...(fallback ? { fallback } : {}) };
  if (!tracker) return { action: i.endTracking ? 'untracked' : 'start', ...base };
  return { action: 'incremental', ...base };
}

/** What the tracker of one process covers, right before collect(). */
export interface Coverage {
  /** Ranges whose history it knows (known, may be empty). */
  readonly known: number;
  /** Ranges it could not track (reported in full every time). */
  readonly untracked: number;
  readonly untrackedReason?: string;
}

/**
 * What an incremental plan really is: with no known range at all, every present page is data, whatever
 * the tracker: a full copy, reported as such with the reason (never "incremental" with no fallback).
 */
export function effectiveMode(c: Coverage): { mode: 'full' | 'incremental'; fallback?: string } {
  if (c.known > 0) return { mode: 'incremental' };
  if (c.untracked === 0) return { mode: 'full', fallback: 'nothing tracked (no trackable memory)' };
  return { mode: 'full', fallback: `no range could be tracked: ${c.untrackedReason ?? 'refused'}` };
}

/**
 * Why a tracker that just started tracks nothing (for the first dump's warning), or undefined when it
 * tracks something or had nothing to track.
 */
export function startProblem(c: Coverage): string | undefined {
  if (c.known > 0 || c.untracked === 0) return undefined;
  return `tracking could not start, later dumps will be full: ${c.untrackedReason ?? 'refused'}`;
}
