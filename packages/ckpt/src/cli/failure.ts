/**
 * How the CLI reports a failure: one line `ckpt: <message>` and an exit status, never a stack trace.
 * Errors with a stable `code` (every layer's errors) are expected failures; anything else is a bug and
 * gets a hint to re-run with -v4 or CKPT_DEBUG=1, which prints the stack.
 *
 * Exit statuses: 1 expected failure, 2 bad usage, 70 internal error (EX_SOFTWARE), 130 cancelled.
 *
 * @example
 * const f = describeFailure(err, false);
 * process.stderr.write(`ckpt: ${f.message}\n`); process.exitCode = f.status;
 */

/** What the CLI prints and returns for one failure. */
export interface Failure {
  readonly message: string;
  readonly status: number;
  /** The stack of an unexpected error, when debug is on (-v4 or CKPT_DEBUG=1). */
  readonly detail?: string;
}

const EXPECTED_CODES = new Set([
  'ESRCH',
  'EPERM',
  'EACCES',
  'ENOENT',
  'ENOTSUP',
  'ENOTSUP_KERNEL',
  'EIO',
  'EINVAL',
  'ECANCELED',
  'ENOSPC',
  'EEXIST',
]);

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * Map any thrown value to a one-line message and an exit status.
 *
 * @example
 * describeFailure(new DumpError('ESRCH', 'no such process: 7'), false); // { message: 'no such process: 7', status: 1 }
 */
export function describeFailure(e: unknown, debug: boolean): Failure {
  const code = codeOf(e);
  const message = e instanceof Error ? e.message : String(e);
  const stack = e instanceof Error ? e.stack : undefined;
  if (code === 'ECANCELED') return { message, status: 130 };
  if (code === 'EUSAGE') return { message, status: 2 };
  // every layer's error classes carry upper-case codes; Node's fs errors too (ENOSPC, EACCES, ...)
  if (code !== undefined && (EXPECTED_CODES.has(code) || /^[A-Z][A-Z_]+$/.test(code))) {
    return { message, status: 1 };
  }
  return {
    message: `internal error: ${message}${debug ? '' : ' (re-run with -v4 or CKPT_DEBUG=1 for the stack)'}`,
    status: 70,
    detail: debug ? stack : undefined,
  };
}

/**
 * A usage error raised by the CLI itself (status 2).
 *
 * @example
 * throw new UsageError('bad size: lots (e.g. 4M, 512K)');
 */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
