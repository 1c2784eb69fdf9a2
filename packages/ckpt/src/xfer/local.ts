/**
 * The local sink: pages go to `pagemap-<pid>.img` and `pages-<n>.img` of an image directory (images/
 * writes them under temporary names; the directory's commit renames them and writes the inventory last).
 *
 * @example
 * const dir = ImageDir.create('/ckpt/pre1');
 * const sink = new LocalSink(dir);
 * sink.begin(pid); sink.addPages(0x400000, 1, page); sink.end();
 * dir.commit();
 */
import type { ImageDir, PagemapWriter } from '../images/index.js';
import type { PageSink } from './sink.js';

export class LocalSink implements PageSink {
  private writer: PagemapWriter | undefined;
  bytesWritten = 0;

  constructor(readonly dir: ImageDir) {}

  /** Start `pagemap-<pid>.img` and its pages file; one task at a time, each ended before the next. */
  begin(pid: number): void {
    if (this.writer) throw new Error(`LocalSink.begin(${pid}) before end() of the previous task`);
    this.writer = this.dir.pagemapWriter(pid);
  }

  private w(): PagemapWriter {
    if (!this.writer) throw new Error('LocalSink used before begin()');
    return this.writer;
  }

  addPages(vaddr: number, nrPages: number, bytes: Uint8Array): void {
    this.w().addPages(vaddr, nrPages, bytes);
    this.bytesWritten += bytes.length;
  }

  addHole(vaddr: number, nrPages: number): void {
    this.w().addHole(vaddr, nrPages);
  }

  /** Nothing to do: PagemapWriter writes page data synchronously in addPages. */
  flush(): void {}

  end(): void {
    this.w().finish();
    this.writer = undefined;
  }

  abort(reason: string): void {
    this.writer?.discard();
    this.dir.abort(reason);
  }
}
