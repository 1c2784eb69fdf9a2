/**
 * The frozen window's CPU priority: while the target is stopped, every millisecond ckpt waits for a CPU is
 * a millisecond of the target's downtime. On a busy host (other jobs on the cores) the window's few ms of
 * work stretched to hundreds; so the thread that runs the window (this one) gets nice WINDOW_NICE for its
 * length, and its priority back at the thaw (mem/raiseThread: the same raise the window's injected
 * syscalls give the target's thread). Where raising is not permitted (no CAP_SYS_NICE) it is left as it is.
 *
 * ```
 * collectBeforeWindow()       before freezeTree   a full GC now: the allocations of prepare() (the held
 *                                                 copy's chunks: external memory V8 answers with a
 *                                                 mark-compact soon after) are not paid in the window
 * raise = raiseForWindow()    before freezeTree   nice 0 -> -10 (this thread: Linux's setpriority(0))
 * ... frozen window ...
 * raise.restore()             at the thaw          back to 0
 * ```
 *
 * @example
 * const prio = raiseForWindow();
 * try { using tree = freezeTree(pid); await p.capture(tree); } finally { prio.restore(); }
 */
import { BACKGROUND_NICE, lowerThread, raiseThread, type ThreadPriority, WINDOW_NICE } from '../mem/index.js';
import { collectGarbage } from './collect-garbage.js';

export { BACKGROUND_NICE, WINDOW_NICE };

/** What raiseForWindow did; restore() is safe twice. */
export type WindowPriority = ThreadPriority;

/**
 * Lower this thread's priority for a migration's iterations (nice BACKGROUND_NICE): the target runs on
 * meanwhile and its threads come first; raiseForWindow() still raises the window, whose restore() comes
 * back to this.
 *
 * @example
 * const bg = lowerForIterations(); try { ...iterations, then the final dump... } finally { bg.restore(); }
 */
export function lowerForIterations(): WindowPriority {
  return lowerThread(0, BACKGROUND_NICE);
}

/** Raise this thread's priority for a frozen window (see the module comment). */
export function raiseForWindow(): WindowPriority {
  return raiseThread(0, WINDOW_NICE);
}

/**
 * A garbage collection now, before a freeze (see the module comment): a full one by default, a scavenge
 * of the young generation with `minor` (FreezeWindowOptions.gc).
 *
 * @example
 * collectBeforeWindow(); using tree = freezeTree(pid);
 */
export function collectBeforeWindow(kind: 'full' | 'minor' = 'full'): void {
  collectGarbage(kind);
}
