/**
 * The process-wide registry of live tracees: the guarantee that nothing we froze or patched outlives us.
 *
 * While at least one tracee is registered, handlers are installed (once) for:
 * - `SIGINT`, `SIGTERM`, `SIGHUP`: every tracee is cured and detached synchronously. If our handler was the
 *   only listener of that signal, it then removes itself and re-raises the signal, so the process ends
 *   as it would have without us (killed by the signal: status 128+n in a shell). If the program has its own
 *   listeners, they run as usual and decide whether to exit: we only cure and detach, and never exit for
 *   them (a program that ignores SIGINT keeps running, with nothing frozen any more).
 * - `uncaughtExceptionMonitor`: cure and detach before Node prints the error and exits with status 1
 *   (it does not change Node's handling of the exception). A program with its own `uncaughtException`
 *   handler survives the exception, but finds everything thawed (later injections throw ESTATE).
 *   Unhandled rejections take the same path (Node's default `--unhandled-rejections=throw`).
 * - `exit`: cure and detach (covers `process.exit()` and the normal end of the program).
 * When the registry becomes empty, the handlers are removed again, so a program with nothing frozen keeps
 * Node's default signal behaviour.
 *
 * Cleanups (addCleanup) run on the same ways out, after the tracees are thawed.
 *
 * SIGKILL of this process cannot be caught: the kernel then detaches the tracees itself and each thread
 * runs on from its stop; the injector keeps every stop a state the thread survives alone (injector.ts).
 *
 * @example
 * registerTracee(frozen);    // done by freeze()
 * unregisterTracee(frozen);  // done by thaw()
 */

/** Something that must be cured and detached before the process ends. `thaw()` must be synchronous. */
export interface Tracee {
  readonly pid: number;
  thaw(): void;
}

const live = new Set<Tracee>();
/** Other things to undo on the same ways out (addCleanup), run after every tracee is thawed. */
const cleanups = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/** Thaw everything still registered; errors are written to stderr, never thrown (we are on a way out). */
export function thawAll(): void {
  for (const t of [...live]) {
    try {
      t.thaw();
    } catch (e) {
      process.stderr.write(`ckpt: could not detach from ${t.pid}: ${(e as Error).message}\n`);
    }
    live.delete(t);
  }
  for (const f of [...cleanups]) {
    cleanups.delete(f);
    try {
      f();
    } catch (e) {
      process.stderr.write(`ckpt: cleanup failed: ${(e as Error).message}\n`);
    }
  }
  uninstall();
}

function onSignal(sig: NodeJS.Signals): void {
  thawAll();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function onException(): void {
  thawAll();
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('uncaughtExceptionMonitor', onException);
  process.on('exit', thawAll);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('uncaughtExceptionMonitor', onException);
  process.removeListener('exit', thawAll);
}

/** Register a live tracee (installs the handlers on first use). */
export function registerTracee(t: Tracee): void {
  live.add(t);
  install();
}

/** Forget a tracee that was thawed (removes the handlers when none is left). */
export function unregisterTracee(t: Tracee): void {
  live.delete(t);
  if (live.size === 0 && cleanups.size === 0) uninstall();
}

/**
 * Run `f` (synchronous, may freeze and thaw) on the ways out above, even with nothing frozen; the
 * returned function forgets it. E.g. tracking that must not outlive an interrupted run.
 */
export function addCleanup(f: () => void): () => void {
  cleanups.add(f);
  install();
  return () => {
    cleanups.delete(f);
    if (live.size === 0 && cleanups.size === 0) uninstall();
  };
}

/** The pids currently frozen by this process. */
export function livePids(): number[] {
  return [...live].map((t) => t.pid);
}
