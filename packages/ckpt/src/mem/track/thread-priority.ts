/**
 * A frozen target's thread raised for an injected syscall inside the frozen window: the syscall runs in
 * the target's thread, so on a busy host the window waits for that thread to get a CPU.
 *
 * ```
 * const p = raiseThread(tid);   nice 0 -> WINDOW_NICE (setpriority on the thread id; 0: this thread)
 * ... inject ...
 * p.restore();                   its own nice value back
 * ```
 *
 * @example
 * const p = raiseThread(pid);
 * try { using inj = Injector.infect(frozen); inj.call('close', SYS.close, fd); } finally { p.restore(); }
 */
import { getPriority, setPriority } from 'node:os';

/** The nice value of a frozen window's work: ours (dump/window-priority.ts) and the injected syscalls'. */
export const WINDOW_NICE = -10;

/** What raiseThread did; restore() is safe twice. */
export interface ThreadPriority {
  /** Whether the priority was raised. */
  readonly raised: boolean;
  restore(): void;
}

/**
 * Raise thread `tid` (0: this thread) to `nice` (default WINDOW_NICE) unless it runs at that or higher;
 * restore() gives its own nice value back. Not permitted (no CAP_SYS_NICE) or gone: left as it is. The
 * injected close of the window runs in the target's thread: on a busy host it waited for a CPU (up to
 * ~40 ms at load 8 on 2 cores, inside the frozen window) at nice 0 behind every other job.
 */
export function raiseThread(tid: number, nice = WINDOW_NICE): ThreadPriority {
  return moveThread(tid, nice, (before) => before > nice, true);
}

/**
 * Set thread `tid`'s nice value to `nice` where `wanted(before)`; restore() sets `before` again (quiet
 * where not permitted or the thread is gone). Not permitted now, or gone: left as it is.
 */
function moveThread(
  tid: number,
  nice: number,
  wanted: (before: number) => boolean,
  raised: boolean,
): ThreadPriority {
  let before: number;
  try {
    before = getPriority(tid);
    if (!wanted(before)) return { raised: false, restore: () => {} };
    setPriority(tid, nice);
  } catch {
    return { raised: false, restore: () => {} };
  }
  let done = false;
  return {
    raised,
    restore: () => {
      if (done) return;
      done = true;
      try {
        setPriority(tid, before);
      } catch {
        /* raising back needs CAP_SYS_NICE; the thread may be gone */
      }
    },
  };
}

/**
 * The nice value of a migration's iterations (the source's copy, the destination's pre-build): below the
 * target's, so that its threads get a CPU first where both sides share the cores with it (4 GiB, 5
 * migrations each, alternated: the target's longest gap median 98.1 ms, at most 109.3, against 108.7
 * and 154.3 at nice 0; bench/README.md, migrate).
 */
export const BACKGROUND_NICE = 5;

/**
 * Lower thread `tid` (0: this thread) to `nice` (default BACKGROUND_NICE) unless it runs at that or lower;
 * restore() gives its own nice value back where permitted (raising needs CAP_SYS_NICE: without it the
 * thread stays at `nice`). A raiseThread meanwhile restores to `nice`, not further.
 */
export function lowerThread(tid: number, nice = BACKGROUND_NICE): ThreadPriority {
  return moveThread(tid, nice, (before) => before < nice, false);
}
