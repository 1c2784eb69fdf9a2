/**
 * CRIU's page-server wire protocol: the 32-byte message header, the commands, the dst_id encoding, the
 * replies, and an incremental parser that turns a byte stream (TCP chunks) into messages and payload
 * slices without copying payload bytes.
 *
 * Every message starts with this header (a C struct in host byte order, little endian on x86-64):
 * ```
 *  0         4         8                16               24               32
 *  +---------+---------+----------------+----------------+----------------+
 *  | cmd u32 | pad u32 | nr_pages u64   | vaddr u64      | dst_id u64     |  then nr_pages × 4096 bytes
 *  +---------+---------+----------------+----------------+----------------+  iff cmd carries data
 *  cmd  = command (low 16 bits) | flags << 16 (PE_* bits, for PS_IOV_ADD_F)
 *  pad  = garbage: never assumed zero, ignored on decode, written as zero
 *  dst_id = (id << 8) | type          type: 1 = task (id = pid), 2 = shmem (id = shmid)
 * ```
 * Payload follows PS_IOV_ADD (always) and PS_IOV_ADD_F (when flags has PE_PRESENT). Replies are raw: one
 * byte has_parent for OPEN2, a little-endian int32 for PARENT (1/0) and CLOSE/FORCE_CLOSE (0).
 *
 * A session (pre-dump): `PARENT(dst) -> i32` `OPEN2(dst) -> u8` `ADD_F(...)+data ...` `CLOSE -> i32`, then
 * the client closes and the server sees EOF.
 *
 * @example
 * const bytes = encodePsHeader({ cmd: PS.IOV_ADD_F, flags: PE.PRESENT, nrPages: 1, vaddr: 0x1000, dstId: encodeDstId('pid', 42) });
 * const p = new PsParser();
 * for (const ev of p.feed(Buffer.concat([bytes, Buffer.alloc(4096)]))) console.log(ev.kind); // message, data
 */
import { PAGE_SIZE } from '../sys/constants.js';
import { WireCursor, WireWriter } from './wire-cursor.js';
import { WireError } from './wire-errors.js';

/** Command numbers (the low 16 bits of `cmd`). */
export const PS = {
  IOV_ADD: 1,
  IOV_HOLE: 2,
  IOV_OPEN: 3,
  IOV_OPEN2: 4,
  IOV_PARENT: 5,
  IOV_ADD_F: 6,
  IOV_GET: 7,
  IOV_CLOSE: 0x1023,
  IOV_FORCE_CLOSE: 0x1024,
  /** ckpt extension: the crc32 of the data of the preceding ADD_F (see `CHECKSUM_PROBE`). Not CRIU's. */
  IOV_CHECKSUM: 0x6b01,
} as const;

/** Pagemap flags carried in the high 16 bits of `cmd` (same values as the image's PE_*). */
export const PE_WIRE = { PARENT: 1, LAZY: 2, PRESENT: 4 } as const;

/** dst_id types. */
export const PS_TYPE = { PID: 1, SHMEM: 2 } as const;
export const PS_TYPE_BITS = 8;

export const HEADER_SIZE = 32;
/** nr_pages above this is absurd (CRIU itself never sends more than one pipe's worth). */
export const MAX_NR_PAGES = 2 ** 32;
/** Top of the largest user address space (5-level paging); ranges must end at or below it. */
export const USER_SPACE_END = 2 ** 56;

/**
 * The checksum extension's probe: a PARENT query for a pid no kernel hands out (pid_max <= 2^22). A CRIU
 * server answers it like any PARENT query (0: no such parent pagemap) and carries on; a ckpt server answers
 * `CHECKSUM_MAGIC`, after which the client follows each data-carrying ADD_F with an IOV_CHECKSUM message.
 */
export const CHECKSUM_PROBE_ID = 0xc5c5c5;
export const CHECKSUM_MAGIC = 0x4d534b43; // "CKSM"

export interface PsHeader {
  /** Command number (low 16 bits of the cmd word). */
  readonly cmd: number;
  /** PE_* flags (high 16 bits of the cmd word). */
  readonly flags: number;
  readonly nrPages: number;
  readonly vaddr: number;
  /** Raw dst_id (PS_IOV_GET carries a plain pid here). */
  readonly dstId: number;
}

