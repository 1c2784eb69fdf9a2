/** Errors of the codec/ layer. */

/**
 * Why a byte sequence could not be decoded:
 * - `SHORT_INPUT`: the input ends inside a value (a torn tail or a bad length);
 * - `CORRUPT`: a byte that the grammar does not allow (an unknown tag, a varint that is too long);
 * - `NOT_BINLOG`: the input does not start with a binlog header;
 * - `BAD_VERSION`: a header of a format version this decoder does not know.
 */
export type CodecErrorCode = 'SHORT_INPUT' | 'CORRUPT' | 'NOT_BINLOG' | 'BAD_VERSION';

/**
 * The one error class the codec throws.
 *
 * @example
 * try { new Cursor(Buffer.alloc(0)).u8(); } catch (e) { (e as CodecError).code; } // 'SHORT_INPUT'
 */
export class CodecError extends Error {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}
