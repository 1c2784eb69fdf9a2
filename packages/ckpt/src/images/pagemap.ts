/**
 * pagemap-<pid>.img (and pagemap-shmem-<id>.img): IMG_COMMON + PAGEMAP, one `pagemap_head`, then one
 * `pagemap_entry` per range of pages, in ascending vaddr, never overlapping:
 * ```
 * 19 43 56 54 | 25 40 08 56 | 02 00 00 00 | 08 01 (pages_id 1) | 0e 00 00 00 | <14-byte entry> | ...
 * ```
 * A range's data is in `pages-<pages_id>.img` iff its flags have PE_PRESENT, at the byte offset
 * 4096 × (pages of all earlier PE_PRESENT ranges). PE_PARENT ranges live in the parent image set.
 *
 * @example
 * const bytes = encodePagemapImage({ head: { pages_id: 1 }, entries: [pagemapEntry(0x400000, 2, PE.PRESENT)] });
 * decodePagemapImage(bytes).entries[0].nr_pages === 2; // true
 */
import { PAGE_SIZE } from '../sys/constants.js';
import { ImageError } from './errors.js';
import { decodeImageOf, encodeImage } from './image-file.js';
import { MAGIC, PE } from './magics.js';
import { type PagemapEntry, type PagemapHead, pagemapEntryCodec, pagemapHeadCodec } from './schema.js';

/** A whole pagemap image: the head and the entries. */
export interface PagemapImage {
  head: PagemapHead;
  entries: PagemapEntry[];
}

/** Largest count old readers can see in `compat_nr_pages` (uint32). */
export const MAX_COMPAT_PAGES = 0xffffffff;

/**
 * A pagemap entry with both page counts set (`compat_nr_pages` for crit 3.x, `nr_pages` for CRIU 4).
 *
 * @example
 * pagemapEntry(0x7f0000000000, 16, PE.LAZY | PE.PRESENT);
 */
export function pagemapEntry(vaddr: number, nrPages: number, flags: number): PagemapEntry {
  const compat = nrPages <= MAX_COMPAT_PAGES ? nrPages : 0;
  return { vaddr, compat_nr_pages: compat, flags, nr_pages: nrPages };
}

/** Page count of an entry: `nr_pages` if present, else the legacy `compat_nr_pages`. */
export function entryPages(e: PagemapEntry): number {
  return e.nr_pages ?? e.compat_nr_pages;
}

/** Flags of an entry: `flags` if present, else PE_PARENT for legacy `in_parent`, else PE_PRESENT. */
export function entryFlags(e: PagemapEntry): number {
  if (e.flags !== undefined) return e.in_parent ? e.flags | PE.PARENT : e.flags;
  return e.in_parent ? PE.PARENT : PE.PRESENT;
}

/** `PE_LAZY|PE_PRESENT`-style name of a flags word. */
export function flagsName(flags: number): string {
  const names: string[] = [];
  if (flags & PE.PARENT) names.push('PE_PARENT');
  if (flags & PE.LAZY) names.push('PE_LAZY');
  if (flags & PE.PRESENT) names.push('PE_PRESENT');
  const rest = flags & ~(PE.PARENT | PE.LAZY | PE.PRESENT);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.length > 0 ? names.join('|') : '0';
}

/** Pagemap image bytes: header words, head, entries. */
export function encodePagemapImage(img: PagemapImage): Buffer {
  return encodeImage(MAGIC.PAGEMAP, [
    pagemapHeadCodec.encode(img.head),
    ...img.entries.map((e) => pagemapEntryCodec.encode(e)),
  ]);
}

/** Decode a pagemap image; every entry must be page-aligned, non-empty and inside the address space. */
export function decodePagemapImage(bytes: Uint8Array): PagemapImage {
  const raw = decodeImageOf(bytes, MAGIC.PAGEMAP);
  if (raw.length === 0) throw new ImageError('CORRUPT_IMAGE', 'pagemap: no pagemap_head');
  const head = pagemapHeadCodec.decode(raw[0]!);
  const entries = raw.slice(1).map((b, i) => checkEntry(pagemapEntryCodec.decode(b), i));
  return { head, entries };
}

function checkEntry(e: PagemapEntry, i: number): PagemapEntry {
  const pages = entryPages(e);
  if (e.vaddr % PAGE_SIZE !== 0) {
    throw new ImageError(
      'CORRUPT_IMAGE',
      `pagemap entry ${i}: vaddr 0x${e.vaddr.toString(16)} not page-aligned`,
    );
  }
  if (pages < 1 || e.vaddr + pages * PAGE_SIZE > Number.MAX_SAFE_INTEGER) {
    throw new ImageError('CORRUPT_IMAGE', `pagemap entry ${i}: bad page count ${pages}`);
  }
  return e;
}
