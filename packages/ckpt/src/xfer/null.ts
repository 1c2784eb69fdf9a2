/**
 * A sink that discards the pages and only counts them: measures the read path alone (`--dry-run`,
 * benchmarks against a bare process_vm_readv loop).
 *
 * @example
 * const sink = new NullSink();
 * sink.addPages(0x400000, 1, page);
 * sink.bytesWritten; // 4096
 */
import type { PageSink } from './sink.js';

export class NullSink implements PageSink {
  bytesWritten = 0;
  holePages = 0;

  begin(_pid: number): void {}

  addPages(_vaddr: number, _nrPages: number, bytes: Uint8Array): void {
    this.bytesWritten += bytes.length;
  }

  addHole(_vaddr: number, nrPages: number): void {
    this.holePages += nrPages;
  }

  flush(): void {}

  end(): void {}

  close(): void {}

  abort(_reason: string): void {}
}
