/**
 * LogReader: bytes of binlog files (all at once, or as they are appended) -> decoded events.
 *
 * It verifies each frame (SYNC, length, CRC), resynchronises on the next SYNC after anything else and
 * counts what it skipped: bytes outside valid frames, and the rest of a block whose records cannot be
 * read (for example an event whose format definition was in a lost frame). A whole frame that fails its
 * CRC is salvaged rather than skipped: its records that decode cleanly and are plausible are kept, and
 * only the bytes from the damage to the next record boundary it can validate are skipped (salvage.ts;
 * counted as damagedFrames, damagedBytes, salvagedRecords).
 *
 * Version-2 blocks (codec/header.ts) carry their writer's stream id and clock anchor: the reader keeps
 * per-stream state (run-time formats, context fields, drop and loss totals), so frames of several writers
 * interleaved in one file decode, and a file that starts anywhere at a frame boundary decodes. Version-1
 * files (a header, then blocks that rely on it) still decode: a version-1 header starts a new segment
 * with fresh ids, and version-1 blocks before any header decode with time origin 0.
 *
 * Dictionaries: a log written with one records its hash. The given dictionary must have that hash, or
 * be a newer one whose entries up to some id hash to it (what `binlog precompile` produces when it only
 * adds formats). Without a dictionary, run-time (mode-1) records still decode; the records of a frame
 * from its first pre-compiled one on are skipped, and `stats.needsDictionary` names the hash.
 *
 * @example
 * const r = new LogReader({});
 * r.feed(readFileSync('app.blog'), (e) => console.log(e.msg));
 * r.end();
 * r.stats.skippedBytes; // 0 for an intact file
 */
import {
  type ArgValue,
  CodecError,
  Cursor,
  type Dictionary,
  DYNAMIC_ID,
  damagedFrame,
  decodeHeader,
  dictionaryPrefixHashes,
  FRAME_HEAD,
  type LogHeader,
  type LogRecord,
  MAX_DICTIONARY_ID,
  nextSync,
  PAYLOAD_BLOCK,
  PAYLOAD_BLOCK2,
  PAYLOAD_HEADER,
  readBlockHead,
  readRecord,
  scanFrame,
} from '../codec/index.js';
import type { ArgKind } from '../format/index.js';
import { DecodeError } from './errors.js';
import { type CompiledFormat, compileFormat, formatMessage, jsonInner } from './message.js';
import { plausible, salvageRecords } from './salvage.js';

/** Bytes of a new chunk joined to the cut frame before it (feed()): more than a usual frame (4 KiB). */
const JOIN_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** One decoded log event (`msg` is computed when first read). */
export interface DecodedEvent {
  /** pino level number (10..60). */
  readonly level: number;
  /** Wall time in ms since the epoch (fractional: µs resolution). */
  readonly time: number;
  readonly msg: string;
  /** The message as the inside of a JSON string literal (`JSON.stringify(msg).slice(1, -1)`). */
  readonly msgJson: string;
  /** Bound fields as JSON object text, or null. */
  readonly fields: string | null;
  /** Format id (dictionary id, run-time id, or the unknown id of an error record). */
  readonly id: number;
  /** Format text ('' for an unknown id). */
  readonly fmt: string;
  /** The arguments exactly as recorded. */
  readonly args: readonly ArgValue[];
  readonly pid: number;
}

export interface ReaderStats {
  frames: number;
  records: number;
  /** Bytes not decoded: outside valid frames, torn tails, unreadable rest of blocks. */
  skippedBytes: number;
  /** Places where bytes were skipped. */
  skippedRegions: number;
  /** Whole frames that failed their CRC; their plausible records were kept (salvage.ts). */
  damagedFrames: number;
  /** Records kept from damaged frames. */
  salvagedRecords: number;
  /** Bytes of damaged frames skipped (part of skippedBytes). */
  damagedBytes: number;
  /** Records the writers reported dropped under overload (highest total per writer, summed). */
  drops: number;
  /** Records the writers reported lost to write errors (disk full...; highest total per writer, summed). */
  lost: number;
  /** Writers (streams) seen. */
  writers: number;
  /** Hash of the dictionary the log needs and that was not given (its pre-compiled records were skipped), or null. */
  needsDictionary: string | null;
  /** Calls with an id no dictionary defines. */
  unknownIds: number;
  headers: number;
  bytes: number;
}

