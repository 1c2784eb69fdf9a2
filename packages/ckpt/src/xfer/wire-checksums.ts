/**
 * The checksum side file a ckpt page server keeps next to `pages-<n>.img` when the client used the
 * checksum extension: one crc32 per data-carrying ADD_F, in arrival (= ascending vaddr) order. CRIU
 * ignores the file; `ckpt verify` re-reads the pages and compares.
 * ```
 * file   := "CKSM" u32le version=1  record*
 * record := vaddr u64le  nr_pages u32le  crc32 u32le          (16 bytes)
 * ```
 *
 * @example
 * const bytes = encodeChecksums([{ vaddr: 0x1000, nrPages: 2, crc: 0xdeadbeef }]);
 * decodeChecksums(bytes)[0].crc === 0xdeadbeef; // true
 * checksumFileName(65537) === 'pages-65537.crc32';
 */
import { WireCursor, WireWriter } from './wire-cursor.js';
import { WireError } from './wire-errors.js';

export interface ChunkChecksum {
  readonly vaddr: number;
  readonly nrPages: number;
  readonly crc: number;
}

const FILE_MAGIC = 0x4d534b43; // "CKSM" little endian
const VERSION = 1;
const RECORD = 16;

export function checksumFileName(pagesId: number): string {
  return `pages-${pagesId}.crc32`;
}

export function encodeChecksums(records: readonly ChunkChecksum[]): Buffer {
  const w = new WireWriter(8 + RECORD * records.length).u32(FILE_MAGIC).u32(VERSION);
  for (const r of records) {
    if (!Number.isInteger(r.nrPages) || r.nrPages < 1 || r.nrPages > 0xffffffff) {
      throw new WireError('BAD_HEADER', `checksum record: bad page count ${r.nrPages}`);
    }
    w.u64(r.vaddr).u32(r.nrPages).u32(r.crc);
  }
  return w.finish();
}

export function decodeChecksums(bytes: Buffer): ChunkChecksum[] {
  const c = new WireCursor(bytes);
  if (c.u32('checksum file magic') !== FILE_MAGIC) throw new WireError('BAD_HEADER', 'not a checksum file');
  const version = c.u32('checksum file version');
  if (version !== VERSION) throw new WireError('BAD_HEADER', `checksum file version ${version}`);
  if (c.remaining % RECORD !== 0) {
    throw new WireError('TRUNCATED', `checksum file: ${c.remaining % RECORD} bytes of a partial record`);
  }
  const out: ChunkChecksum[] = [];
  while (c.remaining > 0) {
    const vaddr = c.u64('vaddr');
    const nrPages = c.u32('nr_pages');
    const crc = c.u32('crc32');
    if (nrPages === 0) throw new WireError('BAD_HEADER', `checksum record ${out.length}: no pages`);
    out.push({ vaddr, nrPages, crc });
  }
  c.end('checksum file');
  return out;
}
