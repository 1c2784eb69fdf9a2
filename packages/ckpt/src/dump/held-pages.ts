/**
 * The frozen window's copy, held in memory: a PageSink in front of the dump's session that lends the
 * reader page-aligned chunks to read into (mem/PageReader's `nextBuffer`) and records what the session
 * should get (begin, pages, holes, flush, end) instead of writing it. After the thaw, drain() replays the
 * record into the session (the writes, a page server's sends) and drops the chunks.
 *
 * ```
 * before the freeze   reserve(bytes): chunks allocated and touched (an estimate, at most the cap)
 * frozen window       reader -> nextBuffer() = a chunk -> pages(va, n, view of the chunk) -> recorded
 *                     (one more chunk than reserved: allocated in the window, counted as `grownBytes`)
 *   past the cap:     nextBuffer() = undefined (the reader's own buffer); everything recorded so far and
 *                     all that follows goes to the session now: written while frozen (`spilledBytes`)
 * after the thaw      drain(): the record replayed in order, flushes kept in flight (<= 4), chunks freed
 * ```
 * The session's first begin() passes through in the window: a page server answers OPEN2 with whether it
 * holds the process's parent, which the copy must know (ReadSource sends holes as data otherwise). A later
 * begin() with pages recorded before it is recorded too, unless that first answer came from a page server
 * (hasParent defined): then everything recorded is sent first, in the window, to ask it in order.
 *
 * @example
 * const hold = new HeldPages({ cap: 256 << 20, chunk: 4 << 20 });
 * hold.reserve(32 << 20);                          // before the freeze
 * const sink = hold.over(session);                 // in the window: the copy goes here
 * await writePlannedPages(reader, sink, plan, { pid });
 * tree.thaw(); await hold.drain();                 // after the thaw: written
 */
import type { BufferLender } from '../mem/index.js';
import { AlignedBuffer, PAGE_SIZE } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';
import type { PlannedItem } from './pre-copy.js';

/** Options of HeldPages. */
export interface HeldPagesOptions {
  /** Bytes of page data held at most (past it: written while frozen). */
  readonly cap: number;
  /** Bytes of one chunk (the reader's buffer size). */
  readonly chunk: number;
}

/** What a hold did, for the result. */
export interface HeldFigures {
  /** Page bytes held when the window ended (written after the thaw). */
  readonly heldBytes: number;
  /** Page bytes written while frozen because the cap was reached. */
  readonly spilledBytes: number;
  /** Chunk bytes allocated inside the window (the reservation was short). */
  readonly grownBytes: number;
  /** Bytes reserved before the freeze. */
  readonly reservedBytes: number;
  /** ns replaying the record into the session after the thaw. */
  readonly drainNs: number;
  /** Page bytes held by the pre-copy passes (pre-copy.ts) that the replay wrote into the pagemaps. */
  readonly precopiedBytes: number;
}

type Op =
  | { readonly k: 'begin'; readonly pid: number }
  | { readonly k: 'pages'; readonly va: number; readonly n: number; readonly bytes: Uint8Array }
  | { readonly k: 'hole'; readonly va: number; readonly n: number }
  | { readonly k: 'flush' }
  | { readonly k: 'end' };

/** Chunks on transparent huge pages (sys/buffer.ts: the copy into them runs several times faster). */
const HUGE = { huge: true } as const;
/** Flushes of held chunks in flight at once while draining. */
const IN_FLIGHT = 4;
/** Runs of a pre-copy merged between two flushes, at most (a flush is one writev). */
const RUNS_PER_FLUSH = 512;

export class HeldPages implements PageSink, BufferLender {
  private inner: PageSink | undefined;
  private ops: Op[] = [];
  private readonly pool: AlignedBuffer[] = [];
  private readonly used: AlignedBuffer[] = [];
  private spilling = false;
  private begun = false;
  /** Replays in order: each drainOps() runs after the previous one. */
  private chain: Promise<void> = Promise.resolve();
  private held = 0;
  private spilled = 0;
  private grown = 0;
  private reserved = 0;
  private drainNs = 0;
  private readonly cap: number;
  /** Per process, what the pre-copy adds to its pagemap (pre-copy.ts), made when first needed. */
  private readonly precopied = new Map<number, () => readonly PlannedItem[]>();
  private precopiedBytes = 0;
  /** The process being replayed, its pre-copied entries (made on first use), and the next to emit. */
  private replaying = 0;
  private merging: { readonly items: readonly PlannedItem[]; next: number } | undefined;

  constructor(private readonly o: HeldPagesOptions) {
    if (!(o.cap >= 0) || !(o.chunk > 0)) throw new RangeError(`bad hold: cap ${o.cap}, chunk ${o.chunk}`);
    this.cap = o.cap;
  }

  /**
   * THE FROZEN WINDOW, before `pid`'s begin(): what the pre-copy adds to its pagemap (held pages and
   * PE_PARENT holes, ascending, disjoint from what the window copies), made by `items` when the replay
   * first needs it: after the thaw (or in the window, if the hold spills). The replay merges them with
   * the window's pages in address order.
   */
  addPrecopied(pid: number, items: () => readonly PlannedItem[]): void {
    this.precopied.set(pid, items);
  }

  /** Whether the pre-copy adds entries to `pid`'s pagemap. */
  hasPrecopied(pid: number): boolean {
    return this.precopied.has(pid);
  }

