/**
 * Where a dump's pages go: a small interface with one file per backend (local image directory, discard,
 * the page-server client). Mirrors CRIU's page_xfer:
 *
 * ```
 * (begin(pid) -> (addPages | addHole)* in ascending vaddr, flush() after each buffer -> end())* -> close()
 *            \-> abort(reason) at any point (the images are then incomplete)
 * ```
 * A sink is one session of a dump: opened for it (page-target.ts: openPageSession), one task after another,
 * then close() once after the last task (or abort()). Both are safe to call twice and after each other. The
 * image directory is not the sink's: the dump's image set commits or aborts it.
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
  /**
   * End the whole session after the last task (a page-server connection shared by several tasks: CLOSE
   * and its reply; nothing for a local directory). A failure here fails the dump. Safe to call twice.
   */
  close(): void | Promise<void>;
  /**
   * Optional: close() without waiting for the other side (a page server's CLOSE reply): `sent` once the
   * end is on its way (in order before what the caller sends next on the same connection), `done` as
   * close() (see PageServerClient.closeSoon).
   */
  closeSoon?(): { readonly sent: Promise<void>; readonly done: Promise<void> };
  /**
   * After begin(): whether the receiving side holds this task's pagemap in its parent image set (a page
   * server's OPEN2 reply). `false` means a PE_PARENT hole would be refused there; undefined: not known
   * (a local sink, whose parent the dump checks itself).
   */
  readonly hasParent?: boolean;
  /** Give up; safe to call twice and after end(). */
  abort(reason: string): void;
  /** Bytes of page data accepted so far. */
  readonly bytesWritten: number;
}
