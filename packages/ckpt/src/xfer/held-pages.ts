/**
 * Pages a page-server session does not write into the pages file: a migration's destination writes the
 * root's anonymous memory straight into the process it builds ahead (restore/prebuilt-process.ts), and
 * the session records those ranges as PE_LAZY entries (no data here: images/page-chain.ts calls them
 * 'held'). The session asks, for each run of received data, which part of it is held.
 *
 * ```
 * ADD_F(vaddr, n) + data --> span(vaddr, end): held up to `to`? write(vaddr, bytes) + PE_LAZY entry
 *                                              else                pages file + PE_PRESENT entry
 * CLOSE -> flush()        (every write is in the process before the set is reported complete)
 * ```
 *
 * @example
 * const s = new PageServerSession({ dir, parent: '../1', held: prebuilt.sink }, reply);
 */

export interface HeldPages {
  /** The task whose pagemap this applies to (other pagemaps are written as usual). */
  readonly pid: number;
  /** Whether [vaddr, ...) starts held, and where that (or the unheld stretch) ends, at most `end`. */
  span(vaddr: number, end: number): { held: boolean; to: number };
  /** Take the bytes of whole pages at `vaddr` (copied or written before returning: not kept). */
  write(vaddr: number, bytes: Uint8Array): void;
  /** Everything taken so far is in place. Throws on failure (the session then fails). */
  flush(): void;
}
