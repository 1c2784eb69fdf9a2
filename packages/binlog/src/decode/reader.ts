/**
 * LogReader: bytes of a binlog file (all at once, or as they are appended) -> decoded events.
 *
 * It verifies each frame (SYNC, length, CRC), resynchronises on the next SYNC after anything else and
 * counts what it skipped: bytes outside valid frames, and the rest of a block whose records cannot be
 * read (for example an event whose format definition was in a lost frame). A new header starts a new
 * segment (fresh ids). Blocks seen before any header decode with time origin 0.
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
  decodeHeader,
  type LogHeader,
  MAX_DICTIONARY_ID,
  PAYLOAD_BLOCK,
  PAYLOAD_HEADER,
  readRecord,
  scanFrame,
} from '../codec/index.js';
import type { ArgKind } from '../format/index.js';
import { DecodeError } from './errors.js';
import { type CompiledFormat, compileFormat, formatMessage } from './message.js';

/** One decoded log event (`msg` is computed when first read). */
export interface DecodedEvent {
  /** pino level number (10..60). */
  readonly level: number;
  /** Wall time in ms since the epoch (fractional: µs resolution). */
  readonly time: number;
  readonly msg: string;
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
  /** Records the writer reported dropped (highest drops record, summed over segments). */
  drops: number;
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
    drops: 0,
    unknownIds: 0,
    headers: 0,
    bytes: 0,
  };
  private pending: Buffer = Buffer.alloc(0);
  /** Absolute offset of pending[0] in the input; end of the last skipped range. */
  private offset = 0;
  private lastSkipEnd = -1;
  private header: LogHeader | null = null;
  private formats = new Map<number, CompiledFormat>();
  private ctx = new Map<number, string>();
  private dictFormats: Map<number, CompiledFormat> | null = null;
  private segmentDrops = 0;
  private readonly kindsOf = (id: number): readonly ArgKind[] | undefined => this.format(id)?.specs;

  constructor(private readonly opts: ReaderOptions) {}

  /** The header of the current segment. */
  get currentHeader(): LogHeader | null {
    return this.header;
  }

  /** Decode what `chunk` completes; a frame cut at the end waits for the next feed() or end(). */
  feed(chunk: Buffer, onEvent: (e: DecodedEvent) => void): void {
    this.stats.bytes += chunk.length;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const base = this.offset;
    let pos = 0;
    while (pos < buf.length) {
      const s = scanFrame(buf, pos);
      if (s.kind === 'partial') break;
      if (s.kind === 'garbage') {
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

  /** The input is complete: a frame still cut is a torn tail (skipped). Throws NOT_BINLOG if nothing was a frame. */
  end(): void {
    if (this.pending.length) this.skip(this.offset, this.pending.length);
    this.offset += this.pending.length;
    this.pending = Buffer.alloc(0);
    if (this.stats.frames === 0 && this.stats.bytes > 0) {
      throw new DecodeError('NOT_BINLOG', 'not a binlog file (no valid frame found)');
    }
  }

  /** Count `n` skipped bytes at absolute offset `at` (adjacent ranges count as one place). */
  private skip(at: number, n: number): void {
    if (n <= 0) return;
    this.stats.skippedBytes += n;
    if (at !== this.lastSkipEnd) this.stats.skippedRegions++;
    this.lastSkipEnd = at + n;
  }

  private format(id: number): CompiledFormat | undefined {
    if (id > MAX_DICTIONARY_ID) return this.formats.get(id);
    if (this.dictFormats === null) this.loadDictionary(null);
    return this.dictFormats!.get(id);
  }

  private loadDictionary(hash: string | null): void {
    const d = this.opts.dictionary;
    if (d === undefined) {
      throw new DecodeError(
        'NO_DICTIONARY',
        `this log was written with a pre-compiled dictionary${hash ? ` (hash ${hash})` : ''}: pass it with --dict FILE`,
      );
    }
    if (hash !== null && hash !== d.hash) {
      throw new DecodeError(
        'DICTIONARY_MISMATCH',
        `the log was written with dictionary ${hash}, not ${d.hash} (the --dict file)`,
      );
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
      if (kind !== PAYLOAD_BLOCK) throw new CodecError('CORRUPT', 'unknown payload kind');
      c.u8();
      const clock = { time: c.varint() };
      while (!c.done()) {
        const r = readRecord(c, clock, this.kindsOf);
        switch (r.kind) {
          case 'event':
            this.stats.records++;
            onEvent(this.event(r.level, r.time, r.id, r.ctx, r.args));
            break;
          case 'fmtdef':
            if (r.id <= MAX_DICTIONARY_ID)
              throw new CodecError('CORRUPT', 'run-time format id in the dictionary range');
            this.formats.set(r.id, this.compile(r.fmt));
            break;
          case 'ctxdef':
            this.ctx.set(r.ctx, r.json);
            break;
          case 'dict':
            this.loadDictionary(r.hash);
            break;
          case 'drops':
            if (r.total > this.segmentDrops) {
              this.stats.drops += r.total - this.segmentDrops;
              this.segmentDrops = r.total;
            }
            break;
          case 'unknown':
            this.stats.records++;
            this.stats.unknownIds++;
            onEvent(this.unknown(r.level, r.time, r.id));
            break;
        }
      }
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.skip(base + c.pos, end - c.pos);
    }
  }

  private compile(text: string): CompiledFormat {
    try {
      return compileFormat(text);
    } catch (e) {
      throw new CodecError('CORRUPT', `bad format text in the log: ${(e as Error).message}`);
    }
  }

  private newSegment(c: Cursor): void {
    this.header = decodeHeader(c);
    this.stats.headers++;
    this.formats = new Map();
    this.ctx = new Map();
    this.segmentDrops = 0;
  }

  private event(level: number, t: number, id: number, ctx: number, args: ArgValue[]): DecodedEvent {
    return new Event(
      level,
      (this.header?.originMs ?? 0) + t / 1000,
      ctx === 0 ? null : (this.ctx.get(ctx) ?? null),
      id,
      this.format(id)!,
      args,
      this.header?.pid ?? 0,
    );
  }

  private unknown(level: number, t: number, id: number): DecodedEvent {
    const text = `[binlog: a call with format id ${id}, which no registered dictionary defines]`;
    return new Event(
      level,
      (this.header?.originMs ?? 0) + t / 1000,
      null,
      id,
      UNKNOWN,
      [],
      this.header?.pid ?? 0,
      text,
    );
  }
}

const UNKNOWN: CompiledFormat = { text: '', parts: [''], specs: [] };

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
}
