/**
 * The writer behind a logger and its children: one preallocated buffer holding the frame being built,
 * handed to the kernel in one write when it is full, when its age passes the flush interval, on
 * flush()/close() and when the thread ends.
 *
 * Buffer layout: `[frame head: 12][ 'B' base:varint ][records...]` (see codec/index.ts).
 *
 * Overload policies:
 * - `block`: a full buffer is written synchronously (fs.writeSync): the caller waits for a slow disk.
 * - `drop`: a full buffer is written asynchronously while records go to a second buffer; when that one
 *   is full too before the write completes, records are dropped and counted, and the running total is
 *   written as a `drops` record at the start of the next block. Memory: two buffers. A synchronous
 *   flush (exit) rewrites the in-flight buffer at its own offset first, so nothing written is lost.
 *
 * @example
 * const core = new Core(Destination.open('/tmp/a.blog'), { bufferSize: 65536, overload: 'block', flushIntervalMs: 100 });
 * core.log(3, null, 1, 'n=%d', 5, undefined, undefined, undefined, undefined, undefined);
 * core.close();
 */
import { threadId } from 'node:worker_threads';
import {
  defSize,
  EV_ARGC,
  EV_CTX,
  encodeHeader,
  FORMAT_VERSION,
  FRAME_HEAD,
  PAYLOAD_BLOCK,
  R_CTXDEF,
  R_DICT,
  R_FMTDEF,
  sealFrame,
  writeDef,
  writeDrops,
  writeUnknown,
  writeVarint,
} from '../codec/index.js';
import { type CoarseClock, coarseClock, preciseMicros } from './clock.js';
import type { Destination } from './destination.js';
import { type Context, type RecordSink, writeArgs } from './encoder.js';
import { track, untrack } from './exit-hooks.js';
import { dictionaryFormat, type FormatEntry, registeredDictionary, runtimeFormat } from './format-table.js';

/** Room an event head needs: tag, id, dt, ctx, argc. */
const HEAD_ROOM = 1 + 4 + 8 + 8 + 8;
/** Largest single record (an oversized record gets a frame of its own, up to this). */
const MAX_RECORD = 1 << 30;

export interface CoreOptions {
  readonly bufferSize: number;
  readonly overload: 'block' | 'drop';
  readonly flushIntervalMs: number;
  /** 'precise': process.hrtime() per record (µs); 'coarse': a shared cell a clock thread updates (clock.ts). */
  readonly clock: 'precise' | 'coarse';
}

export type { Context } from './encoder.js';

export class Core implements RecordSink {
  /** @internal The buffer being filled (RecordSink, written by the per-format writers). */
  buf: Buffer;
  /** @internal A DataView over `buf`. */
  view: DataView;
  /** @internal Write offset in `buf`. */
  pos = 0;
  /** @internal End of `buf`. */
  readonly end: number;
  /** @internal Timestamp (µs) of the last record written. */
  lastT = 0;
  private spare: Buffer | null;
  private inflight: { buf: Buffer; len: number; at: number; rewritten: boolean } | null = null;
  private contentStart = 0;
  /** @internal fmtSeen[i] === 1: run-time format i is defined in the stream (RecordSink). */
  fmtSeen = new Uint8Array(64);
  /** @internal The dictionary hash is in the stream (RecordSink). */
  dictWritten = false;
  private nextCtx = 1;
  private readonly timer: NodeJS.Timeout;
  /** @internal The coarse clock, or null (RecordSink). */
  readonly coarse: CoarseClock | null;
  /** Records dropped (overload, write errors, or after close). */
  dropped = 0;
  private droppedWritten = 0;
  /** Log calls that failed inside binlog (never thrown to the caller). */
  internalErrors = 0;
  closed = false;

