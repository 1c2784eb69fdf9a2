/**
 * Where frames go: a file the logger opens by name (and owns), or a file descriptor the caller owns.
 *
 * - `dest: 'app.blog'` (a path): opened for appending (O_APPEND | O_CREAT): a new run adds to the file,
 *   and several writers (processes, worker threads) share it. Each write(2) of a regular file with
 *   O_APPEND lands whole at the end of the file, so frames of different writers interleave but never mix.
 *   Before each write the name is checked (one stat): if it is gone or names another file (logrotate's
 *   rename, a rotation by another writer, a deleted file), the path is opened again. reopen() does it on
 *   request (SIGHUP handlers). rotate() renames the file aside (rotation.ts) and opens a new one.
 * - `dest: 1` (an fd number): written at the fd's position, never closed or reopened by binlog. A pipe,
 *   socket or terminal is `stream`: the writer hands it one frame of at most PIPE_BUF bytes per write,
 *   which the kernel keeps whole even when several processes write to the same pipe.
 *
 * ```
 *   open(path) --write()--> ok | error (counted by the caller)
 *       ^                      |
 *       +--- name gone/moved, reopen(), rotate() (before the next write)
 * ```
 *
 * @example
 * const d = Destination.open('/tmp/x.blog');
 * d.write(Buffer.from('abc'), 0, 3, true); // 3
 * d.close();
 */
import * as fs from 'node:fs';
import { LoggerError } from './errors.js';
import { pruneRotated, rotatedName } from './rotation.js';

const EAGAIN_RETRIES = 1000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class Destination {
  private closed = false;
  private ino = 0;
  private dev = 0;
  /** Bytes in the file when it was opened or last checked, plus what was written since. */
  size = 0;
  /** Times the path was opened again (moved, deleted, reopen(), rotate()). */
  reopens = 0;
  /** Times rotate() renamed the file aside. */
  rotations = 0;
  /** When the current file was opened (ms), for time-based rotation. */
  openedAt = Date.now();

  private constructor(
    private fdNum: number,
    /** The path binlog opened (it closes the fd and reopens the path), or null for a caller's fd. */
    readonly path: string | null,
    /** A pipe, socket or character device (not a regular file): written one frame per write. */
    readonly stream: boolean,
  ) {}

  get fd(): number {
    return this.fdNum;
  }

  /** Open a path for appending or wrap an fd number; throws LoggerError('OPEN_FAILED'). */
  static open(dest: string | number): Destination {
    if (typeof dest === 'number') {
      let stream = true;
      try {
        stream = !fs.fstatSync(dest).isFile();
      } catch (e) {
        throw new LoggerError('OPEN_FAILED', `fd ${dest}: ${(e as Error).message}`, { cause: e });
      }
      return new Destination(dest, null, stream);
    }
    const d = new Destination(-1, dest, false);
    d.openPath();
    return d;
  }

  private openPath(): void {
    const path = this.path!;
    let fd: number;
    try {
      fd = fs.openSync(path, 'a');
    } catch (e) {
      throw new LoggerError('OPEN_FAILED', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
    const st = fs.fstatSync(fd);
    this.fdNum = fd;
    this.ino = st.ino;
    this.dev = st.dev;
    this.size = st.size;
    this.openedAt = Date.now();
  }

  /**
   * For a path: open it again when the name no longer leads to the open file (moved or deleted), and
   * refresh `size` (other writers append too). One stat(2); called before each write.
   */
  checkName(): void {
    if (this.path === null || this.closed) return;
    const st = fs.statSync(this.path, { throwIfNoEntry: false });
    if (st !== undefined && st.ino === this.ino && st.dev === this.dev) {
      this.size = st.size;
      return;
    }
    this.reopen();
  }

  /** Close the file and open the path again (a no-op for an fd destination). Throws OPEN_FAILED. */
  reopen(): void {
    if (this.path === null || this.closed) return;
    const old = this.fdNum;
    this.openPath();
    this.reopens++;
    try {
      fs.closeSync(old);
    } catch {
      // already closed or bad: the new fd is what matters
    }
  }

  /**
   * Rename the file aside (`<path>.<UTC time>-<pid>-<n>`), open a new one, and keep the newest `keep`
   * rotated pieces (0: keep all). A no-op for an fd destination.
   */
  rotate(keep: number): void {
    if (this.path === null || this.closed) return;
    try {
      fs.renameSync(this.path, rotatedName(this.path, Date.now()));
    } catch {
      // another writer rotated it first: reopening below picks up its new file
    }
    this.rotations++;
    this.reopen();
    if (keep > 0) pruneRotated(this.path, keep);
  }

  /**
   * Write `buf[off..off+len)`; returns the bytes written. Short writes are continued; EAGAIN (a full
   * non-blocking pipe) is waited out when `block`, else the count so far is returned. Other errors
   * (ENOSPC, EBADF, EPIPE, EIO...) are thrown with the count written before them in `written`.
   */
  write(buf: Buffer, off: number, len: number, block: boolean): number {
    let done = 0;
    let retries = 0;
    while (done < len) {
      try {
        done += fs.writeSync(this.fdNum, buf, off + done, len - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && !block) break;
        if (code !== 'EAGAIN' || ++retries > EAGAIN_RETRIES) {
          this.size += done;
          throw Object.assign(e as Error, { written: done });
        }
        Atomics.wait(sleeper, 0, 0, 1);
      }
    }
    this.size += done;
    return done;
  }

  /** Close the fd if binlog opened it; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.path !== null) fs.closeSync(this.fdNum);
  }
}
