/** Errors of the runtime/ layer. Only createLogger, child and registerDictionary throw; log calls never do. */

/**
 * `BAD_OPTION`: an invalid logger option; `DICTIONARY_CONFLICT`: a second, different dictionary was
 * registered; `OPEN_FAILED`: the destination could not be opened.
 *
 * @example
 * try { createLogger({ dest: 1, bufferSize: 3 }); } catch (e) { (e as LoggerError).code; } // 'BAD_OPTION'
 */
export class LoggerError extends Error {
  constructor(
    readonly code: 'BAD_OPTION' | 'DICTIONARY_CONFLICT' | 'OPEN_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LoggerError';
  }
}
