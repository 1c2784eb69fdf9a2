/** Errors of the decode/ layer: what makes a whole log undecodable (the CLI prints them as one line). */

/**
 * - `NOT_BINLOG`: no binlog frame was found in the input;
 * - `NO_DICTIONARY`: the log was written with a pre-compiled dictionary and none was given;
 * - `DICTIONARY_MISMATCH`: the given dictionary's hash is not the one the log records;
 * - `NO_FILE`: the log (or dictionary) file cannot be read; `BAD_FILTER`: a bad --level/--since/--grep.
 *
 * @example
 * new DecodeError('NO_DICTIONARY', 'pass --dict').code; // 'NO_DICTIONARY'
 */
export class DecodeError extends Error {
  constructor(
    readonly code: 'NOT_BINLOG' | 'NO_DICTIONARY' | 'DICTIONARY_MISMATCH' | 'NO_FILE' | 'BAD_FILTER',
    message: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}
