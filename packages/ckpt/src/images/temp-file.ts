/**
 * Temporary names for image files being written: `dir/.name.tmp`, renamed to `dir/name` when complete, so
 * a reader never sees half a file under an image's real name.
 *
 * @example
 * writeFileAtomic('/tmp/d/stats-dump', bytes); // writes /tmp/d/.stats-dump.tmp, then renames it
 */
import { basename, dirname, join } from 'node:path';
import { writeDurable } from '../sys/index.js';
import { fsCall } from './errors.js';

/** The temporary path for `path`. */
export function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}

/** Whether a file name is one of our temporaries. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** Write `bytes` to `path` through its temporary name (fsync'ed, then renamed: sys/durable-file.ts). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const temp = tempPath(path);
  let step = 'write';
  try {
    writeDurable(path, bytes, {
      temp,
      onStep: (s) => {
        step = s;
      },
    });
  } catch (e) {
    fsCall(`${step} ${temp}`, () => {
      throw e; // as an ImageError naming the step and the file
    });
  }
}
