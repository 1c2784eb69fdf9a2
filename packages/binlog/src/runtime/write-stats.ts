/**
 * What a logger reports about its output: counters (`stats()`) and write errors (`'error'` listeners).
 *
 * Every record that does not reach the destination is counted in exactly one place:
 * - `dropped`: refused at the call (the 'drop' policy while a pipe cannot take more, a call after close);
 * - `lost`: in a write the kernel refused (ENOSPC, EBADF, EPIPE, EIO...), counted by reading the records
 *   of the frames that did not reach the file.
 * Both totals also travel in the head of every later frame, so `binlog stats` and `binlog decode` report
 * them from the file when the destination recovers.
 *
 * A write error is emitted as pino's destinations emit theirs, as an `'error'` event (on the next tick,
 * never thrown from a log call). Without a listener, binlog prints one warning per error code instead.
 *
 * @example
 * log.on('error', (e) => console.error('log write failed:', e.code));
 * log.stats(); // { bytes: 123456, writes: 3, dropped: 0, lost: 0, writeErrors: 0, ... }
 */

export interface LoggerStats {
  /** Bytes the kernel accepted. */
  readonly bytes: number;
  /** Buffers handed to the kernel whole. */
  readonly writes: number;
  /** Records refused at the call (overload policy 'drop', calls after close). */
  readonly dropped: number;
  /** Records in writes that failed (disk full, closed fd, broken pipe...). */
  readonly lost: number;
  /** Failed writes (and failed reopens). */
  readonly writeErrors: number;
  /** The last write error's code (ENOSPC, EPIPE...), or null. */
  readonly lastError: string | null;
  /** Times the path was opened again (moved, deleted or rotated away, reopen()). */
  readonly reopens: number;
  /** Times the logger rotated its file. */
  readonly rotations: number;
  /** Log calls that failed inside binlog (a bug; never thrown). */
  readonly internalErrors: number;
}

export type ErrorListener = (err: NodeJS.ErrnoException) => void;

/** The 'error' listeners of one logger (shared by its children). */
export class ErrorChannel {
  private readonly listeners = new Set<ErrorListener>();
  private readonly warned = new Set<string>();

  on(fn: ErrorListener): void {
    this.listeners.add(fn);
  }

  off(fn: ErrorListener): void {
    this.listeners.delete(fn);
  }

  /**
   * Deliver `err` on the next tick, to the listeners there are then (a listener added right after
   * createLogger still hears an error of the logger's first write); without listeners, warn once per code.
   */
  report(err: NodeJS.ErrnoException): void {
    process.nextTick(() => this.deliver(err));
  }

  private deliver(err: NodeJS.ErrnoException): void {
    if (this.listeners.size === 0) {
      const code = err.code ?? err.name;
      if (this.warned.has(code)) return;
      this.warned.add(code);
      process.emitWarning(`binlog: write failed (${code}): ${err.message}; see logger.stats().lost`);
      return;
    }
    for (const fn of this.listeners) fn(err);
  }
}
