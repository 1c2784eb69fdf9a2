/**
 * Durable whole-file writes: a temporary file beside the target, written in full and fsync'ed, then
 * renamed over the target, so a reader (or a crash) never sees half a file under the real name; with
 * `syncDir`, the directory is fsync'ed too, so the rename itself survives a power cut. `fsync: false`
 * keeps only the atomic rename (a crash of the writer, not of the machine). Errors are Node's own
 * (callers say what the file is).
 *
 * ```
 * open(tmp, 0600) -> write all [-> fsync] -> close -> rename(tmp, path) [-> fsync(dir)]
 * ```
 *
 * @example
 * writeDurable('/run/ckpt/track/42-1.json', bytes, { temp: '/run/ckpt/track/42-1.json.77.tmp', syncDir: true });
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DurableOptions {
  /** The temporary path (same directory as `path`). */
  readonly temp: string;
  /** fsync the file before the rename (default true; false: only atomic, as CRIU's image writes). */
  readonly fsync?: boolean;
  /** fsync the directory after the rename (default false). */
  readonly syncDir?: boolean;
  /** Called with the step that failed ('write' of the temporary, 'rename'), before the error is thrown. */
  readonly onStep?: (step: 'write' | 'rename' | 'sync-dir') => void;
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write `bytes` to `path` durably (see the module comment). */
export function writeDurable(path: string, bytes: Uint8Array, o: DurableOptions): void {
  o.onStep?.('write');
  const fd = openSync(o.temp, 'w', 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    if (o.fsync !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  o.onStep?.('rename');
  renameSync(o.temp, path);
  if (o.syncDir) {
    o.onStep?.('sync-dir');
    fsyncPath(dirname(path), 'r');
  }
}
