/**
 * Errors of the report/ layer: one class, `ReportError`, with a stable `code`.
 *
 * Codes:
 * - `BAD_RUN_FILE` the run file is not JSON, not a `ckpt-run` of a version we read, or a field is missing
 *                  or of the wrong kind; the message names the field (`modes[1].stoppedMs: ...`)
 * - `IO`           the run file cannot be read or the page cannot be written (the `cause` carries the
 *                  Node error)
 *
 * @example
 * try { parseRun(text) } catch (e) { if (e instanceof ReportError && e.code === 'BAD_RUN_FILE') ... }
 */

import { ExpectedError } from '../sys/index.js';

export type ReportErrorCode = 'BAD_RUN_FILE' | 'IO';

/**
 * A run file is malformed, or the report could not be read or written.
 *
 * @example
 * throw new ReportError('BAD_RUN_FILE', 'host.cpus: expected a whole number >= 0, got 1.5');
 */
export class ReportError extends ExpectedError {
  declare readonly code: ReportErrorCode;

  constructor(code: ReportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ReportError';
  }
}
