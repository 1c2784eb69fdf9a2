/**
 * Temporary names for image files being written: `dir/.name.tmp`, renamed to `dir/name` when complete, so
 * a reader never sees half a file under an image's real name.
 *
 * @example
 * writeFileAtomic('/tmp/d/stats-dump', bytes); // writes /tmp/d/.stats-dump.tmp, then renames it
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsCall } from './errors.js';

/** The temporary path for `path`. */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}

/** Whether a file name is one of our temporaries. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** Write `bytes` to `path` through its temporary name (fsync'ed, then renamed). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = tempPath(path);
  fsCall(`write ${tmp}`, () => {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
  fsCall(`rename ${tmp}`, () => renameSync(tmp, path));
}
