/**
 * The "read" mode of a pre-dump: copy the target's pages with process_vm_readv into page-aligned buffers
 * (allocated and touched once), up to IOV_MAX remote iovecs a call, and hand each filled buffer to the
 * consumer. A consumer whose flush() returns a promise (a write on the thread pool) gets the buffers in
 * rotation: buffer k+1 is read, synchronously on this thread, while buffer k is being written; a buffer
 * is reused only once its flush settled. Memory held is at most `buffers` x `bufferSize`, whatever the
 * target's size; a consumer whose flush() is synchronous (a dry run) uses one buffer. A consumer may lend
 * the buffer to read into instead (BufferLender: the frozen window's copy kept in memory until the thaw).
 *
 * ```
 * slot:    0        1        0        1
 * read:  [ b0 ]   [ b1 ]   [ b2 ]   [ b3 ]      (b2 waits until flush(b0) settled)
 * write:        [ flush b0 ][ flush b1 ][ ...
 * ```
 *
 * The target keeps running, so a page can vanish between the scan and the read:
 * ```
 * process_vm_readv(iovecs) -> n bytes
 *   n == all      -> every piece goes out
 *   n short/EFAULT -> the pieces before the fault go out; the faulting address F is looked up in a fresh
 *                    /proc/PID/maps: still mapped and readable -> skip the one page at F;
 *                    gone -> skip to the next VMA. Reading resumes right after; skipped pages are
 *                    counted as unreadable and never written (not even as zeroes).
 *   ESRCH          -> MemError ESRCH (the target exited)
 * ```
 *
 * @example
 * using reader = new PageReader(pid, { bufferSize: 4 << 20, buffers: 3 });
 * const st = await reader.read(found.ranges, { pages: (va, n, bytes) => sink(va, n, bytes), flush: () => {} });
 */
import { readMaps, type Vma } from '../proc/index.js';
import {
  AlignedBuffer,
  cancelledBy,
  IOV_MAX,
  IovecArray,
  PAGE_SIZE,
  processVmReadv,
  SysError,
} from '../sys/index.js';
import { memErrorFrom } from './errors.js';
import type { PageRanges } from './pages.js';

/**
 * Where read pages go. `bytes` (nrPages * 4096 long) stays valid until the `flush()` that follows it
 * settles. A flush() returning a promise may be followed by more pages (of another buffer) and another
 * flush() before it settles; the consumer must keep them in order.
 *
 * @example
 * const consumer: PageConsumer = { pages: (va, n, bytes) => sink.addPages(va, n, bytes), flush: () => sink.flush() };
 */
export interface PageConsumer extends Partial<BufferLender> {
  pages(vaddr: number, nrPages: number, bytes: Uint8Array): void;
  /** Called once per filled buffer, after its pieces: write them out now. */
  flush(): void | Promise<void>;
}

/**
 * A consumer that lends the reader the memory to read into (dump/HeldPages: the frozen window's copy held
 * until the thaw). Asked before each buffer is read; a buffer lent is the consumer's (its pieces stay
 * valid as long as it keeps it), and its flush() must not return a promise. Undefined: the reader's own
 * buffer, as without a lender.
 *
 * @example
 * const consumer: PageConsumer = { nextBuffer: () => chunks.pop(), pages, flush: () => {} };
 */
export interface BufferLender {
  nextBuffer(): AlignedBuffer | undefined;
}

/** Counters and timers of one PageReader.read(). */
export interface ReadStats {
  pagesRead: number;
  /** Pages that could not be read (unmapped or made unreadable meanwhile). */
  pagesUnreadable: number;
  /** process_vm_readv calls. */
  calls: number;
  faults: number;
  /** Time spent in process_vm_readv, ns. */
  readNs: number;
  /** Time spent in the consumer (pages + flush) and waiting for its flushes to settle, ns. */
  writeNs: number;
}

/** Options of PageReader.read(). */
export interface ReadOptions {
  /** Read from this process instead of the one the reader was made for (one buffer for a whole tree). */
  readonly pid?: number;
  /** After each buffer: pages handled so far (read + unreadable). */
  readonly onProgress?: (pagesDone: number) => void;
  /** Cancellation: checked every few buffers, when the event loop is also given a turn. */
  readonly signal?: AbortSignal;
  /** Test hook: called after each buffer went out, with its index (from 0). */
  readonly afterBuffer?: (index: number) => void;
}

