/**
 * irmap-cache: a service image (IMG_SERVICE + IRMAP_CACHE). A pre-dump writes it with no entries: the
 * 8 header bytes `40 59 10 55 59 40 00 57`. Entries (inotify path cache) are kept as raw bytes on read.
 *
 * @example
 * encodeIrmapCache().length === 8; // true
 */
import { readFileSync } from 'node:fs';
import { fsCall } from './errors.js';
import { decodeImageOf, encodeImage } from './image-file.js';
import { MAGIC } from './magics.js';
import { writeFileAtomic } from './temp-file.js';

/** The 8 header bytes of an empty irmap-cache. */
export function encodeIrmapCache(): Buffer {
  return encodeImage(MAGIC.IRMAP_CACHE, []);
}

/** The raw entries of an irmap-cache image (usually none). */
export function decodeIrmapCache(bytes: Uint8Array): Buffer[] {
  return decodeImageOf(bytes, MAGIC.IRMAP_CACHE);
}

/** Read an irmap-cache file: its raw entries. */
export function readIrmapCache(path: string): Buffer[] {
  return decodeIrmapCache(fsCall(`read ${path}`, () => readFileSync(path)));
}

/** Write an empty irmap-cache atomically, as a pre-dump does. */
export function writeIrmapCache(path: string): void {
  writeFileAtomic(path, encodeIrmapCache());
}
