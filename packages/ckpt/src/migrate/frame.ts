/**
 * The migration wire: one TCP (or TLS) connection between `ckpt migrate` (the source) and `ckpt receive`
 * (the destination) carries frames. Each frame is a 16-byte header and a payload:
 *
 * ```
 *  0          4          8          12         16
 *  +----------+----------+----------+----------+--------------------------+
 *  | type u32 | flags u32| len u32  | raw u32  | payload (len bytes)      |   little endian
 *  +----------+----------+----------+----------+--------------------------+
 *  flags bit 0: the payload is compressed with the negotiated codec; raw = its length once decompressed
 *  (raw = len otherwise)
 * ```
 * Control frames carry one JSON object; PAGES carries bytes of CRIU's page-server protocol (the page
 * stream of one image set, fed to the destination's PageServerSession as a socket's bytes would be) and
 * REPLY the session's replies; FILE carries one image file (u16 name length, the name, the bytes).
 *
 * ```
 * source                                          destination
 * HELLO {version, codecs, pid,        ------->
 *        features: ['preview']}
 *                                     <-------    WELCOME {version, codecs, codec, features}
 * per image set n (pre-dumps, then the final dump):
 * SET {n, parent, final, preview?}    ------->    opens DIR/<n> (parent ../<n-1>); preview (pre-dumps,
 *                                                 when WELCOME listed 'preview'): {pid, shellJob,
 *                                                 vmas: [[start, end, prot]...]}, the root pre-built
 *                                                 from the set once complete (prebuild.ts)
 * PAGES* ... PAGES_END                ------->    the page-server session (REPLY* back, REPLY_END)
 * FILE* (inventory.img last)          ------->
 * SET_DONE {n}                        ------->
 *                                     <-------    SET_OK {n, pages}
 * DRAIN {}  (once the loop finishes,  ------->    waits until every set received is pre-built
 *  when WELCOME listed 'drain')       <-------    DRAINED {ms}  (then the source freezes)
 * RESTORE {n}                         ------->    restores DIR/<n>, the tree runs
 *                                     <-------    RUNNING {pid, millis}
 * (the source kills its frozen tree)
 * DONE                                ------->    the migration is complete
 * ABORT {reason} / ERROR {message}    <------>    either side gives up: the source thaws, the
 *                                                 destination kills what it restored, removes DIR/<n>s
 * ```
 * Features are additive: a peer ignores fields it does not know, so an older peer (no `features`) still
 * works, without the pre-build; MIGRATION_VERSION changes only for what an older peer would misread.
 *
 * @example
 * const p = new FrameParser();
 * for (const f of p.feed(encodeFrameHeader(FRAME.DONE, 0, 0, 0))) f.type === FRAME.DONE;
 */
import { MigrateError } from './errors.js';