const now = () => process.hrtime.bigint();
/** Buffers on transparent huge pages: process_vm_readv into them runs several times faster (sys/buffer.ts). */
const HUGE = { huge: true } as const;
/** Buffers between two event-loop turns when a signal is given (8 x 4 MiB: a few ms). */
const YIELD_EVERY = 8;

/**
 * Owns the read buffer and the iovec arrays; one per pre-dump. See the module comment for the fault rules.
 *
 * @example
 * using reader = new PageReader(pid, { bufferSize: 1 << 20 });
 * const st = await reader.read(ranges, consumer, { onProgress: (done) => bar.update(done) });
 */
export class PageReader {
  /** The buffers in rotation, allocated when first needed; `null` after close(). */
  private buffers: AlignedBuffer[] | null = [];
  private readonly size: number;
  private readonly count: number;
  private readonly remote = new IovecArray(IOV_MAX);
  private readonly local = new IovecArray(1);
  /** Range index of each remote iovec of the current call. */
  private readonly rangeOf = new Int32Array(IOV_MAX);
  private maps: Vma[] | null = null;
  /** Buffers reserve() touched already. */
  private touched = 0;

  /**
   * `bufferSize` is rounded up to whole pages (default 4 MiB); `buffers` (1-4, default 3) is how many
   * rotate when the consumer writes asynchronously (3: two writes can be queued at the disk while the
   * third buffer is read).
   */
  constructor(
    readonly pid: number,
    o: { bufferSize?: number; buffers?: number } = {},
  ) {
    const size = Math.ceil((o.bufferSize ?? 4 << 20) / PAGE_SIZE) * PAGE_SIZE;
    this.size = Math.max(size, PAGE_SIZE);
    this.count = Math.min(Math.max(Math.floor(o.buffers ?? 3), 1), 4);
    this.buffers?.push(new AlignedBuffer(this.size, PAGE_SIZE, false, HUGE));
  }

  /** Bytes of one buffer. */
  get bufferSize(): number {
    return this.buffers ? this.size : 0;
  }

  /**
   * Allocate every buffer of the rotation now (they are otherwise allocated when first needed): before a
   * freeze, so that the frozen window allocates nothing.
   */
  reserve(): void {
    if (!this.buffers) return;
    this.slot(this.count - 1);
    // touched: no page fault in the window (once: a reader lent to several dumps, as a migration's
    // iterations and its final dump, fills them for the first only)
    for (; this.touched < this.buffers.length; this.touched++) this.buffers[this.touched]!.bytes.fill(0);
  }

  /** Buffers allocated so far (at most `buffers` of the constructor). */
  get buffersInUse(): number {
    return this.buffers?.length ?? 0;
  }

  /** Slot `k`'s buffer, allocated untouched (the read faults its pages in; reserve() touches them). */
  private slot(k: number): AlignedBuffer {
    const bufs = this.buffers!;
    while (bufs.length <= k) bufs.push(new AlignedBuffer(this.size, PAGE_SIZE, false, HUGE));
    return bufs[k]!;
  }