export interface ReaderOptions {
  /** The pre-compiled dictionary (required for logs written with one). */
  readonly dictionary?: Dictionary;
}

export class LogReader {
  readonly stats: ReaderStats = {
    frames: 0,
    records: 0,
    skippedBytes: 0,
    skippedRegions: 0,
    damagedFrames: 0,
    salvagedRecords: 0,
    damagedBytes: 0,
    drops: 0,
    lost: 0,
    writers: 0,
    needsDictionary: null,
    unknownIds: 0,
    headers: 0,
    bytes: 0,
  };
  private pending: Buffer = Buffer.alloc(0);
  /** Absolute offset of pending[0] in the input; end of the last skipped range. */
  private offset = 0;
  private lastSkipEnd = -1;
  private header: LogHeader | null = null;
  /** State of the stream being decoded (a version-2 writer, or the version-1 segment). */
  private cur: StreamState = newStream(0, 0);
  private readonly streams = new Map<number, StreamState>();
  private dictFormats: Map<number, CompiledFormat> | null = null;
  private readonly dictHashes = new Set<string>();
  private readonly compiled = new Map<string, CompiledFormat>();
  private readonly kindsOf = (id: number): readonly ArgKind[] | undefined => this.format(id)?.specs;

  constructor(private readonly opts: ReaderOptions) {}

  /** The header of the current segment. */
  get currentHeader(): LogHeader | null {
    return this.header;
  }

  /** Decode what `chunk` completes; a frame cut at the end waits for the next feed() or end(). */
  feed(chunk: Buffer, onEvent: (e: DecodedEvent) => void): void {
    this.stats.bytes += chunk.length;
    const pl = this.pending.length;
    if (pl === 0) {
      this.scan(chunk, false, onEvent);
      return;
    }
    // The frame cut at the end of the last chunk: completed with the start of this one, so that a
    // chunk of megabytes is not copied for the sake of a few kilobytes (a large frame takes it all).
    const k = Math.min(chunk.length, JOIN_BYTES);
    const at = this.offset;
    this.scan(Buffer.concat([this.pending, chunk.subarray(0, k)]), false, onEvent);
    const used = this.offset - at; // bytes of pending + chunk[0, k) consumed as whole frames
    if (used >= pl) {
      this.pending = EMPTY;
      this.scan(chunk.subarray(used - pl), false, onEvent);
    } else if (k < chunk.length) this.scan(Buffer.concat([this.pending, chunk.subarray(k)]), false, onEvent);
  }

  /** Decode the frames of `buf` (pending bytes first); at the input's end (`final`) a cut frame is skipped and scanning goes on after it. */
  private scan(buf: Buffer, final: boolean, onEvent: (e: DecodedEvent) => void): void {
    const base = this.offset;
    let pos = 0;
    while (pos < buf.length) {
      const s = scanFrame(buf, pos);
      if (s.kind === 'partial') {
        if (!final) break;
        // a torn frame (a write cut by a full disk, a crash) with whole frames after it
        const next = nextSync(buf, pos + 1, buf.length);
        this.skip(base + pos, next - pos);
        pos = next;
        continue;
      }
      if (s.kind === 'garbage') {
        const d = damagedFrame(buf, pos);
        if (d !== null) {
          this.salvageFrame(buf, pos, d.end, base, onEvent);
          pos = d.end;
          continue;
        }
        this.skip(base + pos, s.next - pos);
        pos = s.next;
        continue;
      }
      this.stats.frames++;
      this.payload(buf, s.payloadStart, s.end, base, onEvent);
      pos = s.end;
    }
    this.pending = Buffer.from(buf.subarray(pos));
    this.offset = base + pos;
  }