export type DstKind = 'pid' | 'shmem';
export interface Dst {
  readonly kind: DstKind;
  readonly id: number;
}

const COMMAND_NAMES = new Map<number, string>(
  Object.entries(PS).map(([name, value]) => [value, `PS_${name}`] as [number, string]),
);

/** `PS_IOV_ADD_F` for 6, `cmd 0x99` for numbers we do not know. */
export function commandName(cmd: number): string {
  return COMMAND_NAMES.get(cmd) ?? `cmd 0x${cmd.toString(16)}`;
}

/** Whether `cmd` is a command this implementation knows. */
export function isKnownCommand(cmd: number): boolean {
  return COMMAND_NAMES.has(cmd);
}

/** The 32 header bytes (padding written as zero). */
export function encodePsHeader(h: PsHeader): Buffer {
  if (h.cmd >>> 16 !== 0 || h.flags >>> 16 !== 0) {
    throw new WireError(
      'BAD_HEADER',
      `cmd 0x${h.cmd.toString(16)} / flags 0x${h.flags.toString(16)} exceed 16 bits`,
    );
  }
  return new WireWriter(HEADER_SIZE)
    .u32((h.flags << 16) | h.cmd)
    .u32(0)
    .u64(h.nrPages)
    .u64(h.vaddr)
    .u64(h.dstId)
    .finish();
}

/** Decode exactly 32 bytes. The padding word is ignored (CRIU leaves stack garbage there). */
export function decodePsHeader(bytes: Buffer): PsHeader {
  const c = new WireCursor(bytes);
  const word = c.u32('cmd');
  c.skip(4, 'padding');
  const nrPages = c.u64('nr_pages');
  const vaddr = c.u64('vaddr');
  const dstId = c.u64('dst_id');
  c.end('page-server header');
  return { cmd: word & 0xffff, flags: word >>> 16, nrPages, vaddr, dstId };
}

/** `(id << 8) | type`. */
export function encodeDstId(kind: DstKind, id: number): number {
  if (!Number.isSafeInteger(id) || id < 0 || id >= 2 ** 45)
    throw new WireError('BAD_DST_ID', `bad image id ${id}`);
  return id * 2 ** PS_TYPE_BITS + (kind === 'pid' ? PS_TYPE.PID : PS_TYPE.SHMEM);
}

/** Split a dst_id; legacy type numbers from old CRIUs are accepted as CRIU does. */
export function decodeDstId(dstId: number): Dst {
  const type = dstId % 2 ** PS_TYPE_BITS;
  const id = Math.floor(dstId / 2 ** PS_TYPE_BITS);
  switch (type) {
    case PS_TYPE.PID:
    case 10:
    case 11:
    case 16:
    case 17:
      return { kind: 'pid', id };
    case PS_TYPE.SHMEM:
    case 27:
    case 28:
    case 29:
    case 32:
    case 33:
    case 34:
      return { kind: 'shmem', id };
    default:
      throw new WireError('BAD_DST_ID', `dst_id 0x${dstId.toString(16)}: unknown pagemap type ${type}`);
  }
}

/** Bytes of data that follow a message with this header. */
export function payloadLength(h: PsHeader): number {
  if (h.cmd === PS.IOV_ADD || (h.cmd === PS.IOV_ADD_F && h.flags & PE_WIRE.PRESENT))
    return h.nrPages * PAGE_SIZE;
  return 0;
}

/** Whether the command describes a range of pages (then nr_pages and vaddr must make sense). */
export function isRangeCommand(cmd: number): boolean {
  return cmd === PS.IOV_ADD || cmd === PS.IOV_ADD_F || cmd === PS.IOV_HOLE;
}

