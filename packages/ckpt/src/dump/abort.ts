/**
 * The one way out of a failed pre-dump (read or splice mode): the error becomes a DumpError that says the
 * images are incomplete, the page sink is aborted and the image directory gets its INCOMPLETE marker.
 *
 * @example
 * catch (e) { throw abortDump(e, { pid, failedPid: pid, what: 'pre-dump', where, sink, dir, log }) }
 */
import type { ImageDir } from '../images/index.js';
import { CancelledError } from '../sys/index.js';
import type { PageSink } from '../xfer/index.js';
import { DumpError, dumpErrorFrom } from './errors.js';
import type { Logger } from './logger.js';

export interface AbortDumpContext {
  /** The dump's root process (for the log line). */
  readonly pid: number;
  /** The process being dumped when it failed (for the error message). */
  readonly failedPid: number;
  /** 'pre-dump', 'splice pre-dump': names the dump in the log line. */
  readonly what: string;
  /** Where the images were going (a directory path, or 'the sink'). */
  readonly where: string;
  readonly sink: PageSink;
  readonly dir: ImageDir | undefined;
  readonly log: Logger;
}

/** Mark the dump's images incomplete and return the error to throw (expected failures as DumpError). */
export function abortDump(e: unknown, c: AbortDumpContext): unknown {
  let err = dumpErrorFrom(e, c.failedPid);
  if (err instanceof DumpError && err.code === 'ESRCH') {
    err = new DumpError('ESRCH', `process ${c.failedPid} exited during the dump; ${c.where} is incomplete`, {
      cause: e,
    });
  } else if (err instanceof CancelledError) {
    err = new CancelledError(`pre-dump cancelled; ${c.where} is incomplete`, { cause: err });
  }
  const reason = err instanceof Error ? err.message : String(err);
  c.log.error('%s of %d failed: %s', c.what, c.pid, reason);
  try {
    c.sink.abort(reason);
    c.dir?.abort(reason); // a LocalSink already did; a page-server sink leaves the directory to us
  } catch (abortError) {
    c.log.error('could not mark %s incomplete: %s', c.where, String(abortError));
  }
  return err;
}
