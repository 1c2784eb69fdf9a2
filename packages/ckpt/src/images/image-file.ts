/**
 * The image file codec: header words, then entries framed as a u32 length + protobuf bytes.
 *
 * ```
 * image    := header entry*
 * header   := INVENTORY                          (inventory.img only)
 *           | IMG_COMMON  type-magic             (ordinary images)
 *           | IMG_SERVICE type-magic             (stats-*, irmap-cache)
 * entry    := u32le length, length bytes of one packed protobuf message
 * ```
 * No padding, no checksum; the file ends right after the last entry. `pages-<n>.img` has no header at all
 * and is not handled here. `decodeImage` rejects short input, unknown magics, truncated entries and trailing
 * bytes, always with `ImageError`.
 *
 * @example
 * const bytes = encodeImage(MAGIC.PAGEMAP, [pagemapHeadCodec.encode({ pages_id: 1 })]);
 * decodeImage(bytes).header.magic === MAGIC.PAGEMAP; // true
 */
import { ImageCursor, ImageWriter } from './cursor.js';
import { ImageError } from './errors.js';
import { MAGIC, magicHex, magicName, SERVICE_MAGICS } from './magics.js';

/** Which header an image has: one INVENTORY word, or IMG_COMMON/IMG_SERVICE + type. */
export type HeaderKind = 'inventory' | 'common' | 'service';

/** The decoded header words of an image. */
export interface ImageHeader {
  readonly kind: HeaderKind;
  /** The type magic (INVENTORY for inventory.img). */
  readonly magic: number;
  /** Bytes the header takes: 4 or 8. */
  readonly size: number;
}

/** An image split into header and entry bytes, before the entries are decoded. */
export interface RawImage {
  readonly header: ImageHeader;
  /** Message bytes of each entry (views into the input). */
  readonly entries: Buffer[];
}

/** The header words CRIU writes before entries of an image with this type magic. */
export function encodeHeader(magic: number): Buffer {
  const w = new ImageWriter();
  if (magic === MAGIC.INVENTORY) return w.u32(magic).finish();
  return w
    .u32(SERVICE_MAGICS.has(magic) ? MAGIC.IMG_SERVICE : MAGIC.IMG_COMMON)
    .u32(magic)
    .finish();
}

/** Read and check the header words. */
export function decodeHeader(cur: ImageCursor): ImageHeader {
  const first = cur.u32('image header');
  if (first === MAGIC.INVENTORY) return { kind: 'inventory', magic: first, size: 4 };
  if (first !== MAGIC.IMG_COMMON && first !== MAGIC.IMG_SERVICE) {
    throw new ImageError('BAD_MAGIC', `not a CRIU image: first word ${magicHex(first)}`);
  }
  const magic = cur.u32('image type magic');
  const service = first === MAGIC.IMG_SERVICE;
  if (magic === MAGIC.INVENTORY || magicName(magic) === undefined || SERVICE_MAGICS.has(magic) !== service) {
    const kind = service ? 'service' : 'common';
    throw new ImageError('BAD_MAGIC', `unknown ${kind} image type magic ${magicHex(magic)}`);
  }
  return { kind: service ? 'service' : 'common', magic, size: 8 };
}

/** The 4-byte length word framing one entry. */
export function entryLength(messageBytes: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(messageBytes, 0);
  return b;
}

/** A whole image: header + framed entries. */
export function encodeImage(magic: number, entries: readonly Uint8Array[]): Buffer {
  const w = new ImageWriter().bytes(encodeHeader(magic));
  for (const e of entries) w.u32(e.length).bytes(e);
  return w.finish();
}

/** Split an image into its header and entry bytes. */
export function decodeImage(bytes: Uint8Array): RawImage {
  const cur = new ImageCursor(bytes);
  const header = decodeHeader(cur);
  const entries: Buffer[] = [];
  while (!cur.atEnd()) {
    if (cur.remaining < 4) {
      throw new ImageError('TRAILING_BYTES', `${cur.remaining} stray bytes after entry ${entries.length}`);
    }
    const len = cur.u32(`length of entry ${entries.length}`);
    entries.push(cur.bytes(len, `entry ${entries.length} (${len} bytes)`));
  }
  return { header, entries };
}

/** `decodeImage`, and the type magic must be `magic` (`BAD_MAGIC` otherwise). */
export function decodeImageOf(bytes: Uint8Array, magic: number): Buffer[] {
  const img = decodeImage(bytes);
  if (img.header.magic !== magic) {
    const got = magicName(img.header.magic) ?? magicHex(img.header.magic);
    throw new ImageError(
      'BAD_MAGIC',
      `expected a ${magicName(magic) ?? magicHex(magic)} image, found ${got}`,
    );
  }
  return img.entries;
}

/** Exactly one entry, as inventory and stats images hold. */
export function singleEntry(entries: readonly Buffer[], what: string): Buffer {
  if (entries.length === 0) throw new ImageError('CORRUPT_IMAGE', `${what}: no entry`);
  if (entries.length > 1)
    throw new ImageError('TRAILING_BYTES', `${what}: ${entries.length} entries, expected 1`);
  return entries[0]!;
}