  /**
   * The input is complete: a frame still cut is a torn tail (skipped; whole frames after it still go to
   * `onEvent`). Throws NOT_BINLOG if nothing was a frame, NO_DICTIONARY if the log needs a dictionary and not one record decoded without it.
   */
  end(onEvent: (e: DecodedEvent) => void = () => {}): void {
    this.nextFile(onEvent);
    if (this.stats.frames === 0 && this.stats.bytes > 0) {
      throw new DecodeError('NOT_BINLOG', 'not a binlog file (no valid frame found)');
    }
    const need = this.stats.needsDictionary;
    if (need !== null && this.stats.records === 0) {
      throw new DecodeError(
        'NO_DICTIONARY',
        `this log was written with a pre-compiled dictionary${need ? ` (hash ${need})` : ''}: pass it with --dict FILE`,
      );
    }
  }

  /** Start reading another file: a cut frame at the end of the previous one is skipped, stream state is kept. */
  nextFile(onEvent: (e: DecodedEvent) => void = () => {}): void {
    if (this.pending.length) this.scan(this.pending, true, onEvent);
    this.offset += this.pending.length;
    this.pending = Buffer.alloc(0);
  }

  /** Count `n` skipped bytes at absolute offset `at` (adjacent ranges count as one place). */
  private skip(at: number, n: number): void {
    if (n <= 0) return;
    this.stats.skippedBytes += n;
    if (at !== this.lastSkipEnd) this.stats.skippedRegions++;
    this.lastSkipEnd = at + n;
  }

  /** The last run-time format looked up, and its stream (a record's format is looked up twice, and runs of records share one). */
  private lastId = -1;
  private lastIn: StreamState | null = null;
  private lastFormat: CompiledFormat | undefined = undefined;

  private format(id: number): CompiledFormat | undefined {
    if (id > MAX_DICTIONARY_ID) {
      if (id === this.lastId && this.cur === this.lastIn) return this.lastFormat;
      const f = this.cur.formats.get(id);
      if (f !== undefined) {
        this.lastId = id;
        this.lastIn = this.cur;
        this.lastFormat = f;
      }
      return f;
    }
    if (this.dictFormats === null) this.loadDictionary(null);
    return this.dictFormats!.get(id);
  }

  /** Check the log's dictionary `hash` (null: an id record without one) against the given dictionary. */
  private loadDictionary(hash: string | null): void {
    const d = this.opts.dictionary;
    if (d === undefined) {
      this.stats.needsDictionary ??= hash ?? '';
      throw new CodecError('CORRUPT', 'a pre-compiled record and no dictionary');
    }
    if (hash !== null && hash !== d.hash && !this.dictHashes.has(hash)) {
      if (this.dictHashes.size === 0)
        for (const h of dictionaryPrefixHashes(d.formats)) this.dictHashes.add(h);
      if (!this.dictHashes.has(hash)) {
        throw new DecodeError(
          'DICTIONARY_MISMATCH',
          `the log was written with dictionary ${hash}, which neither is ${d.hash} (the --dict file) nor is contained in it`,
        );
      }
    }
    if (this.dictFormats === null)
      this.dictFormats = new Map(d.formats.map((f) => [f.id, compileFormat(f.fmt)]));
  }

  private payload(
    buf: Buffer,
    start: number,
    end: number,
    base: number,
    onEvent: (e: DecodedEvent) => void,
  ): void {
    const c = new Cursor(buf, start, end);
    try {
      const kind = buf[start];
      if (kind === PAYLOAD_HEADER) {
        this.newSegment(c);
        return;
      }
      let clock: { time: number };
      if (kind === PAYLOAD_BLOCK2) {
        const h = readBlockHead(c);
        let st = this.streams.get(h.stream);
        if (st === undefined) {
          st = newStream(h.originMs, h.pid);
          this.streams.set(h.stream, st);
          this.stats.writers++;
        }
        st.originMs = h.originMs;
        st.pid = h.pid;
        if (h.dropped > st.drops) {
          this.stats.drops += h.dropped - st.drops;
          st.drops = h.dropped;
        }
        if (h.lost > st.lost) {
          this.stats.lost += h.lost - st.lost;
          st.lost = h.lost;
        }
        this.cur = st;
        c.strings = st.strings;
        clock = { time: h.base };
      } else if (kind === PAYLOAD_BLOCK) {
        this.cur = this.legacy;
        c.u8();
        clock = { time: c.varint() };
      } else throw new CodecError('CORRUPT', 'unknown payload kind');
      while (!c.done()) this.apply(readRecord(c, clock, this.kindsOf), onEvent);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.skip(base + c.pos, end - c.pos);
    }
  }

