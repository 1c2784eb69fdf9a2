/**
 * Errors of the images/ layer: one class, `ImageError`, with a stable `code`.
 *
 * Codes:
 * - `TRUNCATED`      the input ends inside a header word, a length word or an entry
 * - `BAD_MAGIC`      a header word is not a magic we know, or not the one expected for this file
 * - `CORRUPT_IMAGE`  an entry is not a valid message, or the entries make no sense together
 * - `TRAILING_BYTES` bytes after the last entry an image may hold
 * - `BAD_ORDER`      pagemap entries out of ascending order or overlapping
 * - `MISSING_IMAGE`  a file the operation needs is not in the directory
 * - `MISSING_PARENT` a page lives in a parent image set, but the directory has no `parent` link
 * - `BROKEN_CHAIN`   the `parent` link dangles, loops, or the parent lacks the pagemap
 * - `INCOMPLETE`     the directory was aborted or never committed
 * - `EXISTS`         the directory already holds a complete image set
 * - `NOT_A_DISK`     the path is on procfs, sysfs or another pseudo file system (pseudo-fs.ts)
 * - `HELD`           a page's data is held elsewhere (PE_LAZY: a migration's pre-built process), not here
 * - `IO`             the file system failed (the message names the path; the `cause` carries the Node error)
 *
 * A writer or directory used after commit/abort/close is a bug, not an ImageError: `BugError` with code
 * `BAD_STATE`. ImageError is an expected failure (sys/error-kinds.ts).
 *
 * @example
 * try { decodeImage(bytes) } catch (e) { if (e instanceof ImageError && e.code === 'BAD_MAGIC') ... }
 */

import { ExpectedError, isNodeSystemError } from '../sys/index.js';

export type ImageErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'CORRUPT_IMAGE'
  | 'TRAILING_BYTES'
  | 'BAD_ORDER'
  | 'MISSING_IMAGE'
  | 'MISSING_PARENT'
  | 'BROKEN_CHAIN'
  | 'INCOMPLETE'
  | 'EXISTS'
  | 'NOT_A_DISK'
  | 'HELD'
  | 'IO';

/** A CRIU image (file or directory) is malformed or missing, or the file system failed. */
export class ImageError extends ExpectedError {
  declare readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ImageError';
  }
}

/**
 * Run a file-system operation, turning Node's errors into `ImageError` (`MISSING_IMAGE` for ENOENT,
 * `IO` otherwise).
 *
 * @example
 * const bytes = fsCall(`read ${path}`, () => readFileSync(path));
 */
export function fsCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ImageError) throw e;
    if (!isNodeSystemError(e)) throw e; // not the file system: a bug
    if (e.code === 'ENOENT') throw new ImageError('MISSING_IMAGE', `${what}: no such file`, { cause: e });
    const text = /^[A-Z0-9_]+: ([^,]+)/.exec(e.message)?.[1];
    throw new ImageError('IO', `${what}: ${e.code}${text ? ` (${text})` : ''}`, { cause: e });
  }
}
