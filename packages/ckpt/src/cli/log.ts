/**
 * The CLI's logger: binlog, with CRIU's verbosity levels.
 *
 * ```
 * -v0 nothing   -v1 errors   -v2 warnings (default)   -v3 info   -v4 debug   -v5 trace
 * -v alone = -v3; -vv = -v4 (each extra v adds one)
 * ```
 * The log is binary; read it with `npx binlog decode FILE`. A log that cannot be written (a full file
 * system, a read-only one) never stops a dump: one warning line on stderr, and the dump goes on without it.
 *
 * @example
 * const log = openLog('/ckpt/pre1/pre-dump.log.bin', parseVerbosity('4'));
 * log.info('hello %d', 1); log.close();
 */
import { createLogger, type LevelOption } from 'binlog';
import { type Logger, silentLogger } from '../dump/index.js';
import { UsageError } from './failure.js';

/** Default log file name inside the images directory (`DIR/pre-dump.log.bin`). */
export const LOG_FILE_NAME = 'pre-dump.log.bin';

const LEVEL_OF: readonly LevelOption[] = ['silent', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * `-v` option value -> 0..5. `true` is a bare -v (3); 'v', 'vv' count extra v's.
 *
 * @example
 * parseVerbosity('4'); // 4
 * parseVerbosity(undefined); // 2
 */
export function parseVerbosity(v: string | boolean | undefined): number {
  if (v === undefined) return 2;
  if (v === true) return 3;
  if (v === false) return 2;
  if (/^v+$/.test(v)) return Math.min(5, 3 + v.length);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 5) throw new UsageError(`bad verbosity -v${v} (use -v0 .. -v4)`);
  return n;
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A Logger that also closes (flushes) its file: binlog's Logger. */
export interface ClosableLogger extends Logger {
  close(): void;
}

/**
 * Open a binlog file logger at CRIU verbosity `level` (0..5).
 *
 * @example
 * const log = openLog('/tmp/x.log.bin', 3, { pid: 7 }); log.info('hi'); log.close();
 */
export function openLog(
  path: string,
  level: number,
  fields: Record<string, unknown> = {},
  warn: (line: string) => void = (l) => process.stderr.write(`ckpt: warning: ${l}\n`),
): ClosableLogger {
  try {
    const log = createLogger({ dest: path, level: LEVEL_OF[level] ?? 'warn', fields });
    // binlog counts records it could not write and reports each failure here; say it once, go on
    let warned = false;
    log.on('error', (e: unknown) => {
      if (warned) return;
      warned = true;
      warn(`cannot write the log file ${path} (${codeOf(e) ?? String(e)}): going on without a log`);
    });
    return log;
  } catch (e) {
    const why = codeOf(e) ?? codeOf((e as { cause?: unknown }).cause) ?? String(e);
    warn(`cannot write the log file ${path} (${why}): going on without a log`);
    return { ...silentLogger, close: () => {} };
  }
}
