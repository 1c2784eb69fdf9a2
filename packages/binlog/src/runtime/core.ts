/**
 * The writer behind a logger and its children: one preallocated buffer holding the frames being built,
 * handed to the kernel in one write when it is full, when its age passes the flush interval, on
 * flush()/close() and when the thread ends.
 *
 * Buffer layout (codec/header.ts, codec/index.ts): a write is a run of frames of at most CHUNK bytes,
 * each one a version-2 block that carries the writer's identity and clock anchor:
 * ```
 * [SYNC len crc 'b' head base records...][SYNC len crc 'b' head base records...]...
 *  ^chunkStart                ^contentStart             ^pos      ^end (soft: chunkStart + CHUNK)
 * ```
 * A record never straddles a frame: the generated writers check room against `end`, so when a record
 * does not fit, the general path seals the frame (its CRC) and opens the next one in the same buffer.
 * Cost: one general-path call per 4 KiB, nothing per record; gain: damage is confined to the 4 KiB frame
 * it touches (the decoder then loses only the records it touched: decode/salvage.ts), and each frame is at most PIPE_BUF bytes (written whole to a pipe).
 *
 * Each write is self-contained: the definitions (format texts, context fields, dictionary hash) are
 * reset when a write starts, so every write defines what its records use. Any file made of whole writes
 * decodes on its own: a rotated piece, the file left by copytruncate, writes of several writers
 * interleaved by O_APPEND.
 *
 * Overload policies:
 * - `block`: a full buffer is written synchronously (the caller waits for a slow disk).
 * - `drop`: also synchronous; when a non-blocking pipe or socket takes only part (EAGAIN), the rest waits
 *   in a second buffer, and while it cannot be written, new records that do not fit are dropped and
 *   counted. A regular file never refuses a write, so it never drops.
 * Write errors (ENOSPC, EBADF, EPIPE...) count the records of the unwritten frames as `lost`, and are
 * reported on the logger's 'error' listeners (output.ts, write-stats.ts).
 *
 * @example
 * const core = new Core(Destination.open('/tmp/a.blog'), { bufferSize: 65536, overload: 'block', flushIntervalMs: 100, clock: 'precise' });
 * core.log(3, null, 1, 'n=%d', 5, undefined, undefined, undefined, undefined, undefined);
 * core.close();
 */
import { threadId } from 'node:worker_threads';
import {
  BLOCK2_FIXED,
  type BlockOrigin,
  defSize,
  encodeHeader,
  FORMAT_VERSION,
  FRAME_HEAD,
  LV_CUSTOM,
  R_CTXDEF,
  R_DICT,
  R_FMTDEF,
  sealBlockCounters,
  sealFrame,
  writeBlockHead,
  writeDef,
} from '../codec/index.js';
import { type CoarseClock, coarseClock, preciseMicros } from './clock.js';
import type { Destination } from './destination.js';
import { type Context, type RecordSink, writeDynamic } from './encoder.js';
import { NOT_PLAIN, writeErrorRecord } from './error-record.js';
import { track, untrack } from './exit-hooks.js';
import {
  DICTIONARY_INDEX,
  DYNAMIC_FORMAT,
  FormatEntry,
  internedFormat as interned,
  internFormat,
  registeredDictionary,
  runtimeFormat,
} from './format-table.js';
import { argsOf, type GeneralRecord, HEAD_ROOM, writeGeneral } from './general-record.js';
import { Output, type RotateOptions } from './output.js';
import { RepeatedStrings } from './repeated-strings.js';
import type { ErrorChannel, LoggerStats } from './write-stats.js';

