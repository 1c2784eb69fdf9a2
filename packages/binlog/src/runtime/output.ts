/**
 * The output side of a writer (Core): hands whole writes of frames to the destination, checks its name
 * and the rotation limits before each, keeps what a non-blocking pipe did not take ('drop'), and counts
 * and reports what fails.
 *
 * ```
 * Core.flushBuffer ──► writePending() ──(nothing left)──► write(buf, len) ──► Destination
 *                         │ a pipe's rest of the last write           │ to a pipe: one frame per write(2)
 *                         ▼                                           ▼ an error: failed()
 *                      false: Core keeps its buffer              lost += records of the frames not written,
 *                                                                 'error' listeners (write-stats.ts)
 * ```
 *
 * @example
 * const out = new Output(Destination.open('/tmp/a.blog'), { overload: 'block', bufferSize: 65536 });
 * out.write(frames, frames.length, true);
 * out.close();
 */
import { FRAME_HEAD } from '../codec/index.js';
import type { Destination } from './destination.js';
import { countLostRecords } from './lost-records.js';
import { ErrorChannel } from './write-stats.js';

/** Size/time rotation of a path destination (checked before each write). */
export interface RotateOptions {
  /** Rotate before a write that would take the file past this many bytes (0: no size limit). */
  readonly size: number;
  /** Rotate before a write when the file was opened this long ago (0: no time limit). */
  readonly intervalMs: number;
  /** Rotated pieces to keep (0: all). */
  readonly keep: number;
}

export interface OutputOptions {
  readonly overload: 'block' | 'drop';
  /** The writer's buffer size ('drop' keeps a pipe's rest in a second buffer of this size). */
  readonly bufferSize: number;
  readonly rotate?: RotateOptions | undefined;
}

export class Output {
  /** 'drop': bytes of a write a pipe did not take yet (written before anything else). */
  private readonly pending: Buffer | null;
  private pendingStart = 0;
  private pendingEnd = 0;
  /** Bytes the kernel accepted. */
  bytes = 0;
  /** Writes handed to the kernel whole. */
  writes = 0;
  /** Failed writes and reopens. */
  writeErrors = 0;
  lastError: string | null = null;
  /** Records in writes that failed. */
  lost = 0;
  /** Failed counts of lost records (a bug). */
  internalErrors = 0;
  /** The logger's 'error' listeners. */
  readonly errors = new ErrorChannel();

  constructor(
    readonly dest: Destination,
    private readonly opts: OutputOptions,
  ) {
    this.pending = opts.overload === 'drop' ? Buffer.allocUnsafe(opts.bufferSize) : null;
  }

  /** Write what a pipe did not take last time; true when nothing is left. */
  writePending(block: boolean): boolean {
    const pb = this.pending;
    if (pb === null || this.pendingStart === this.pendingEnd) return true;
    try {
      this.pendingStart += this.dest.write(pb, this.pendingStart, this.pendingEnd - this.pendingStart, block);
    } catch (e) {
      this.failed(e, pb, 0, this.pendingEnd, this.pendingStart);
      this.pendingStart = this.pendingEnd;
    }
    return this.pendingStart === this.pendingEnd;
  }

  /**
   * Hand `buf[0..len)` (whole frames) to the destination: check its name and rotation first; to a pipe,
   * one frame per write. Errors count the records of the frames not written.
   */
  write(buf: Buffer, len: number, block: boolean): void {
    const d = this.dest;
    let done = 0;
    try {
      d.checkName();
      const r = this.opts.rotate;
      if (
        r !== undefined &&
        d.size > 0 &&
        ((r.size > 0 && d.size + len > r.size) ||
          (r.intervalMs > 0 && Date.now() - d.openedAt >= r.intervalMs))
      ) {
        d.rotate(r.keep);
      }
      if (!d.stream) done = d.write(buf, 0, len, block);
      else {
        while (done < len) {
          const n = Math.min(len - done, FRAME_HEAD + buf.readUInt32LE(done + 4));
          const w = d.write(buf, done, n, block);
          done += w;
          if (w < n) break;
        }
      }
    } catch (e) {
      this.failed(e, buf, 0, len, done + ((e as { written?: number }).written ?? 0));
      return;
    }
    this.bytes += done;
    if (done === len) this.writes++;
    else if (this.pending !== null) {
      buf.copy(this.pending, 0, done, len);
      this.pendingStart = 0;
      this.pendingEnd = len - done;
    }
  }

  /** A write failed after `written` bytes of `buf[start..end)`: count, remember and report it. */
  private failed(e: unknown, buf: Buffer, start: number, end: number, written: number): void {
    const err = e as NodeJS.ErrnoException;
    this.bytes += written;
    this.writeErrors++;
    this.lastError = err.code ?? err.name ?? 'Error';
    try {
      this.lost += countLostRecords(buf, start, end, written);
    } catch {
      this.internalErrors++;
    }
    this.errors.report(err);
  }

  /** Open the path again (the caller flushed first); a failure is counted and reported. */
  reopen(): void {
    try {
      this.dest.reopen();
    } catch (e) {
      this.writeErrors++;
      this.lastError = (e as NodeJS.ErrnoException).code ?? 'OPEN_FAILED';
      this.errors.report(e as NodeJS.ErrnoException);
    }
  }

  /** Release the destination (a path's fd; an fd given by the caller stays open). */
  close(): void {
    this.dest.close();
  }
}
