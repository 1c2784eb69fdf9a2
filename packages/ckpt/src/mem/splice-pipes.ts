/**
 * The pipes a splice-mode pre-dump filled while the target was frozen (see splice.ts): their read ends,
 * taken into this process, and the page ranges each holds, in ascending address order across pipes.
 *
 * ```
 * SplicedPages (one owner)
 *   pipes[0] { fd, ranges: (vaddr, len)* }  pipes[1] ...   each holds references to the target's pages
 *   drain(consumer): per pipe: read(fd) all its bytes into the current buffer, close(fd) (its pages are
 *                    released); a full buffer -> consumer.pages per range -> flush, while the pipes
 *                    that follow are read into the other buffer
 *   close(): closes every pipe not drained yet (safe twice)
 * ```
 *
 * @example
 * using pages = spliceToPipes(inj, found.ranges);
 * frozen.thaw();
 * await pages.drain({ pages: (va, n, b) => sink.addPages(va, n, b), flush: () => sink.flush() });
 */
import { readSync } from 'node:fs';
import { AlignedBuffer, cancelledBy, closeFd, PAGE_SIZE, SysError } from '../sys/index.js';
import { MemError } from './errors.js';
import type { PageConsumer } from './read.js';

/** One pipe: our read end and the ranges spliced into it, in order. */
export interface SplicedPipe {
  /** Our copy of the read end (-1 once closed). */
  fd: number;
  /** Bytes in the pipe. */
  readonly bytes: number;
  readonly vaddrs: number[];
  readonly lens: number[];
}

/** What drain() did. */
export interface DrainStats {
  pagesWritten: number;
  /** Time reading the pipes, ns. */
  readNs: number;
  /** Time in the consumer (pages + flush), ns. */
  writeNs: number;
}

/** Options of drain(). */
export interface DrainOptions {
  /** After each pipe went out: pages written so far. */
  readonly onProgress?: (pagesDone: number) => void;
  readonly signal?: AbortSignal;
  /** Test hook: after each pipe was copied out and closed (index from 0). */
  readonly afterPipe?: (index: number) => void;
  /** Size of each of the two write buffers (default 4 MiB; at least the largest pipe). */
  readonly batchBytes?: number;
}

const now = () => process.hrtime.bigint();

export class SplicedPages implements Disposable {
  readonly pipes: SplicedPipe[] = [];
  /** Bytes held in pipes right now, and the most ever held. */
  heldBytes = 0;
  peakBytes = 0;
  /** Pages spliced in, and pages found present but unreadable at splice time (left out). */
  pages = 0;
  pagesSkipped = 0;

  /** @internal Take ownership of a filled pipe's read end. */
  add(pipe: SplicedPipe): void {
    this.pipes.push(pipe);
    this.heldBytes += pipe.bytes;
    this.pages += pipe.bytes / PAGE_SIZE;
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
  }

  /** Pipes whose read end we still hold. */
  get openPipes(): number {
    let n = 0;
    for (const p of this.pipes) if (p.fd >= 0) n++;
    return n;
  }

  /** Largest pipe content, bytes (the drain buffer size). */
  get largestPipe(): number {
    let n = 0;
    for (const p of this.pipes) if (p.bytes > n) n = p.bytes;
    return n;
  }

  /**
   * Write every pipe out, in order. Pipes are read into one of two page-aligned buffers (`batchBytes`,
   * default 4 MiB, at least the largest pipe) and closed as soon as they are copied; a full buffer goes to
   * the consumer (pages, then flush) while the other one is filled, as read mode rotates its buffers.
   * Throws MemError EIO when a pipe holds fewer bytes than were spliced in (never expected), CancelledError on
   * `signal`.
   */
  async drain(out: PageConsumer, o: DrainOptions = {}): Promise<DrainStats> {
    const st: DrainStats = { pagesWritten: 0, readNs: 0, writeNs: 0 };
    if (this.pipes.length === 0) return st;
    const size = Math.max(this.largestPipe, PAGE_SIZE, o.batchBytes ?? 4 << 20);
    const bufs = [new AlignedBuffer(size), new AlignedBuffer(size)];
    let cur = 0;
    let used = 0;
    let pending: Promise<void> | void | undefined;
    let pieces: number[] = []; // vaddr, len, offset triples of the current buffer
    const emit = async () => {
      if (pieces.length === 0) return;
      const t0 = now();
      await pending; // the other buffer's flush: the consumer is free again
      const bytes = bufs[cur]!.bytes;
      let pages = 0;
      for (let j = 0; j < pieces.length; j += 3) {
        const len = pieces[j + 1]!;
        out.pages(pieces[j]!, len / PAGE_SIZE, bytes.subarray(pieces[j + 2]!, pieces[j + 2]! + len));
        pages += len / PAGE_SIZE;
      }
      pending = out.flush();
      st.writeNs += Number(now() - t0);
      st.pagesWritten += pages;
      o.onProgress?.(st.pagesWritten);
      pieces = [];
      used = 0;
      cur ^= 1; // fill the other buffer while this one is written
    };
    for (let i = 0; i < this.pipes.length; i++) {
      const p = this.pipes[i]!;
      if (p.fd < 0) continue;
      if (o.signal?.aborted) throw cancelledBy(o.signal, 'cancelled while writing the pipes out');
      if (used + p.bytes > size) await emit();
      const t0 = now();
      this.copyOut(p, i, bufs[cur]!.bytes, used);
      let off = used;
      for (let j = 0; j < p.vaddrs.length; j++) {
        pieces.push(p.vaddrs[j]!, p.lens[j]!, off);
        off += p.lens[j]!;
      }
      used = off;
      this.closePipe(p);
      st.readNs += Number(now() - t0);
      o.afterPipe?.(i);
    }
    await emit();
    const t1 = now();
    await pending;
    st.writeNs += Number(now() - t1);
    return st;
  }

  /** Read all of pipe `p`'s bytes into `into` at `at`. */
  private copyOut(p: SplicedPipe, i: number, into: Uint8Array, at: number): void {
    let got = 0;
    while (got < p.bytes) {
      let n: number;
      try {
        n = readSync(p.fd, into, at + got, p.bytes - got, null);
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new MemError('EIO', `reading pipe ${i} (fd ${p.fd}): ${code ?? String(e)}`, { cause: e });
      }
      if (n === 0) break;
      got += n;
    }
    if (got !== p.bytes)
      throw new MemError('EIO', `pipe ${i} held ${got} bytes, ${p.bytes} were spliced into it`);
  }

  private closePipe(p: SplicedPipe): void {
    if (p.fd < 0) return;
    const fd = p.fd;
    p.fd = -1;
    this.heldBytes -= p.bytes;
    try {
      closeFd(fd);
    } catch (e) {
      if (!(e instanceof SysError && e.code === 'EBADF')) throw e;
    }
  }

  /** Close every pipe still held (their pages are released). Safe to call twice. */
  close(): void {
    for (const p of this.pipes) this.closePipe(p);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
