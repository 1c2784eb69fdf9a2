/**
 * Images whose entries are each followed by raw bytes the entry framing does not cover (CRIU's
 * pipes-data.img and sk-queues.img): `u32 length, entry, then the entry's byte count of data`, after the
 * two magic words.
 *
 * @example
 * for (const { entry, data } of readBlobImage(path, pipeDataEntryCodec.decode, (e) => e.bytes)) ...
 */
import { existsSync, readFileSync } from 'node:fs';
import { RestoreError } from './errors.js';

/** Every entry of the image at `path` with its bytes; none when the file is absent. */
export function readBlobImage<E>(
  path: string,
  decode: (bytes: Uint8Array) => E,
  lengthOf: (entry: E) => number,
): { entry: E; data: Buffer }[] {
  const out: { entry: E; data: Buffer }[] = [];
  if (!existsSync(path)) return out;
  const bytes = readFileSync(path);
  let off = 8; // magic words
  while (off < bytes.length) {
    if (off + 4 > bytes.length) throw new RestoreError('CORRUPT_IMAGE', `${path}: truncated`);
    const end = off + 4 + bytes.readUInt32LE(off);
    if (end > bytes.length) throw new RestoreError('CORRUPT_IMAGE', `${path}: truncated`);
    let entry: E;
    try {
      entry = decode(bytes.subarray(off + 4, end));
    } catch (err) {
      throw new RestoreError('CORRUPT_IMAGE', `${path}: ${(err as Error).message}`, { cause: err });
    }
    const n = lengthOf(entry);
    if (end + n > bytes.length) throw new RestoreError('CORRUPT_IMAGE', `${path}: truncated data`);
    out.push({ entry, data: Buffer.from(bytes.subarray(end, end + n)) });
    off = end + n;
  }
  return out;
}