/** Largest single record (an oversized record gets a buffer of its own, up to this). */
const MAX_RECORD = 1 << 30;
/** The format of `log.error(err)`'s record: the error's message as '%s' (interned on first use). */
let errorFormat: FormatEntry | null = null;
/** Size of a frame in a write (PIPE_BUF: the kernel keeps a pipe write of this size whole). */
export const CHUNK = 4096;
/** Frame head + block head + the largest base varint. */
const CHUNK_HEAD = FRAME_HEAD + BLOCK2_FIXED + 8;
/** A frame with less room than this left is closed when a record does not fit (rare()). */
const FRAME_NEAR_FULL = 512;
/** A new frame in the same buffer only when at least this much room is left for records. */
const MIN_CHUNK_ROOM = 256;

export interface CoreOptions {
  readonly bufferSize: number;
  readonly overload: 'block' | 'drop';
  readonly flushIntervalMs: number;
  /** 'precise': process.hrtime() per record (µs); 'coarse': a shared cell a clock thread updates (clock.ts). */
  readonly clock: 'precise' | 'coarse';
  /** Built-in rotation (path destinations), or undefined. */
  readonly rotate?: RotateOptions | undefined;
}

export type { Context } from './encoder.js';
export type { RotateOptions } from './output.js';

export class Core implements RecordSink {
  /** @internal The buffer being filled (RecordSink, written by the per-format writers). */
  buf: Buffer;
  /** @internal A DataView over `buf`. */
  view: DataView;
  /** @internal Write offset in `buf`. */
  pos = 0;
  /** @internal End of the current frame's room (a soft end: see the module comment). */
  end = 0;
  /** @internal Timestamp (µs) of the last record written. */
  lastT = 0;
  private bufEnd: number;
  private chunkStart = 0;
  private contentStart = 0;
  private readonly origin: BlockOrigin;
  /** @internal fmtSeen[i] === 1: run-time format i is defined in the current write (RecordSink). */
  fmtSeen = new Uint8Array(64);
  /** @internal The dictionary hash is in the current write (RecordSink). */
  dictWritten = false;
  /** Long field strings that repeat (stacks): referred to by id after their definition in a write. */
  private readonly repeated = new RepeatedStrings();
  /** Contexts defined in the current write (their `written` is reset when the next write starts). */
  private ctxWritten: Context[] = [];
  private nextCtx = 1;
  private readonly timer: NodeJS.Timeout;
  /** @internal The coarse clock, or null (RecordSink). */
  readonly coarse: CoarseClock | null;
  /** Records dropped (overload 'drop', or after close). */
  dropped = 0;
  private droppedSealed = 0;
  private lostSealed = 0;
  /** The destination side: writes, rotation, errors and their counts. */
  private readonly out: Output;
  /** Log calls that failed inside binlog (never thrown to the caller). */
  internalErrors = 0;
  closed = false;
  /** The logger's 'error' listeners. */
  readonly errors: ErrorChannel;