export const FRAME = {
  HELLO: 1,
  WELCOME: 2,
  SET: 3,
  PAGES: 4,
  PAGES_END: 5,
  REPLY: 6,
  REPLY_END: 7,
  FILE: 8,
  SET_DONE: 9,
  SET_OK: 10,
  RESTORE: 11,
  RUNNING: 12,
  DONE: 13,
  ABORT: 14,
  ERROR: 15,
  DRAIN: 16,
  DRAINED: 17,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

const NAMES = new Map<number, string>(Object.entries(FRAME).map(([k, v]) => [v, k]));

/** A frame type's name, for messages. */
export function frameName(type: number): string {
  return NAMES.get(type) ?? `frame type ${type}`;
}

export const FRAME_HEADER = 16;
export const FLAG_COMPRESSED = 1;
/** No payload is larger: a page stream's frames are one read buffer (<= 64 MiB) and its headers. */
export const MAX_FRAME = 80 << 20;
/** The protocol's version in HELLO/WELCOME. */
export const MIGRATION_VERSION = 1;

/** One received frame. Its payload arrives in pieces (slices of the socket's chunks, not copied). */
export class Frame {
  private joined: Buffer | undefined;

  constructor(
    readonly type: number,
    readonly flags: number,
    /** Its length once decompressed. */
    readonly raw: number,
    /** The payload as received (compressed when flags has FLAG_COMPRESSED), in order. */
    readonly pieces: readonly Buffer[],
  ) {}

  /** The payload in one buffer (copied once when it came in several pieces). */
  get payload(): Buffer {
    this.joined ??= this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    return this.joined;
  }
}

export function encodeFrameHeader(type: number, flags: number, len: number, raw: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(flags, 4);
  h.writeUInt32LE(len, 8);
  h.writeUInt32LE(raw, 12);
  return h;
}

/** A whole frame with a JSON payload. */
export function encodeJsonFrame(type: number, body: object): Buffer {
  const p = Buffer.from(JSON.stringify(body));
  return Buffer.concat([encodeFrameHeader(type, 0, p.length, p.length), p]);
}

/** A FILE frame's payload: u16 name length, the name (utf-8), the bytes. */
export function encodeFilePayload(name: string, bytes: Uint8Array): Buffer {
  const n = Buffer.from(name);
  const h = Buffer.allocUnsafe(2);
  h.writeUInt16LE(n.length, 0);
  return Buffer.concat([h, n, bytes]);
}

/** The name and bytes of a FILE payload; throws MigrateError PROTOCOL on a bad one. */
export function decodeFilePayload(p: Buffer): { name: string; bytes: Buffer } {
  if (p.length < 2) throw new MigrateError('PROTOCOL', 'FILE frame without a name');
  const len = p.readUInt16LE(0);
  if (len === 0 || 2 + len > p.length)
    throw new MigrateError('PROTOCOL', 'FILE frame with a bad name length');
  const name = p.subarray(2, 2 + len).toString();
  if (name.includes('/') || name.startsWith('.') || name.includes('\0'))
    throw new MigrateError('PROTOCOL', `FILE frame with a bad name ${JSON.stringify(name)}`);
  return { name, bytes: p.subarray(2 + len) };
}

/** A JSON payload as an object; throws MigrateError PROTOCOL when it is not one. */
export function decodeJson(f: Frame): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(f.payload.toString());
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new MigrateError('PROTOCOL', `${frameName(f.type)} frame without a JSON object`);
}

/**
 * Turns a byte stream into frames. Payloads are copied out of the chunks only when a frame spans
 * several of them. Throws MigrateError PROTOCOL on a bad header (unknown type, absurd length).
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: { type: number; flags: number; len: number; raw: number } | undefined;

  feed(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Frame[] = [];
    for (;;) {
      if (!this.header) {
        if (this.buffered < FRAME_HEADER) return out;
        const parts = this.take(FRAME_HEADER);
        const h = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        const type = h.readUInt32LE(0);
        const flags = h.readUInt32LE(4);
        const len = h.readUInt32LE(8);
        const raw = h.readUInt32LE(12);
        if (!NAMES.has(type)) throw new MigrateError('PROTOCOL', `unknown frame type ${type}`);
        if (len > MAX_FRAME || raw > MAX_FRAME)
          throw new MigrateError('PROTOCOL', `${frameName(type)} frame of ${len} bytes (${raw} raw)`);
        if ((flags & ~FLAG_COMPRESSED) !== 0 || (!(flags & FLAG_COMPRESSED) && raw !== len))
          throw new MigrateError('PROTOCOL', `${frameName(type)} frame with bad flags ${flags}`);
        this.header = { type, flags, len, raw };
      }
      const h = this.header;
      if (this.buffered < h.len) return out;
      out.push(new Frame(h.type, h.flags, h.raw, this.take(h.len)));
      this.header = undefined;
    }
  }

  /** Bytes received but not yet a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  /** The next `n` bytes as slices of the chunks (none copied). */
  private take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        out.push(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        out.push(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}
