/**
 * The three kinds of failure, as classes: every layer's error class extends one of them, and the CLI
 * decides by class (never by a code's spelling) what to print and which status to exit with.
 *
 * ```
 *  Error
 *   ├── ExpectedError (code, cause)   the world said no: target gone, not permitted, bad input, full disk,
 *   │     ├── SysError                 a dropped connection. CLI: one line, status 1.
 *   │     ├── ProcError, PtraceError, MemError, ImageError, WireError, DumpError, ...
 *   │     └── UsageError (cli/)        bad flags. CLI: status 2.
 *   ├── CancelledError (signal?)      SIGINT/SIGTERM or an AbortSignal. CLI: 128+n for signal n, else 130.
 *   └── BugError                      a broken invariant; so is any other Error (TypeError, Node's
 *                                     ERR_INVALID_ARG_TYPE, ...). CLI: status 70 and "please report it".
 * ```
 * Node's system errors (`ENOSPC`, `EACCES`, `ECONNRESET`: they carry `syscall` and `errno`) are wrapped by
 * the layer that made the call, with the path or the peer in the message (`SysError.fromNode`, images'
 * `fsCall`, xfer's `WireError('IO')`).
 *
 * @example
 * if (e instanceof ExpectedError) console.error(e.code, e.message);
 * else if (e instanceof CancelledError) process.exitCode = 128 + signalNumber(e.signal ?? 'SIGINT');
 */
import { constants } from 'node:os';

/**
 * An expected failure: the operation cannot be done, and saying why in one line is enough.
 *
 * @example
 * class ProcError extends ExpectedError { ... }
 * new ExpectedError('EEXIST', '/ckpt/1 already holds a complete image set');
 */
export class ExpectedError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExpectedError';
    this.code = code;
  }
}

/**
 * The operation was cancelled: by a signal (`signal` names it) or by a caller's AbortSignal. `code` is
 * always `ECANCELED`. When `signal` is not given, it is taken from a `cause` that is a CancelledError (an
 * AbortSignal's reason, as `cancelledBy` passes it).
 *
 * @example
 * ac.abort(new CancelledError('interrupted', { signal: 'SIGTERM' }));
 * if (signal.aborted) throw cancelledBy(signal, 'pre-dump cancelled');
 */
export class CancelledError extends Error {
  readonly code = 'ECANCELED';
  readonly signal?: NodeJS.Signals;

  constructor(message: string, options?: { cause?: unknown; signal?: NodeJS.Signals }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CancelledError';
    const signal =
      options?.signal ?? (options?.cause instanceof CancelledError ? options.cause.signal : undefined);
    if (signal !== undefined) this.signal = signal;
  }
}

/**
 * The CancelledError to throw when `abort` fired: its reason (a CancelledError naming a signal, when the
 * CLI aborted) becomes the cause, so the signal name travels up.
 *
 * @example
 * if (opts.signal?.aborted) throw cancelledBy(opts.signal, `pre-dump cancelled; ${dir} is incomplete`);
 */
export function cancelledBy(abort: AbortSignal | undefined, message: string): CancelledError {
  return new CancelledError(message, { cause: abort?.reason });
}

/**
 * A broken invariant: the program is wrong, not the world. Throw it where a check "cannot fail".
 *
 * @example
 * if (this.fd < 0) throw new BugError('PagemapScanner used after close()');
 */
export class BugError extends Error {
  /** `EBUG`, or a layer's name for the broken invariant (images' `BAD_STATE`). */
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BugError';
    this.code = options?.code ?? 'EBUG';
  }
}

/**
 * Whether `e` is one of Node's system errors (from fs, net, child_process): it has a string `code`, a
 * numeric `errno` and a `syscall`.
 *
 * @example
 * try { writeSync(fd, buf) } catch (e) { if (isNodeSystemError(e)) throw SysError.fromNode(e, `write ${path}`) }
 */
export function isNodeSystemError(
  e: unknown,
): e is NodeJS.ErrnoException & { code: string; syscall: string } {
  const x = e as NodeJS.ErrnoException | null;
  return (
    x instanceof Error &&
    typeof x.code === 'string' &&
    typeof x.errno === 'number' &&
    typeof x.syscall === 'string'
  );
}

/**
 * The number of a signal (`SIGTERM` -> 15); the CLI exits with 128 + it.
 *
 * @example
 * signalNumber('SIGINT'); // 2
 */
export function signalNumber(name: NodeJS.Signals): number {
  return constants.signals[name] ?? 2;
}
