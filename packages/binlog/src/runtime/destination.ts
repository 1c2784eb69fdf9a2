/**
 * Where frames go: a file the logger opens (and owns), or a file descriptor the caller owns.
 *
 * - `dest: 'app.blog'` (a path): opened with 'w' (truncated), closed by close(). Writes are positional
 *   (pwrite at an offset this object tracks), which lets an asynchronous write and a later synchronous
 *   one land in order; this is what `onOverload: 'drop'` needs.
 * - `dest: 1` (an fd number): written at the fd's current position, never closed by binlog.
 *
 * @example
 * const d = Destination.open('/tmp/x.blog');
 * d.writeSync(Buffer.from('abc'), 3);
 * d.close();
 */
import * as fs from 'node:fs';
import { LoggerError } from './errors.js';

const EAGAIN_RETRIES = 1000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class Destination {
  /** File offset of the next write (positional destinations only). */
  offset = 0;
  private closed = false;

  private constructor(
    readonly fd: number,
    /** True when binlog opened the file (so it closes it and writes positionally). */
    readonly owned: boolean,
  ) {}

  /** Open a path (truncating it) or wrap an fd number; throws LoggerError('OPEN_FAILED'). */
  static open(dest: string | number): Destination {
    if (typeof dest === 'number') return new Destination(dest, false);
    try {
      return new Destination(fs.openSync(dest, 'w'), true);
    } catch (e) {
      throw new LoggerError('OPEN_FAILED', `cannot open ${dest}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Reserve `len` bytes at the end of the file; returns their offset (null for fd destinations). */
  reserve(len: number): number | null {
    if (!this.owned) return null;
    const at = this.offset;
    this.offset += len;
    return at;
  }

  /** Write `buf[0..len)` at `at` (or the fd's position when null), retrying short writes and EAGAIN. */
  writeSync(buf: Buffer, len: number, at: number | null = this.reserve(len)): void {
    let done = 0;
    let retries = 0;
    while (done < len) {
      try {
        done += fs.writeSync(this.fd, buf, done, len - done, at === null ? null : at + done);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > EAGAIN_RETRIES) throw e;
        Atomics.wait(sleeper, 0, 0, 1);
      }
    }
  }

  /** Start an asynchronous positional write of `buf[0..len)` at `at`; `done` runs when it ends. */
  writeAsync(buf: Buffer, len: number, at: number, done: (err: Error | null) => void): void {
    const step = (off: number): void => {
      fs.write(this.fd, buf, off, len - off, at + off, (err, n) => {
        if (err) done(err);
        else if (off + n < len) step(off + n);
        else done(null);
      });
    };
    step(0);
  }

  /** Close the fd if binlog opened it; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) fs.closeSync(this.fd);
  }
}
