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
 * - `BAD_STATE`      the writer/directory was used after commit/abort/close
 * - `IO`             the file system failed (the `cause` carries the Node error)
 *
 * @example
 * try { decodeImage(bytes) } catch (e) { if (e instanceof ImageError && e.code === 'BAD_MAGIC') ... }
 */

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
  | 'BAD_STATE'
  | 'IO';

/** A CRIU image (file or directory) is malformed, missing, or was misused. */
export class ImageError extends Error {
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageError';
    this.code = code;
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
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageError('MISSING_IMAGE', `${what}: no such file`, { cause: e });
    throw new ImageError('IO', `${what}: ${code ?? (e as Error).message}`, { cause: e });
  }
}
