/**
 * Errors of the migrate/ layer. `code`: `PROTOCOL` (the peer sent something the migration protocol does
 * not allow at that point: the message says what), `PEER` (the peer gave up: its ERROR/ABORT message is
 * the text), `CONNECTION` (the connection failed or closed mid-way), `NO_CONVERGENCE` (the target
 * dirties memory faster than the link carries and the user chose to give up), `VERSION` (a peer of
 * another protocol version), `PREBUILD` (the destination's pre-built process, which held pages received
 * only into it, was lost).
 *
 * MigrateError is an expected failure (sys/error-kinds.ts); what lower layers throw passes through.
 *
 * @example
 * catch (e) { if (e instanceof MigrateError && e.code === 'PEER') console.error(e.message) }
 */
import { ExpectedError } from '../sys/index.js';

export type MigrateErrorCode = 'PROTOCOL' | 'PEER' | 'CONNECTION' | 'NO_CONVERGENCE' | 'VERSION' | 'PREBUILD';

/** A migration cannot go on (an expected failure). */
export class MigrateError extends ExpectedError {
  declare readonly code: MigrateErrorCode;

  constructor(code: MigrateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MigrateError';
  }
}
