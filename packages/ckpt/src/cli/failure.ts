/**
 * How the CLI reports a failure: one line `ckpt: <message>` and an exit status, never a stack trace
 * (except for a bug, with -v4 or CKPT_DEBUG=1). The status is decided by the error's CLASS
 * (sys/error-kinds.ts), never by the spelling of its code:
 *
 * ```
 *  UsageError                       2    bad flags or arguments
 *  ExpectedError (every layer's)    1    the target exited, not permitted, bad input, full disk, ...
 *  CancelledError                   128 + n for signal n (SIGINT 130, SIGTERM 143); 130 without a signal
 *  anything else (BugError,         70   "internal error: ... (a bug: please report it with the output
 *   TypeError, Node's ERR_...)           of -v4)" (EX_SOFTWARE)
 * ```
 *
 * @example
 * const f = describeFailure(err, false);
 * process.stderr.write(`ckpt: ${f.message}\n`); process.exitCode = f.status;
 */
import { CancelledError, ExpectedError, isNodeSystemError, signalNumber } from '../sys/index.js';

/** What the CLI prints and returns for one failure. */
export interface Failure {
  readonly message: string;
  readonly status: number;
  /** The stack of a bug, when debug is on (-v4 or CKPT_DEBUG=1). */
  readonly detail?: string;
}

/** The exit statuses, for --help and the tests. */
export const EXIT_STATUS = { ok: 0, failed: 1, usage: 2, bug: 70, cancelled: 130 } as const;

/** The help text's paragraph on exit statuses (`ckpt --help`). */
export const EXIT_STATUS_HELP = `
Exit status:
  0    success
  1    the operation failed for an expected reason (the target exited, not permitted, bad or incomplete
       images, a full disk, the page server went away); one line on stderr says why
  2    bad usage (unknown flag, bad value)
  70   internal error: a bug in ckpt (please report it with the output of -v4)
  128+n  cancelled by signal n (SIGINT 130, SIGTERM 143)
`;

/**
 * A usage error raised by the CLI itself (status 2).
 *
 * @example
 * throw new UsageError('bad size: lots (e.g. 4M, 512K)');
 */
export class UsageError extends ExpectedError {
  constructor(message: string) {
    super('EUSAGE', message);
    this.name = 'UsageError';
  }
}

/**
 * An expected failure found by the CLI itself (status 1): `EEXIST` for a directory that already holds a
 * complete set, `ENOENT` for a missing one, `EVERIFY` for images that do not verify, ...
 *
 * @example
 * throw new CommandError('ENOENT', `${dir}: no such directory`);
 */
export class CommandError extends ExpectedError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CommandError';
  }
}

/**
 * Map any thrown value to a one-line message and an exit status. `signal` is the signal the process
 * received, if any (used when the CancelledError does not name one).
 *
 * @example
 * describeFailure(new DumpError('ESRCH', 'no such process: 7'), false); // { message: 'no such process: 7', status: 1 }
 */
export function describeFailure(e: unknown, debug: boolean, signal?: NodeJS.Signals): Failure {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) return { message, status: EXIT_STATUS.usage };
  if (e instanceof CancelledError) {
    const by = e.signal ?? signal;
    return { message, status: by === undefined ? EXIT_STATUS.cancelled : 128 + signalNumber(by) };
  }
  if (e instanceof ExpectedError) return { message, status: EXIT_STATUS.failed };
  // a system error no layer wrapped (a call the CLI itself made): the world, not a bug
  if (isNodeSystemError(e)) return { message, status: EXIT_STATUS.failed };
  const stack = e instanceof Error ? e.stack : undefined;
  const hint = debug
    ? ' (a bug: please report it with this output)'
    : ' (a bug: please report it with the output of -v4)';
  return {
    message: `internal error: ${message}${hint}`,
    status: EXIT_STATUS.bug,
    detail: debug ? stack : undefined,
  };
}