  constructor(
    private readonly dest: Destination,
    private readonly opts: CoreOptions,
  ) {
    this.buf = Buffer.allocUnsafe(opts.bufferSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.spare = opts.overload === 'drop' ? Buffer.allocUnsafe(opts.bufferSize) : null;
    this.end = opts.bufferSize;
    this.coarse = opts.clock === 'coarse' ? coarseClock() : null;
    const wall = Date.now();
    this.lastT = preciseMicros();
    const head = encodeHeader({
      version: FORMAT_VERSION,
      originMs: wall - this.lastT / 1000,
      startMs: wall,
      pid: process.pid,
      thread: threadId,
    });
    const frame = Buffer.alloc(FRAME_HEAD + head.length);
    head.copy(frame, FRAME_HEAD);
    sealFrame(frame, 0, head.length);
    dest.writeSync(frame, frame.length);
    this.startBlock();
    this.timer = setInterval(() => this.tick(), opts.flushIntervalMs);
    this.timer.unref();
    track(this);
  }

  /** A new context id for a child logger's fields. */
  context(json: string): Context {
    return { id: this.nextCtx++, json, written: false };
  }

  /**
   * Log `f` (a format string, a dictionary id, or any other value) with `argc` arguments a..g. The
   * common case (a known format, its argument count and kinds, room in the buffer, definitions written)
   * is the format's generated writer (encoder.ts), which also reads the clock; everything else goes to
   * logArray(). Kept small so that V8 inlines it into the level method; the writer stays one call.
   */
  log(
    lv: number,
    ctx: Context | null,
    argc: number,
    f: unknown,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    g: unknown,
  ): void {
    try {
      const fe =
        typeof f === 'number' ? dictionaryFormat(f) : typeof f === 'string' ? runtimeFormat(f) : undefined;
      if (fe === undefined || !fe.write(this, lv, ctx, argc, a, b, c, d, e, g)) {
        this.rare(lv, ctx, argc, f, a, b, c, d, e, g);
      }
    } catch {
      this.internalErrors++;
    }
  }

  private rare(
    lv: number,
    ctx: Context | null,
    argc: number,
    f: unknown,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    g: unknown,
  ): void {
    this.logArray(lv, ctx, [f, a, b, c, d, e, g].slice(0, argc + 1));
  }

  /** Log with the arguments in an array (`all[0]` is the format, id or first value). */
  logArray(lv: number, ctx: Context | null, all: unknown[]): void {
    try {
      const f = all[0];
      let fe: FormatEntry | undefined;
      let args = all.slice(1);
      if (typeof f === 'string') fe = runtimeFormat(f);
      else if (typeof f === 'number') {
        fe = dictionaryFormat(f);
        if (fe === undefined) {
          this.unknown(lv, f);
          return;
        }
      } else {
        fe = runtimeFormat('');
        args = all;
      }
      if (this.closed) {
        this.dropped++;
        return;
      }
      this.slow(lv, ctx, fe, args, this.now());
    } catch {
      this.internalErrors++;
    }
  }

  /** The current time in µs, never before the previous record's (the generated writers read the clock and apply the same rule themselves: encoder.ts). */
  private now(): number {
    const t = this.coarse === null ? preciseMicros() : this.coarse.micros();
    return Math.max(t, this.lastT);
  }

  /** The general path: retries in an empty buffer, then in a frame of its own. */
  private slow(lv: number, ctx: Context | null, fe: FormatEntry, args: unknown[], t: number): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt === 1 && !this.makeRoom()) {
        this.dropped++;
        return;
      }
      if (!this.define(fe, ctx)) continue;
      if (fe.write(this, lv, ctx, args.length, args[0], args[1], args[2], args[3], args[4], args[5])) return;
      const p = this.writeEvent(this.buf, this.pos, this.end, lv, ctx, fe, args, t - this.lastT);
      if (p >= 0) {
        this.pos = p;
        this.lastT = t;
        return;
      }
    }
    this.flushSync();
    for (let size = this.end * 4; size <= MAX_RECORD; size *= 2) {
      const big = Buffer.allocUnsafe(size);
      big[FRAME_HEAD] = PAYLOAD_BLOCK;
      const start = writeVarint(big, FRAME_HEAD + 1, this.lastT);
      const p = this.writeEvent(big, start, size, lv, ctx, fe, args, t - this.lastT);
      if (p < 0) continue;
      sealFrame(big, 0, p - FRAME_HEAD);
      this.write(big, p);
      // lastT stays: it is the base of the (empty) block now in this.buf, which later deltas start from
      return;
    }
    this.dropped++;
  }

  private writeEvent(
    buf: Buffer,
    p: number,
    end: number,
    lv: number,
    ctx: Context | null,
    fe: FormatEntry,
    args: unknown[],
    dt: number,
  ): number {
    if (p + HEAD_ROOM > end) return -1;
    const argc = args.length;
    buf[p] = lv | (ctx === null ? 0 : EV_CTX) | (argc === fe.n ? 0 : EV_ARGC);
    p = writeVarint(buf, p + 1, fe.id);
    p = writeVarint(buf, p, dt);
    if (ctx !== null) p = writeVarint(buf, p, ctx.id);
    if (argc !== fe.n) p = writeVarint(buf, p, argc);
    return writeArgs(buf, p, end, args);
  }

  /** Write the definitions an event needs before it (format text, dictionary hash, context fields). */
  private define(fe: FormatEntry, ctx: Context | null): boolean {
    if (fe.index >= 0 && this.fmtSeen[fe.index] !== 1) {
      if (!this.room(defSize(fe.text))) return false;
      this.pos = writeDef(this.buf, this.pos, R_FMTDEF, fe.id, fe.text);
      if (fe.index >= this.fmtSeen.length) {
        const grown = new Uint8Array(Math.max(fe.index + 1, this.fmtSeen.length * 2));
        grown.set(this.fmtSeen);
        this.fmtSeen = grown;
      }
      this.fmtSeen[fe.index] = 1;
    }
    if (fe.index < 0 && !this.dictWritten) {
      const hash = registeredDictionary()?.hash ?? '';
      if (!this.room(defSize(hash))) return false;
      this.pos = writeDef(this.buf, this.pos, R_DICT, 0, hash);
      this.dictWritten = true;
    }
    if (ctx !== null && !ctx.written) {
      if (!this.room(defSize(ctx.json))) return false;
      this.pos = writeDef(this.buf, this.pos, R_CTXDEF, ctx.id, ctx.json);
      ctx.written = true;
    }
    return this.pos + HEAD_ROOM <= this.end || this.makeRoom();
  }

  /** Make `n` bytes of room; a definition larger than a buffer is an error. */
  private room(n: number): boolean {
    if (this.pos + n <= this.end) return true;
    if (n + FRAME_HEAD + 16 > this.end) throw new RangeError('definition larger than the buffer');
    return this.makeRoom();
  }

  private unknown(lv: number, id: number): void {
    if (this.closed || (this.pos + 24 > this.end && !this.makeRoom())) {
      this.dropped++;
      return;
    }
    const t = this.now();
    this.pos = writeUnknown(
      this.buf,
      this.pos,
      lv,
      t - this.lastT,
      Number.isSafeInteger(id) && id >= 0 ? id : 0,
    );
    this.lastT = t;
  }

  private startBlock(): void {
    const buf = this.buf;
    buf[FRAME_HEAD] = PAYLOAD_BLOCK;
    this.pos = this.contentStart = writeVarint(buf, FRAME_HEAD + 1, this.lastT);
    if (this.dropped !== this.droppedWritten) {
      this.pos = writeDrops(buf, this.pos, this.dropped);
      this.droppedWritten = this.dropped;
    }
  }

  private seal(): number {
    sealFrame(this.buf, 0, this.pos - FRAME_HEAD);
    return this.pos;
  }

  private write(buf: Buffer, len: number): void {
    try {
      this.dest.writeSync(buf, len);
    } catch {
      this.internalErrors++;
    }
  }

  /** Empty the current buffer; false when it cannot be done now ('drop' with a write in flight). */
  private makeRoom(): boolean {
    if (this.opts.overload === 'block') {
      this.write(this.buf, this.seal());
      this.startBlock();
      return true;
    }
    if (this.inflight !== null || this.spare === null) return false;
    const len = this.seal();
    const buf = this.buf;
    const at = this.dest.reserve(len) ?? 0;
    const job = { buf, len, at, rewritten: false };
    this.inflight = job;
    this.dest.writeAsync(buf, len, at, (err) => {
      if (err) this.internalErrors++;
      if (this.inflight === job) this.inflight = null;
      this.spare = buf;
      if (this.closed) this.dest.close();
    });
    this.buf = this.spare;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.spare = null;
    this.startBlock();
    return true;
  }

  private tick(): void {
    if (this.pos > this.contentStart || this.dropped !== this.droppedWritten) this.makeRoom();
  }

  /** Write everything buffered now, synchronously (also what exit and signal hooks call). */
  flushSync(): void {
    const job = this.inflight;
    if (job !== null && !job.rewritten) {
      job.rewritten = true;
      try {
        this.dest.writeSync(job.buf, job.len, job.at);
      } catch {
        this.internalErrors++;
      }
    }
    if (this.dropped !== this.droppedWritten && this.pos + 10 <= this.end) {
      this.pos = writeDrops(this.buf, this.pos, this.dropped);
      this.droppedWritten = this.dropped;
    }
    if (this.pos > this.contentStart) {
      this.write(this.buf, this.seal());
      this.startBlock();
    }
  }

  /** Flush, stop the timer and release the destination; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    clearInterval(this.timer);
    untrack(this);
    if (this.inflight === null) this.dest.close();
  }
}