  /** Act on one record read from a frame of the current stream. */
  private apply(r: LogRecord, onEvent: (e: DecodedEvent) => void): void {
    switch (r.kind) {
      case 'event':
        this.stats.records++;
        onEvent(this.event(r.level, r.time, r.id, r.ctx, r.args, r.fields));
        break;
      case 'fmtdef':
        if (r.id <= MAX_DICTIONARY_ID)
          throw new CodecError('CORRUPT', 'run-time format id in the dictionary range');
        this.cur.formats.set(r.id, this.compile(r.fmt));
        this.lastId = -1;
        break;
      case 'ctxdef':
        this.cur.ctx.set(r.ctx, r.json);
        break;
      case 'dict':
        if (this.opts.dictionary === undefined) this.stats.needsDictionary ??= r.hash;
        else this.loadDictionary(r.hash);
        break;
      case 'drops':
        if (r.total > this.cur.drops) {
          this.stats.drops += r.total - this.cur.drops;
          this.cur.drops = r.total;
        }
        break;
      case 'unknown':
        this.stats.records++;
        this.stats.unknownIds++;
        onEvent(this.unknown(r.level, r.time, r.id));
        break;
    }
  }

  /**
   * A whole frame that failed its CRC (codec/frame.ts damagedFrame): its records that decode cleanly and
   * are plausible are kept, the bytes the damage touched are skipped (salvage.ts). A frame whose block
   * head is not that of a writer already seen (same stream, pid and clock anchor) is skipped whole.
   */
  private salvageFrame(
    buf: Buffer,
    start: number,
    end: number,
    base: number,
    onEvent: (e: DecodedEvent) => void,
  ): void {
    const c = new Cursor(buf, start + FRAME_HEAD, end);
    c.strict = true;
    this.stats.damagedFrames++;
    let st: StreamState | undefined;
    let clock: { time: number };
    try {
      if (buf[c.pos] !== PAYLOAD_BLOCK2) throw new CodecError('CORRUPT', 'not a version-2 block');
      const h = readBlockHead(c);
      st = this.streams.get(h.stream);
      if (st === undefined || st.pid !== h.pid || st.originMs !== h.originMs)
        throw new CodecError('CORRUPT', 'the block head of no known writer');
      clock = { time: h.base };
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.skip(base + start, end - start);
      this.stats.damagedBytes += end - start;
      return;
    }
    this.cur = st;
    c.strings = st.strings;
    const kept = salvageRecords(
      c,
      clock,
      (cur, ck, first) => this.judge(cur, ck, first),
      (r) => this.apply(r, onEvent),
      (at, n) => {
        this.skip(base + at, n);
        this.stats.damagedBytes += n;
      },
    );
    this.stats.salvagedRecords += kept;
  }

  /** A record of a damaged frame, if it is plausible (salvage.ts); null or a CodecError if not. */
  private judge(c: Cursor, clock: { time: number }, first: boolean): LogRecord | null {
    const t0 = clock.time;
    const r = readRecord(c, clock, this.kindsOf);
    return plausible(r, first ? 0 : clock.time - t0, this.cur, (id) => this.format(id) !== undefined);
  }

  /** The compiled format of a fmtdef's text (cached: every write of every writer repeats its definitions). */
  private compile(text: string): CompiledFormat {
    let f = this.compiled.get(text);
    if (f !== undefined) return f;
    try {
      f = compileFormat(text);
    } catch (e) {
      throw new CodecError('CORRUPT', `bad format text in the log: ${(e as Error).message}`);
    }
    this.compiled.set(text, f);
    return f;
  }

