/**
 * `ckpt-sent.json`: which pages a pre-dump whose pagemap and pages went elsewhere (a page server) handed
 * over, per process, kept in the dump's own image directory. The next pre-dump of the chain has no local
 * pagemap to ask which pages its parent covers; this file answers instead, so that a PE_PARENT hole is
 * only planned where the server's chain has the data:
 *
 * ```
 * iteration k:   data(k) + holes(k)  --SentPagesSink records--> DIR/k/ckpt-sent.json
 * iteration k+1: holes only inside DIR/k/ckpt-sent.json's ranges (and only if OPEN2 says has_parent)
 * ```
 * Every entry sent (data, or a hole that itself resolves up the chain) is covered by the server's
 * directory of that session, so the covered ranges of iteration k are exactly what it sent. Pages that
 * vanished while read were never sent and are not recorded.
 *
 * Compact: per process, page numbers as deltas, `[gap, length, gap, length, ...]` (gap from the end of the
 * previous range, in pages). Our own file, ignored by CRIU, crit, `ckpt show` and `ckpt verify`.
 *
 * ```
 * { "format": "ckpt-sent", "version": 1, "tasks": { "1234": [1024, 16, 3, 512] } }
 * ```
 *
 * @example
 * const sink = new SentPagesSink(client);   // then preDump writes through it
 * writeSentPages(dir, sink.sent);
 * readSentPages(parentDir).get(pid);        // AddressRange[] | undefined
 */
import { decodeRanges, encodeRanges } from '../images/index.js';
import type { AddressRange } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';
import { readTaskFile, writeTaskFile } from './task-file.js';

/**
 * The file name in an image directory.
 *
 * @example
 * existsSync(join(dir, SENT_PAGES_FILE)); // true after a page-server pre-dump into dir
 */
export const SENT_PAGES_FILE = 'ckpt-sent.json';

/**
 * Ranges per process, ascending and merged.
 *
 * @example
 * const sent: SentPages = new Map([[1234, [{ start: 0x400000, end: 0x402000 }]]]);
 */
export type SentPages = Map<number, AddressRange[]>;

/**
 * A PageSink that passes everything on and records the ranges sent per process (data and holes).
 *
 * @example
 * const sink = new SentPagesSink(client);
 * await sink.begin(pid); sink.addPages(0x400000, 1, page); await sink.end(); await sink.close();
 * sink.sent.get(pid); // [{ start: 0x400000, end: 0x401000 }]
 */
export class SentPagesSink implements PageSink {
  readonly sent: SentPages = new Map();
  private current: { start: number; end: number }[] = [];

  constructor(private readonly inner: PageSink) {}

  get bytesWritten(): number {
    return this.inner.bytesWritten;
  }

  get hasParent(): boolean | undefined {
    return this.inner.hasParent;
  }

  async begin(pid: number): Promise<void> {
    await this.inner.begin(pid);
    this.current = [];
    this.sent.set(pid, this.current);
  }

  private note(vaddr: number, nrPages: number): void {
    const end = vaddr + nrPages * PAGE_SIZE;
    const last = this.current[this.current.length - 1];
    if (last && last.end === vaddr) last.end = end;
    else this.current.push({ start: vaddr, end });
  }

  addPages(vaddr: number, nrPages: number, bytes: Uint8Array): void {
    this.inner.addPages(vaddr, nrPages, bytes);
    this.note(vaddr, nrPages);
  }

  addHole(vaddr: number, nrPages: number): void {
    this.inner.addHole(vaddr, nrPages);
    this.note(vaddr, nrPages);
  }

  flush(): void | Promise<void> {
    return this.inner.flush();
  }

  end(): void | Promise<void> {
    return this.inner.end();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  closeSoon(): { readonly sent: Promise<void>; readonly done: Promise<void> } {
    if (this.inner.closeSoon) return this.inner.closeSoon();
    const done = Promise.resolve(this.inner.close?.());
    done.catch(() => {});
    return { sent: done, done };
  }

  abort(reason: string): void {
    this.inner.abort(reason);
  }
}

/**
 * Write `sent` into image directory `dir` (atomically; before its inventory commits it).
 *
 * @example
 * writeSentPages('/ckpt/run/1', sink.sent);
 */
export function writeSentPages(dir: string, sent: SentPages): void {
  const tasks = new Map<number, number[]>();
  for (const [pid, ranges] of sent) tasks.set(pid, encodeRanges(ranges));
  writeTaskFile(dir, SENT_PAGES_FILE, 'ckpt-sent', tasks);
}

/**
 * The ranges recorded in `dir`; an empty map when there is no (valid) file: then nothing is known to be
 * covered and the next pre-dump writes every page as data.
 *
 * @example
 * readSentPages('/ckpt/run/1').get(1234); // [{ start, end }, ...] or undefined
 */
export function readSentPages(dir: string): SentPages {
  return readTaskFile(dir, SENT_PAGES_FILE, 'ckpt-sent', decodeRanges);
}
