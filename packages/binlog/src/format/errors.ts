/** Errors of the format/ layer. */

/** A format string that binlog cannot encode (`code` = `BAD_FORMAT`), e.g. an unknown `%q`. */
export class FormatError extends Error {
  readonly code = 'BAD_FORMAT';
  constructor(
    message: string,
    readonly format: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'FormatError';
  }
}