  constructor(
    dest: Destination,
    private readonly opts: CoreOptions,
  ) {
    this.out = new Output(dest, opts);
    this.errors = this.out.errors;
    this.buf = Buffer.allocUnsafe(opts.bufferSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.bufEnd = opts.bufferSize;
    this.coarse = opts.clock === 'coarse' ? coarseClock() : null;
    const wall = Date.now();
    this.lastT = preciseMicros();
    const originMs = wall - this.lastT / 1000;
    this.origin = {
      stream: (Math.random() * 0x100000000) >>> 0,
      originMs,
      pid: process.pid,
      thread: threadId,
    };
    const head = encodeHeader({
      version: FORMAT_VERSION,
      originMs,
      startMs: wall,
      pid: process.pid,
      thread: threadId,
    });
    const frame = Buffer.alloc(FRAME_HEAD + head.length);
    head.copy(frame, FRAME_HEAD);
    sealFrame(frame, 0, head.length);
    this.out.write(frame, frame.length, true);
    this.startChunk();
    this.timer = setInterval(() => this.tick(), opts.flushIntervalMs);
    this.timer.unref();
    track(this);
  }

  /** A new context id for a child logger's fields. */
  context(json: string): Context {
    return { id: this.nextCtx++, json, written: false };
  }

  /**
   * Log `f` (a format string or a pre-compiled call's FormatEntry) with `argc` arguments a..g; false
   * (nothing logged) when `f` is neither: the logger then takes it as one of pino's shapes. The common case (a known format, its argument count and kinds, room in the buffer,
   * definitions written) is the format's generated writer (encoder.ts), which also reads the clock;
   * everything else goes to rare(). Kept small so that V8 inlines it into the level method; the writer
   * stays one call.
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
  ): boolean {
    try {
      let fe: FormatEntry | undefined;
      if (typeof f === 'string') fe = runtimeFormat(f);
      else if (f instanceof FormatEntry) fe = f;
      else return false;
      if (fe !== undefined) {
        if (fe.write(this, lv, ctx, argc, a, b, c, d, e, g)) return true;
        // a message seen once (not interned): its text as the only argument, without an array
      } else if (argc === 0 && typeof f === 'string' && writeDynamic(this, lv, ctx, f)) return true;
      this.rare(lv, ctx, argc, f, a, b, c, d, e, g);
    } catch {
      this.internalErrors++;
    }
    return true;
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
    // The current 4 KiB frame is (nearly) full: open the next one and retry the hand-written or
    // generated writer (once per frame; the general path below would allocate and re-dispatch). log()
    // already counted a string towards interning, so it is only looked up here.
    if (this.end - this.pos < FRAME_NEAR_FULL && this.pos > this.contentStart && this.closed === false) {
      const fe = typeof f === 'string' ? interned(f) : f instanceof FormatEntry ? f : undefined;
      if (fe !== undefined) {
        if (this.makeRoom() && fe.write(this, lv, ctx, argc, a, b, c, d, e, g)) return;
      } else if (argc === 0 && typeof f === 'string' && this.makeRoom() && writeDynamic(this, lv, ctx, f))
        return;
    }
    this.logWith(lv, 0, ctx, null, f, argsOf(argc, a, b, c, d, e, g), true);
  }

  /** Log with the arguments in an array (`all[0]` is the format, FormatEntry or first value). */
  logArray(lv: number, ctx: Context | null, all: unknown[]): void {
    this.logWith(lv, 0, ctx, null, all[0], all.slice(1));
  }

  /**
   * The general path. `lv` is the level index (1..6, or LV_CUSTOM with the pino number `level`),
   * `fields` the record's own fields (pino's merging object, serialised and redacted), `f` the format,
   * FormatEntry or first value (a value that is neither is the message, printed as by '%s'), `rest` the
   * arguments after it (owned by the record from here).
   * `seen`: log() already counted this text towards interning (runtimeFormat), so it is only looked up.
   */
  logWith(
    lv: number,
    level: number,
    ctx: Context | null,
    fields: object | null,
    f: unknown,
    rest: unknown[],
    seen = false,
  ): void {
    try {
      let fe: FormatEntry | undefined;
      let args = rest;
      if (f instanceof FormatEntry) fe = f;
      else if (typeof f === 'string') {
        fe = seen ? interned(f) : runtimeFormat(f);
        if (fe === undefined) {
          fe = DYNAMIC_FORMAT;
          args = [f, ...rest];
        }
      } else {
        fe = internFormat('%s'); // a first value that is no format is the message: '%s' prints it as util.format
        args = [f, ...rest];
      }
      if (this.closed) {
        this.dropped++;
        return;
      }
      this.slow({ lv, level, ctx, fields, fe, args }, this.now());
    } catch {
      this.internalErrors++;
    }
  }

  /**
   * `log.error(err)` (level index `lv`, 1..6) written from the error itself (error-record.ts); false,
   * having written nothing, when the general path must take it (an error with causes or nested errors,
   * a closed writer, 'drop' waiting for a pipe).
   */
  logError(lv: number, ctx: Context | null, err: Error): boolean {
    if (this.closed) return false;
    errorFormat ??= internFormat('%s');
    const fe = errorFormat;
    const t = this.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.define(fe, ctx)) {
        const p = writeErrorRecord(
          this.buf,
          this.pos,
          this.end,
          lv,
          ctx,
          fe,
          err,
          t - this.lastT,
          this.repeated,
        );
        if (p >= 0) {
          this.repeated.commit();
          this.pos = p;
          this.lastT = t;
          return true;
        }
        this.repeated.rollback();
        if (p === NOT_PLAIN) return false;
      }
      if (!this.makeRoom()) return false;
    }
    return false;
  }

  /** The current time in µs, never before the previous record's (the generated writers read the clock and apply the same rule themselves: encoder.ts). */
  private now(): number {
    const t = this.coarse === null ? preciseMicros() : this.coarse.micros();
    return Math.max(t, this.lastT);
  }

  /** The general path: retries after making room (a new frame, a flush), then in a buffer of its own. */
  private slow(r: GeneralRecord, t: number): void {
    const { lv, ctx, fe, args } = r;
    const plain = r.fields === null && lv !== LV_CUSTOM;
    for (let attempt = 0; attempt < 6; attempt++) {
      if (this.define(fe, ctx)) {
        if (
          plain &&
          fe.write(this, lv, ctx, args.length, args[0], args[1], args[2], args[3], args[4], args[5])
        )
          return;
        const p = writeGeneral(this.buf, this.pos, this.end, r, t - this.lastT, this.repeated);
        if (p >= 0) {
          this.pos = p;
          this.lastT = t;
          return;
        }
      }
      if (this.chunkStart === 0 && this.pos === this.contentStart && this.end === this.bufEnd) break;
      if (!this.makeRoom()) {
        this.dropped++;
        return;
      }
    }
    this.bigRecord(r, t);
  }

  /** A record larger than the buffer: written alone from a larger buffer. */
  private bigRecord(r: GeneralRecord, t: number): void {
    this.flushBuffer(true);
    const normal = this.buf;
    try {
      for (let size = this.bufEnd * 4; size <= MAX_RECORD; size *= 2) {
        this.useBuffer(Buffer.allocUnsafe(size));
        this.end = size; // one frame: a record never straddles frames
        if (!this.define(r.fe, r.ctx)) continue;
        const p = writeGeneral(this.buf, this.pos, this.end, r, t - this.lastT, this.repeated);
        if (p < 0) continue;
        this.pos = p;
        this.lastT = t;
        this.flushBuffer(true);
        return;
      }
      this.dropped++;
    } finally {
      this.useBuffer(normal);
    }
  }

  /** Switch to buffer `b` and start a new write in it. */
  private useBuffer(b: Buffer): void {
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.length);
    this.bufEnd = b.length;
    this.newWrite();
  }

  /** Write the definitions an event needs before it (format text, dictionary hash, context fields); false when they or the event head do not fit. */
  private define(fe: FormatEntry, ctx: Context | null): boolean {
    if (fe.index >= 0 && this.fmtSeen[fe.index] !== 1) {
      if (this.pos + defSize(fe.text) > this.end) return false;
      this.pos = writeDef(this.buf, this.pos, R_FMTDEF, fe.id, fe.text);
      if (fe.index >= this.fmtSeen.length) {
        const grown = new Uint8Array(Math.max(fe.index + 1, this.fmtSeen.length * 2));
        grown.set(this.fmtSeen);
        this.fmtSeen = grown;
      }
      this.fmtSeen[fe.index] = 1;
    }
    if (fe.index === DICTIONARY_INDEX && !this.dictWritten) {
      const hash = registeredDictionary()?.hash ?? '';
      if (this.pos + defSize(hash) > this.end) return false;
      this.pos = writeDef(this.buf, this.pos, R_DICT, 0, hash);
      this.dictWritten = true;
    }
    if (ctx !== null && !ctx.written) {
      if (this.pos + defSize(ctx.json) > this.end) return false;
      this.pos = writeDef(this.buf, this.pos, R_CTXDEF, ctx.id, ctx.json);
      ctx.written = true;
      this.ctxWritten.push(ctx);
    }
    return this.pos + HEAD_ROOM <= this.end;
  }

  /** Open a frame at `pos` (the caller left CHUNK_HEAD bytes of room). */
  private startChunk(): void {
    const p = this.pos;
    this.chunkStart = p;
    this.pos = this.contentStart = writeBlockHead(this.buf, p + FRAME_HEAD, this.origin, this.lastT);
    this.end = Math.min(p + CHUNK, this.bufEnd);
  }

  /** Close the current frame (CRC, counters); an empty one is discarded unless the counters moved. */
  private sealChunk(): void {
    if (
      this.pos === this.contentStart &&
      this.dropped === this.droppedSealed &&
      this.out.lost === this.lostSealed
    ) {
      this.pos = this.chunkStart;
      return;
    }
    sealBlockCounters(this.buf, this.chunkStart + FRAME_HEAD, this.dropped, this.out.lost);
    this.droppedSealed = this.dropped;
    this.lostSealed = this.out.lost;
    sealFrame(this.buf, this.chunkStart, this.pos - this.chunkStart - FRAME_HEAD);
  }

  /** Start a new write at the buffer's start: no definitions in it yet. */
  private newWrite(): void {
    this.pos = 0;
    this.repeated.newWrite();
    this.fmtSeen.fill(0);
    this.dictWritten = false;
    for (const c of this.ctxWritten) c.written = false;
    this.ctxWritten.length = 0;
    this.startChunk();
  }

  /** Room for more records: a new frame in the buffer, a larger frame, or a flush; false while 'drop' waits for a pipe. */
  private makeRoom(): boolean {
    if (this.pos > this.contentStart) {
      if (this.bufEnd - this.pos < CHUNK_HEAD + MIN_CHUNK_ROOM)
        return this.flushBuffer(this.opts.overload === 'block');
      this.sealChunk();
      this.startChunk();
      return true;
    }
    if (this.end < this.bufEnd) {
      this.end = this.bufEnd; // an empty frame grows to the buffer's end for a large record
      return true;
    }
    return this.chunkStart > 0 && this.flushBuffer(this.opts.overload === 'block');
  }

  /**
   * Write the buffer's frames and start a new write. With `block` false ('drop'), a pipe that cannot take
   * the previous write's rest yet leaves everything in place and returns false.
   */
  private flushBuffer(block: boolean): boolean {
    if (!this.out.writePending(block)) return false;
    this.sealChunk();
    if (this.pos > 0) this.out.write(this.buf, this.pos, block);
    this.newWrite();
    return true;
  }

  private tick(): void {
    if (
      this.pos > this.contentStart ||
      this.chunkStart > 0 ||
      this.dropped !== this.droppedSealed ||
      this.out.lost !== this.lostSealed
    ) {
      this.flushBuffer(this.opts.overload === 'block');
    }
  }

  /** Write everything buffered now, synchronously (also what exit and signal hooks call). */
  flushSync(): void {
    if (this.closed) return;
    this.flushBuffer(true);
  }

  /** Flush, then open the path again (logrotate's postrotate, SIGHUP handlers). */
  reopen(): void {
    this.flushSync();
    this.out.reopen();
  }

  /** The counters of this writer (write-stats.ts). */
  stats(): LoggerStats {
    const o = this.out;
    return {
      bytes: o.bytes,
      writes: o.writes,
      dropped: this.dropped,
      lost: o.lost,
      writeErrors: o.writeErrors,
      lastError: o.lastError,
      reopens: o.dest.reopens,
      rotations: o.dest.rotations,
      internalErrors: this.internalErrors + o.internalErrors,
    };
  }

  /** Flush, stop the timer and release the destination; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    clearInterval(this.timer);
    untrack(this);
    this.out.close();
  }
}
