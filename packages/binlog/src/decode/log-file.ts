/**
 * Reading a log file into a LogReader: whole (in 4 MiB chunks), or following it as it grows (polling
 * its size, like `tail -F`: a file that shrinks is read again from its start with a fresh reader state).
 *
 * @example
 * const r = new LogReader({});
 * readLogFile('app.blog', r, (e) => console.log(e.msg));
 * await followLogFile('app.blog', new LogReader({}), (e) => console.log(e.msg), { signal: ac.signal });
 */
import * as fs from 'node:fs';
import { DecodeError } from './errors.js';
import { type DecodedEvent, LogReader, type ReaderOptions, type ReaderStats } from './reader.js';

const CHUNK = 4 * 1024 * 1024;

function openLog(path: string): number {
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    throw new DecodeError(
      'NO_FILE',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Read `from` onwards into the reader; returns the offset reached. */
function drain(fd: number, reader: LogReader, from: number, onEvent: (e: DecodedEvent) => void): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let at = from;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, CHUNK, at);
    if (n <= 0) return at;
    at += n;
    reader.feed(buf.subarray(0, n), onEvent);
  }
}

/** Decode a whole file; the reader's stats tell what was skipped. */
export function readLogFile(path: string, reader: LogReader, onEvent: (e: DecodedEvent) => void): void {
  const fd = openLog(path);
  try {
    drain(fd, reader, 0, onEvent);
    reader.end(onEvent);
  } finally {
    fs.closeSync(fd);
  }
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
}

/** Decode a file, then keep decoding what is appended until `signal` aborts. */
export async function followLogFile(
  path: string,
  onEvent: (e: DecodedEvent) => void,
  opts: FollowOptions,
): Promise<LogReader> {
  let reader = new LogReader(opts);
  const fd = openLog(path);
  try {
    let at = drain(fd, reader, 0, onEvent);
    while (!opts.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs ?? 100);
        opts.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      const size = fs.fstatSync(fd).size;
      if (size < at) {
        opts.onTruncate?.();
        reader = new LogReader(opts);
        at = 0;
      }
      if (size > at) at = drain(fd, reader, at, onEvent);
    }
    return reader;
  } finally {
    fs.closeSync(fd);
  }
}