  /** Version-1 blocks: the state of the segment the last version-1 header started. */
  private legacy: StreamState = newStream(0, 0);

  private newSegment(c: Cursor): void {
    const h = decodeHeader(c);
    this.header = h;
    this.stats.headers++;
    if (h.version === 1) this.legacy = newStream(h.originMs, h.pid);
  }

  private event(
    level: number,
    t: number,
    id: number,
    ctx: number,
    args: ArgValue[],
    own: string | null,
  ): DecodedEvent {
    const st = this.cur;
    const bound = ctx === 0 ? null : (st.ctx.get(ctx) ?? null);
    let format: CompiledFormat;
    if (id === DYNAMIC_ID) {
      format = dynamicFormat(args[0]);
      args = args.slice(1);
    } else format = this.format(id)!;
    return new Event(
      level,
      st.originMs + t / 1000,
      own === null ? bound : mergeFields(bound, own),
      id,
      format,
      args,
      st.pid,
    );
  }

  private unknown(level: number, t: number, id: number): DecodedEvent {
    const text = `[binlog: a call with format id ${id}, which no registered dictionary defines]`;
    return new Event(level, this.cur.originMs + t / 1000, null, id, UNKNOWN, [], this.cur.pid, text);
  }
}

/** What the reader keeps per writer: its anchor, run-time formats, contexts and reported totals. */
interface StreamState {
  originMs: number;
  pid: number;
  readonly formats: Map<number, CompiledFormat>;
  readonly ctx: Map<number, string>;
  /** Repeated strings of fields (codec/value.ts), by id. */
  readonly strings: Map<number, string>;
  drops: number;
  lost: number;
}

function newStream(originMs: number, pid: number): StreamState {
  return { originMs, pid, formats: new Map(), ctx: new Map(), strings: new Map(), drops: 0, lost: 0 };
}

const UNKNOWN: CompiledFormat = { text: '', parts: [''], specs: [] };

/**
 * Bound fields then a record's own fields, as one JSON object text. Keys are not deduplicated: like pino's
 * output for a child binding and a logged key of the same name, both appear and JSON.parse keeps the last.
 */
function mergeFields(bound: string | null, own: string): string {
  if (bound === null || bound.length <= 2) return own;
  if (own.length <= 2) return bound;
  return `${bound.slice(0, -1)},${own.slice(1)}`;
}

/** Formats of non-interned messages (DYNAMIC_ID records), by text; a bounded cache. */
const dynamicFormats = new Map<string, CompiledFormat>();

/** The format of a DYNAMIC_ID record: its first argument's text, or literal text when it is not a valid format. */
function dynamicFormat(text: ArgValue): CompiledFormat {
  if (typeof text !== 'string') return UNKNOWN;
  let f = dynamicFormats.get(text);
  if (f === undefined) {
    try {
      f = compileFormat(text, false);
    } catch {
      f = { text, parts: [text], specs: [] };
    }
    if (dynamicFormats.size >= 1024) dynamicFormats.clear();
    dynamicFormats.set(text, f);
  }
  return f;
}

/** A decoded event; its message text is built on first use (stats and level filters never pay for it). */
class Event implements DecodedEvent {
  constructor(
    readonly level: number,
    readonly time: number,
    readonly fields: string | null,
    readonly id: number,
    private readonly format: CompiledFormat,
    readonly args: readonly ArgValue[],
    readonly pid: number,
    private text: string | null = null,
  ) {}

  get fmt(): string {
    return this.format.text;
  }

  get msg(): string {
    if (this.text === null) this.text = formatMessage(this.format, this.args);
    return this.text;
  }

  get msgJson(): string {
    const f = this.format;
    if (this.text === null && f.renderJson !== undefined && this.args.length === f.specs.length)
      return f.renderJson(this.args);
    return jsonInner(this.msg);
  }
}
