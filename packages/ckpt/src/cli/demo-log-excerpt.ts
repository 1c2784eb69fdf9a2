/**
 * A log excerpt: ckpt's own binary log of a run, decoded with binlog's decoder (what `npx binlog decode
 * FILE` prints), reduced to its first and last lines and a count.
 *
 * ```
 * 2026-11-26T00:20:01.120Z INFO memory tracking: uffd-wp (async userfaultfd write-protect) {"pid":4242}
 * ...  (57 more lines)
 * 2026-11-26T00:20:03.410Z INFO iteration 4 of 4 done: 812 pages written {"pid":4242}
 * ```
 *
 * @example
 * const x = logExcerpt('/tmp/demo/ckpt.log.bin', 3, 3);
 * x.count; // 61
 * [...x.head, ...x.tail];
 */
import { decodeFile, LineFormatter } from 'binlog/decode';

/** The first and last decoded lines of a log, and how many there are. */
export interface LogExcerpt {
  readonly head: readonly string[];
  /** The last lines, after `head` (none when the log has at most head + tail lines: all are in head). */
  readonly tail: readonly string[];
  readonly count: number;
  /** Bytes the decoder skipped (torn or corrupt records); 0 for a clean log. */
  readonly skippedBytes: number;
}

/** Decode the binlog file at `path` and keep `head` first and `tail` last lines. */
export function logExcerpt(path: string, head: number, tail: number): LogExcerpt {
  const { events, stats } = decodeFile(path);
  const fmt = new LineFormatter();
  const lines = events.map((e) => fmt.text(e));
  if (lines.length <= head + tail) {
    return { head: lines, tail: [], count: lines.length, skippedBytes: stats.skippedBytes };
  }
  return {
    head: lines.slice(0, head),
    tail: lines.slice(lines.length - tail),
    count: lines.length,
    skippedBytes: stats.skippedBytes,
  };
}
