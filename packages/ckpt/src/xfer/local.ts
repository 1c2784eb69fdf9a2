/**
 * The local sink: pages go to `pagemap-<pid>.img` and `pages-<n>.img` of an image directory (images/
 * writes them under temporary names; the directory's commit renames them and writes the inventory last).
 *
 * Page data is queued, not copied: each flush() (once per reader buffer) writes everything added since
 * the previous one with one positioned writev on libuv's thread pool, so the reader fills its next buffer
 * while this one goes to the file. Several flushes may be in flight; end() waits for them.
 *
 * ```
 * begin(pid) -> addPages/addHole ... flush() -> Promise (one writev of the buffer's pieces) ... -> end()
 * ```
 *
 * @example
 * const dir = ImageDir.create('/ckpt/pre1');
 * const sink = new LocalSink(dir, { directIo: true });
 * sink.begin(pid); sink.addPages(0x400000, 1, page); await sink.flush(); await sink.end();
 * dir.commit();
 */
import type { ImageDir, PagemapWriter } from '../images/index.js';
import type { PageSink } from './sink.js';

/** Options of a LocalSink. */
export interface LocalSinkOptions {
  /**
   * Write pages-<n>.img with O_DIRECT (bypassing the page cache; falls back to buffered writes where the
   * file system refuses it or a piece is not page-aligned in memory). Default false.
   */
  readonly directIo?: boolean;
}

export class LocalSink implements PageSink {
  private writer: PagemapWriter | undefined;
  bytesWritten = 0;

  constructor(
    readonly dir: ImageDir,
    private readonly opts: LocalSinkOptions = {},
  ) {}

  /** Start `pagemap-<pid>.img` and its pages file; one task at a time, each ended before the next. */
  begin(pid: number): void {
    if (this.writer) throw new Error(`LocalSink.begin(${pid}) before end() of the previous task`);
    this.writer = this.dir.pagemapWriter(pid);
    if (this.opts.directIo) this.writer.useDirectIo();
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

  /** One writev of everything added since the last flush, on the thread pool. */
  flush(): Promise<void> {
    return this.w().flush();
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

  abort(reason: string): void {
    this.writer?.discard();
    this.dir.abort(reason);
  }
}
