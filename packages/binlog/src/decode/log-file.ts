/**
 * Reading log files into a LogReader: whole (in 4 MiB chunks; `-` is standard input, a pipe), several
 * in a row (rotated pieces, oldest first), or following a name as it grows, as `tail -F` does.
 *
 * Following (followLogFile), checked every `intervalMs`:
 * ```
 *   waiting (no file) --created--> reading --grew--> decode what was appended
 *        ^                            | name now another file (rotated, recreated): finish the old one, open the new
 *        +---- name deleted: finish --+ size shrank (copytruncate): read again from the start
 * ```
 * One abort listener is registered for the whole follow, not one per poll.
 *
 * @example
 * const r = new LogReader({});
 * readLogFile('app.blog', r, (e) => console.log(e.msg));
 * await followLogFile('app.blog', (e) => console.log(e.msg), { signal: ac.signal });
 */
import * as fs from 'node:fs';
import { DecodeError } from './errors.js';
import { type DecodedEvent, LogReader, type ReaderOptions, type ReaderStats } from './reader.js';

const CHUNK = 4 * 1024 * 1024;

function openLog(path: string): number {
  if (path === '-') return 0;
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    throw new DecodeError(
      'NO_FILE',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Read from `from` (null: the fd's own position, for pipes) into the reader; returns the offset reached. */
function drain(
  fd: number,
  reader: LogReader,
  from: number | null,
  onEvent: (e: DecodedEvent) => void,
): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let at = from ?? 0;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, CHUNK, from === null ? null : at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'EOF') return at;
      throw e;
    }
    if (n <= 0) return at;
    at += n;
    reader.feed(buf.subarray(0, n), onEvent);
  }
}

/** Decode a whole file (`-`: standard input); the reader's stats tell what was skipped. */
export function readLogFile(path: string, reader: LogReader, onEvent: (e: DecodedEvent) => void): void {
  readLogFiles([path], reader, onEvent);
}

/** Decode files one after the other (rotated pieces, then the live file): writers' state carries over. */
export function readLogFiles(
  paths: readonly string[],
  reader: LogReader,
  onEvent: (e: DecodedEvent) => void,
): void {
  for (const path of paths) {
    const fd = openLog(path);
    try {
      drain(fd, reader, path === '-' ? null : 0, onEvent);
      reader.nextFile(onEvent);
    } finally {
      if (path !== '-') fs.closeSync(fd);
    }
  }
  reader.end(onEvent);
}

/**
 * Decode a whole file into memory: its events and the reader's statistics.
 *
 * @example
 * const { events, stats } = decodeFile('app.blog');
 */
export function decodeFile(
  path: string,
  opts: ReaderOptions = {},
): { events: DecodedEvent[]; stats: ReaderStats } {
  const reader = new LogReader(opts);
  const events: DecodedEvent[] = [];
  readLogFile(path, reader, (e) => events.push(e));
  return { events, stats: reader.stats };
}

export interface FollowOptions extends ReaderOptions {
  /** Stops following (the promise then resolves). */
  readonly signal: AbortSignal;
  /** Poll period in ms (default 100). */
  readonly intervalMs?: number;
  /** Called when the file shrank and is read again from its start. */
  readonly onTruncate?: () => void;
  /** Called when the name leads to a new file (rotated, deleted and created again). */
  readonly onNewFile?: () => void;
  /** Called once while the name does not exist yet (or any more): following waits for it. */
  readonly onWait?: () => void;
}

interface Open {
  fd: number;
  ino: number;
  dev: number;
  at: number;
}

/** Decode a file, then keep decoding what is appended, following the name, until `signal` aborts. */
export async function followLogFile(
  path: string,
  onEvent: (e: DecodedEvent) => void,
  opts: FollowOptions,
): Promise<LogReader> {
  const reader = new LogReader(opts);
  const { signal } = opts;
  let wake: (() => void) | null = null;
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  let cur: Open | null = null;
  let waiting = false;
  const finish = (): void => {
    if (cur === null) return;
    drain(cur.fd, reader, cur.at, onEvent);
    reader.nextFile(onEvent);
    fs.closeSync(cur.fd);
    cur = null;
  };
  try {
    while (!signal.aborted) {
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (cur !== null && (st === undefined || st.ino !== cur.ino || st.dev !== cur.dev)) finish();
      if (cur === null && st !== undefined) {
        let fd: number;
        try {
          fd = fs.openSync(path, 'r');
        } catch {
          fd = -1; // removed between stat and open: next poll
        }
        if (fd >= 0) {
          const fst = fs.fstatSync(fd);
          if (waiting || reader.stats.bytes > 0) opts.onNewFile?.();
          cur = { fd, ino: fst.ino, dev: fst.dev, at: 0 };
          waiting = false;
        }
      }
      if (cur === null && !waiting) {
        waiting = true;
        opts.onWait?.();
      }
      if (cur !== null) {
        const size = fs.fstatSync(cur.fd).size;
        if (size < cur.at) {
          opts.onTruncate?.();
          reader.nextFile(onEvent);
          cur.at = 0;
        }
        if (size > cur.at) cur.at = drain(cur.fd, reader, cur.at, onEvent);
      }
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs ?? 100);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
    return reader;
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (cur !== null) fs.closeSync((cur as Open).fd);
  }
}