/** Reject a range command whose nr_pages/vaddr cannot describe user memory. */
export function checkRange(h: PsHeader): void {
  if (!isRangeCommand(h.cmd)) return;
  if (h.nrPages < 1 || h.nrPages > MAX_NR_PAGES) {
    throw new WireError('TOO_MANY_PAGES', `${commandName(h.cmd)}: nr_pages ${h.nrPages} is absurd`);
  }
  if (h.vaddr % PAGE_SIZE !== 0) {
    throw new WireError(
      'BAD_HEADER',
      `${commandName(h.cmd)}: vaddr 0x${h.vaddr.toString(16)} not page-aligned`,
    );
  }
  if (h.vaddr + h.nrPages * PAGE_SIZE > USER_SPACE_END) {
    throw new WireError(
      'TOO_MANY_PAGES',
      `${commandName(h.cmd)}: ${h.nrPages} pages at 0x${h.vaddr.toString(16)} run past the end of user space`,
    );
  }
}

/** One byte: the OPEN2 reply. */
export function encodeHasParent(hasParent: boolean): Buffer {
  return Buffer.from([hasParent ? 1 : 0]);
}

export function decodeHasParent(bytes: Buffer): boolean {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'OPEN2 reply: no byte');
  if (bytes.length > 1) throw new WireError('TRAILING_BYTES', `OPEN2 reply: ${bytes.length} bytes`);
  if (bytes[0]! > 1) throw new WireError('BAD_REPLY', `OPEN2 reply ${bytes[0]} is neither 0 nor 1`);
  return bytes[0] === 1;
}

/** A little-endian int32: the PARENT and CLOSE replies. */
export function encodeI32Reply(v: number): Buffer {
  return new WireWriter(4).i32(v).finish();
}

export function decodeI32Reply(bytes: Buffer): number {
  const c = new WireCursor(bytes);
  const v = c.i32('reply');
  c.end('reply');
  return v;
}

/** What the parser yields: a message header (with its payload size), then its payload in slices. */
export type PsEvent =
  | { readonly kind: 'message'; readonly header: PsHeader; readonly payloadBytes: number }
  | { readonly kind: 'data'; readonly bytes: Buffer; readonly last: boolean };

/**
 * Incremental parser: feed it chunks as they arrive; it yields each header once complete (a header split
 * across chunks is staged in 32 bytes) and each payload as views into the chunks. A header whose range is
 * absurd throws before any of its payload is consumed. `end()` checks the stream stopped between messages.
 */
export class PsParser {
  private readonly staged = Buffer.alloc(HEADER_SIZE);
  private stagedLen = 0;
  private payloadLeft = 0;
  private messages = 0;

  /** Messages decoded so far. */
  get count(): number {
    return this.messages;
  }

  /** Whether the stream is between messages (no partial header, no payload pending). */
  get idle(): boolean {
    return this.stagedLen === 0 && this.payloadLeft === 0;
  }

  *feed(chunk: Buffer): Generator<PsEvent> {
    let off = 0;
    while (off < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - off);
        this.payloadLeft -= n;
        const bytes = chunk.subarray(off, off + n);
        off += n;
        yield { kind: 'data', bytes, last: this.payloadLeft === 0 };
        continue;
      }
      let raw: Buffer;
      if (this.stagedLen === 0 && chunk.length - off >= HEADER_SIZE) {
        raw = chunk.subarray(off, off + HEADER_SIZE);
        off += HEADER_SIZE;
      } else {
        const n = Math.min(HEADER_SIZE - this.stagedLen, chunk.length - off);
        chunk.copy(this.staged, this.stagedLen, off, off + n);
        this.stagedLen += n;
        off += n;
        if (this.stagedLen < HEADER_SIZE) return;
        this.stagedLen = 0;
        raw = this.staged;
      }
      const header = decodePsHeader(raw);
      checkRange(header);
      const payloadBytes = payloadLength(header);
      this.payloadLeft = payloadBytes;
      this.messages++;
      yield { kind: 'message', header, payloadBytes };
    }
  }

  /** The stream ended: `TRUNCATED` unless it ended between messages. */
  end(): void {
    if (this.stagedLen > 0)
      throw new WireError('TRUNCATED', `stream ends inside a header (${this.stagedLen} of 32 bytes)`);
    if (this.payloadLeft > 0)
      throw new WireError('TRUNCATED', `stream ends with ${this.payloadLeft} payload bytes missing`);
  }
}
