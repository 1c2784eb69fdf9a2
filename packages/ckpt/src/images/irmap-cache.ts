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

export function encodeIrmapCache(): Buffer {
  return encodeImage(MAGIC.IRMAP_CACHE, []);
}

/** The raw entries of an irmap-cache image (usually none). */
export function decodeIrmapCache(bytes: Uint8Array): Buffer[] {
  return decodeImageOf(bytes, MAGIC.IRMAP_CACHE);
}

export function readIrmapCache(path: string): Buffer[] {
  return decodeIrmapCache(fsCall(`read ${path}`, () => readFileSync(path)));
}

export function writeIrmapCache(path: string): void {
  writeFileAtomic(path, encodeIrmapCache());
}
