/**
 * Flush every open logger of this thread when the thread ends:
 * - `exit` (process.exit(), the end of the event loop, an uncaught exception or an unhandled rejection:
 *   Node emits `exit` in each case; `uncaughtExceptionMonitor` flushes even earlier);
 * - SIGINT, SIGTERM and SIGHUP (main thread only; Node does not deliver signals to workers): binlog flushes,
 *   then, if no other listener for that signal exists, removes its own and re-raises the signal so the
 *   default action (termination by that signal) happens. If the program installed its own handler,
 *   binlog only flushes and leaves the rest to that handler. (SIGHUP's default action also ends the
 *   process; a program that wants logrotate's SIGHUP to reopen installs its own handler calling
 *   `log.reopen()`, and binlog then only flushes.)
 *
 * @example
 * track({ flushSync() {} }); // flushed at exit until untrack()ed
 */
import { isMainThread } from 'node:worker_threads';

export interface Flushable {
  flushSync(): void;
}

const open = new Set<Flushable>();
let installed = false;

function flushAll(): void {
  for (const f of open) {
    try {
      f.flushSync();
    } catch {
      // nothing more can be done while the process ends
    }
  }
}

type Sig = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

function onSignal(sig: Sig): void {
  flushAll();
  if (process.listenerCount(sig) === 1) {
    process.removeListener(sig, handlers[sig]);
    process.kill(process.pid, sig);
  }
}

const handlers: Record<Sig, () => void> = {
  SIGINT: () => onSignal('SIGINT'),
  SIGTERM: () => onSignal('SIGTERM'),
  SIGHUP: () => onSignal('SIGHUP'),
};

/** Flush `f` when the thread ends, until untrack(f). */
export function track(f: Flushable): void {
  open.add(f);
  if (installed) return;
  installed = true;
  process.on('exit', flushAll);
  process.on('uncaughtExceptionMonitor', flushAll);
  if (isMainThread) {
    process.on('SIGINT', handlers.SIGINT);
    process.on('SIGTERM', handlers.SIGTERM);
    process.on('SIGHUP', handlers.SIGHUP);
  }
}

/** Stop flushing `f` at exit. */
export function untrack(f: Flushable): void {
  open.delete(f);
}
