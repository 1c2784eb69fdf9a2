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

/**
 * Write `bytes` to `path` through its temporary name, then rename it (sys/durable-file.ts): a reader or a
 * crash of ckpt never sees half a file. fsync'ed only with `sync` (an image directory's own `sync`
 * option): as the images themselves (CRIU fsyncs none), so that an image set's side files cost no disk
 * flush each (7 a set: ~10 ms, a migration's frozen window included), while a set asked to be durable
 * is durable in full.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, sync = false): void {
  const temp = tempPath(path);
  let step = 'write';
  try {
    writeDurable(path, bytes, {
      temp,
      fsync: sync,
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