  /** Where to resume after a fault at `addr`: the next page if still readable there, else the next VMA. */
  private resumeAfterFault(pid: number, addr: number): number {
    this.maps = readMaps(pid);
    for (const v of this.maps) {
      if (v.end <= addr) continue;
      if (v.start <= addr) return v.read ? addr + PAGE_SIZE : v.end;
      return v.start;
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Read every page of `ranges` into `out`. Throws MemError (ESRCH, EPERM, EIO). */
  async read(ranges: PageRanges, out: PageConsumer, o: ReadOptions = {}): Promise<ReadStats> {
    if (!this.buffers) throw new Error('PageReader used after close()');
    /** The flush of each slot's last buffer, while it may still be in flight. */
    const pending: (Promise<void> | undefined)[] = new Array(this.count).fill(undefined);
    try {
      return await this.readInto(ranges, out, o, pending);
    } catch (e) {
      await Promise.allSettled(pending); // nothing may still write from our buffers once we return
      throw e;
    }
  }

  private async readInto(
    ranges: PageRanges,
    out: PageConsumer,
    o: ReadOptions,
    pending: (Promise<void> | undefined)[],
  ): Promise<ReadStats> {
    const pid = o.pid ?? this.pid;
    const st: ReadStats = { pagesRead: 0, pagesUnreadable: 0, calls: 0, faults: 0, readNs: 0, writeNs: 0 };
    const { starts, ends } = ranges;
    const n = starts.length;
    const remote = this.remote;
    let i = 0;
    let pos = n > 0 ? starts[0]! : 0;
    let buffers = 0;
    let cur = 0;
    while (i < n) {
      const waitFor = pending[cur];
      if (waitFor) {
        const tw = now();
        pending[cur] = undefined;
        await waitFor;
        st.writeNs += Number(now() - tw);
      }
      const lent = out.nextBuffer?.();
      const buf = lent ?? this.slot(cur);
      const cap = buf.size;
      // plain Uint8Array views: cheaper to make than Buffer ones, and there is one per piece
      const bytes = new Uint8Array(buf.bytes.buffer, buf.bytes.byteOffset, buf.size);
      remote.clear();
      let fill = 0;
      while (i < n && !remote.full && fill < cap) {
        const len = Math.min(ends[i]! - pos, cap - fill);
        this.rangeOf[remote.length] = i;
        remote.push(pos, len);
        fill += len;
        pos += len;
        if (pos === ends[i]) {
          i++;
          pos = starts[i] ?? 0;
        }
      }
      this.local.clear();
      this.local.push(buf.address, fill);
      const t0 = now();
      let got: number;
      try {
        got = processVmReadv(pid, this.local, remote);
      } catch (e) {
        if (!(e instanceof SysError && e.code === 'EFAULT')) throw memErrorFrom(e, pid, 'reading its memory');
        got = 0; // the first iovec faulted
      }
      st.calls++;
      const t1 = now();
      st.readNs += Number(t1 - t0);
      let off = 0;
      for (let k = 0; k < remote.length; k++) {
        const base = remote.base(k);
        const len = remote.len(k);
        const take = Math.floor(Math.min(len, got - off) / PAGE_SIZE) * PAGE_SIZE;
        if (take > 0) {
          out.pages(base, take / PAGE_SIZE, bytes.subarray(off, off + take));
          st.pagesRead += take / PAGE_SIZE;
        }
        off += take;
        if (take < len) {
          // fault at base + take: rewind the cursor there, then skip what cannot be read
          st.faults++;
          const at = base + take;
          let resume: number;
          try {
            resume = this.resumeAfterFault(pid, at);
          } catch (e) {
            throw memErrorFrom(e, pid, 'reading its memory');
          }
          i = this.rangeOf[k]!;
          pos = at;
          while (i < n && pos < resume) {
            const segEnd = Math.min(ends[i]!, resume);
            st.pagesUnreadable += (segEnd - pos) / PAGE_SIZE;
            pos = segEnd;
            if (pos === ends[i]) {
              i++;
              pos = starts[i] ?? 0;
            }
          }
          break;
        }
      }
      const flushed = out.flush();
      if (flushed && lent) throw new Error('PageReader: a lent buffer was flushed asynchronously');
      if (flushed) {
        flushed.catch(() => {}); // awaited before the slot is reused, or at the end
        pending[cur] = flushed;
        cur = (cur + 1) % this.count;
      }
      st.writeNs += Number(now() - t1);
      o.afterBuffer?.(buffers++);
      o.onProgress?.(st.pagesRead + st.pagesUnreadable);
      if (o.signal && buffers % YIELD_EVERY === 0) {
        await new Promise((r) => setImmediate(r)); // let signal handlers run
        if (o.signal.aborted) throw cancelledBy(o.signal, 'cancelled');
      }
    }
    const tw = now();
    for (let k = 0; k < pending.length; k++) {
      const p = pending[(cur + k) % pending.length]; // oldest first
      if (p) await p;
    }
    pending.fill(undefined);
    st.writeNs += Number(now() - tw);
    return st;
  }

  /** Drop the buffers (safe to call twice). */
  close(): void {
    this.buffers = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
