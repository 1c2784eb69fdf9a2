/**
 * Where a dump's pages go: a small interface with one file per backend (local image directory, discard,
 * later the page-server client). Mirrors CRIU's page_xfer:
 *
 * ```
 * begin(pid) -> (addPages | addHole)* in ascending vaddr, flush() after each buffer -> end()
 *            \-> abort(reason) at any point (the images are then incomplete)
 * ```
 * `addPages`' bytes are a view of the reader's buffer: valid only until the next `flush()` settles, so a
 * sink writes or copies them by then.
 *
 * @example
 * const sink: PageSink = new NullSink();
 * sink.begin(pid); sink.addPages(0x400000, 1, page); sink.flush(); sink.end();
 */
export interface PageSink {
  /** Start the pagemap of task `pid`. */
  begin(pid: number): void | Promise<void>;
  /** `nrPages` pages at `vaddr`, whose contents are `bytes` (nrPages * 4096 bytes). */
  addPages(vaddr: number, nrPages: number, bytes: Uint8Array): void;
  /** `nrPages` pages at `vaddr` unchanged since the parent image set (PE_PARENT). */
  addHole(vaddr: number, nrPages: number): void;
  /** Write out everything added so far (called after each filled buffer). */
  flush(): void | Promise<void>;
  /** Finish the task's pagemap. */
  end(): void | Promise<void>;
  /** Give up; safe to call twice and after end(). */
  abort(reason: string): void;
  /** Bytes of page data accepted so far. */
  readonly bytesWritten: number;
}
