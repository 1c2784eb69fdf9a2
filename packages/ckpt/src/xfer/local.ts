/**
 * The local sink: pages go to `pagemap-<pid>.img` and `pages-<n>.img` of an image directory (images/
 * writes them under temporary names; the directory's commit renames them and writes the inventory last).
 *
 * Page data is queued, not copied: each flush() (once per reader buffer) writes everything added since
 * the previous one with one positioned writev: on this thread (buffered writes: the copy into the page
 * cache needs a CPU anyway, and handing it to the thread pool costs a wake-up per buffer), or on libuv's
 * thread pool when `asyncWrites` (the default with O_DIRECT, whose writes mostly wait for the disk), so
 * the reader fills its next buffer meanwhile. Several flushes may then be in flight; end() waits for them.
 *
 * ```
 * begin(pid) -> addPages/addHole ... flush() -> one writev of the buffer's pieces (void, or a Promise
 *                                               with asyncWrites)                      ... -> end()
 * ```
 *
 * @example
 * const dir = ImageDir.create('/ckpt/pre1');
 * const sink = new LocalSink(dir); // O_DIRECT, writes on the thread pool
 * const buffered = new LocalSink(dir2, { directIo: false }); // page cache, writes on this thread
 * sink.begin(pid); sink.addPages(0x400000, 1, page); await sink.flush(); await sink.end();
 * dir.commit();
 */
import type { ImageDir, PagemapWriter } from '../images/index.js';
import type { PageSink } from './sink.js';

/** Options of a LocalSink. */
export interface LocalSinkOptions {
  /**
   * Write pages-<n>.img with O_DIRECT (bypassing the page cache; falls back to buffered writes where the
   * file system refuses it or a piece is not page-aligned in memory). Default true: measured faster and
   * steadier than buffered writes here (bench/README.md), and a dump does not evict the page cache.
   */
  readonly directIo?: boolean;
  /**
   * Write on the thread pool, flush() returning a promise (default: when the pages file is open with
   * O_DIRECT).
   */
  readonly asyncWrites?: boolean;
}

export class LocalSink implements PageSink {
  private writer: PagemapWriter | undefined;
  private readonly async: boolean | undefined;
  private readonly direct: boolean;
  bytesWritten = 0;

  constructor(
    readonly dir: ImageDir,
    opts: LocalSinkOptions = {},
  ) {
    this.direct = opts.directIo ?? true;
    this.async = opts.asyncWrites;
  }

  /** Start `pagemap-<pid>.img` and its pages file; one task at a time, each ended before the next. */
  begin(pid: number): void {
    if (this.writer) throw new Error(`LocalSink.begin(${pid}) before end() of the previous task`);
    this.writer = this.dir.pagemapWriter(pid);
    if (this.direct) this.writer.useDirectIo();
  }

  private w(): PagemapWriter {
    if (!this.writer) throw new Error('LocalSink used before begin()');
    return this.writer;
  }

  /** Queue the pages; `bytes` must stay untouched until the next flush() settles. */
  addPages(vaddr: number, nrPages: number, bytes: Uint8Array): void {
    this.w().queuePages(vaddr, nrPages, bytes);
    this.bytesWritten += bytes.length;
  }

  addHole(vaddr: number, nrPages: number): void {
    this.w().addHole(vaddr, nrPages);
  }

  /** One writev of everything added since the last flush (on the thread pool with `asyncWrites`). */
  flush(): void | Promise<void> {
    const w = this.w();
    if (this.async ?? w.directIo) return w.flush();
    w.flushSync();
  }

  /** Waits for writes in flight (if any), writes what is still queued and closes the task's files. */
  end(): void | Promise<void> {
    const w = this.w();
    const waits = w.settled();
    if (!waits) {
      this.finish(w);
      return;
    }
    return waits.then(() => this.finish(w));
  }

  private finish(w: PagemapWriter): void {
    w.finish();
    this.writer = undefined;
  }

  /** Nothing to end: the directory's owner (dump/'s ImageSet) commits it. */
  close(): void {}

  /** Discard the task being written; the directory's owner marks it incomplete. */
  abort(_reason: string): void {
    this.writer?.discard();
    this.writer = undefined;
  }
}