  /** Allocate (and touch) chunks for `bytes` of pages, at most the cap: before the freeze. */
  reserve(bytes: number): void {
    const want = Math.min(bytes, this.cap);
    while (this.reserved + this.o.chunk <= want) {
      this.pool.push(new AlignedBuffer(this.o.chunk, PAGE_SIZE, true, HUGE));
      this.reserved += this.o.chunk;
    }
  }

  /** This hold in front of `session` (the same session for every process of the dump). */
  over(session: PageSink): this {
    if (this.inner && this.inner !== session) throw new Error('HeldPages.over: another session');
    this.inner = session;
    return this;
  }

  private get sink(): PageSink {
    if (!this.inner) throw new Error('HeldPages used before over(session)');
    return this.inner;
  }

  /** THE FROZEN WINDOW: a chunk for the reader's next buffer, or undefined past the cap. */
  nextBuffer(): AlignedBuffer | undefined {
    if (this.spilling) return undefined;
    if ((this.used.length + 1) * this.o.chunk > this.cap) {
      this.spilling = true;
      return undefined;
    }
    let b = this.pool.pop();
    if (!b) {
      b = new AlignedBuffer(this.o.chunk, PAGE_SIZE, true, HUGE);
      this.grown += this.o.chunk;
    }
    this.used.push(b);
    return b;
  }

  get hasParent(): boolean | undefined {
    return this.inner?.hasParent;
  }

  get bytesWritten(): number {
    return this.sink.bytesWritten;
  }

  begin(pid: number): void | Promise<void> {
    const first = !this.begun;
    this.begun = true;
    this.ops.push({ k: 'begin', pid });
    // the first begin goes through (a page server's answer); a later one after a page server's too
    if (first || this.spilling || this.sink.hasParent !== undefined) {
      if (!first) this.spilling = true;
      return this.replay();
    }
  }

  addPages(vaddr: number, nrPages: number, bytes: Uint8Array): void {
    this.ops.push({ k: 'pages', va: vaddr, n: nrPages, bytes });
    if (this.spilling) this.spilled += bytes.length;
    else this.held += bytes.length;
  }

  addHole(vaddr: number, nrPages: number): void {
    this.ops.push({ k: 'hole', va: vaddr, n: nrPages });
  }

  flush(): void | Promise<void> {
    this.ops.push({ k: 'flush' });
    if (this.spilling) return this.replay();
  }

  end(): void | Promise<void> {
    this.ops.push({ k: 'end' });
    if (this.spilling) return this.replay();
  }

  /** Everything recorded so far into the session, in order (after the previous replay). */
  private replay(): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    const next = this.chain.then(() => this.drainOps(ops));
    this.chain = next.catch(() => {});
    return next;
  }

  private async drainOps(ops: readonly Op[]): Promise<void> {
    const s = this.sink;
    const flying: Promise<void>[] = [];
    const flush = async () => {
      const p = s.flush();
      if (p) flying.push(p);
      if (flying.length >= IN_FLIGHT) await flying.shift();
    };
    /** The pre-copied entries below `va`, in order (flushed every RUNS_PER_FLUSH of them). */
    const precopiedBefore = async (va: number) => {
      let m = this.merging;
      if (!m) {
        const make = this.precopied.get(this.replaying);
        if (!make) return;
        this.precopied.delete(this.replaying);
        m = this.merging = { items: make(), next: 0 };
        for (const r of m.items) this.precopiedBytes += r.bytes?.length ?? 0;
      }
      let n = 0;
      while (m.next < m.items.length && m.items[m.next]!.va < va) {
        const r = m.items[m.next++]!;
        if (r.bytes) s.addPages(r.va, r.n, r.bytes);
        else s.addHole(r.va, r.n);
        if (++n % RUNS_PER_FLUSH === 0) await flush();
      }
      if (n % RUNS_PER_FLUSH !== 0 && va === Number.POSITIVE_INFINITY) await flush();
    };
    for (const op of ops) {
      switch (op.k) {
        case 'begin':
          this.replaying = op.pid;
          this.merging = undefined;
          await s.begin(op.pid);
          break;
        case 'pages':
          await precopiedBefore(op.va);
          s.addPages(op.va, op.n, op.bytes);
          break;
        case 'hole':
          await precopiedBefore(op.va);
          s.addHole(op.va, op.n);
          break;
        case 'flush':
          await flush();
          break;
        case 'end':
          await precopiedBefore(Number.POSITIVE_INFINITY);
          this.merging = undefined;
          await Promise.all(flying.splice(0));
          await s.end();
          break;
      }
    }
    await Promise.all(flying);
  }

  /**
   * After the thaw: replay what is still recorded into the session and free the chunks. Returns the bytes
   * that were held.
   */
  async drain(): Promise<void> {
    const t = process.hrtime.bigint();
    await this.replay();
    this.drainNs += Number(process.hrtime.bigint() - t);
    this.used.length = 0;
    this.pool.length = 0;
    this.precopied.clear();
  }

  figures(): HeldFigures {
    return {
      heldBytes: this.held,
      spilledBytes: this.spilled,
      grownBytes: this.grown,
      reservedBytes: this.reserved,
      drainNs: this.drainNs,
      precopiedBytes: this.precopiedBytes,
    };
  }

  /** A failed dump: drop the record and the chunks (the session is aborted by its owner). Safe twice. */
  abort(_reason: string): void {
    this.ops = [];
    this.precopied.clear();
    this.merging = undefined;
    this.used.length = 0;
    this.pool.length = 0;
  }

  /** The session's close is its owner's (ImageSet). */
  close(): void {}
}
