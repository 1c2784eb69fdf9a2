/**
 * Logger: levels, bound fields and children over one Core (one buffer, one destination).
 *
 * Message formatting happens in the decoder. What a call records:
 * - `log.info('user %s paid %d', name, cents)`: the format's id (interned at run time, its text written
 *   once into the log) and the raw arguments;
 * - `log.info(17, name, cents)`: the same, for a call site rewritten by `binlog precompile` (id 17 of
 *   the registered dictionary);
 * - extra arguments are recorded and printed after the message, separated by spaces (as util.format);
 *   missing ones leave their specifier printed literally (`%d`);
 * - a first argument that is neither a string nor a number (e.g. an object) is printed like an extra
 *   argument of an empty format.
 *
 * A log call never throws. Records below the level return before reading the clock.
 *
 * @example
 * const log = createLogger({ dest: '/tmp/app.blog', level: 'debug', fields: { svc: 'api' } });
 * log.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35);
 * log.child({ req: 7 }).warn('slow');
 * log.close();
 */
import { safeJson } from '../codec/index.js';
import { type Context, Core } from './core.js';
import { Destination } from './destination.js';
import { LoggerError } from './errors.js';
import { type LevelOption, levelNumber } from './level.js';
import type { ErrorListener, LoggerStats } from './write-stats.js';

export interface LoggerOptions {
  /** A file path (created or appended to; closed by close()) or an open fd number (never closed by binlog). */
  readonly dest: string | number;
  /** Lowest level recorded: a name, 'silent' or a pino number. Default 'info'. */
  readonly level?: LevelOption;
  /** Fields bound to every record (a JSON-serialisable object). */
  readonly fields?: Record<string, unknown>;
  /** What a full buffer does when a pipe cannot take it: 'block' (default: wait) or 'drop' (drop new records, counted). */
  readonly onOverload?: 'block' | 'drop';
  /** Buffer size in bytes, 4 KiB..64 MiB. Default 64 KiB. */
  readonly bufferSize?: number;
  /** Longest time a record waits in the buffer, in ms (1..60000). Default 100. */
  readonly flushIntervalMs?: number;
  /**
   * 'precise' (default): process.hrtime() per record (µs resolution). 'coarse': a clock thread updates
   * a shared cell every 0.5 ms and a record reads it (≈1 ms resolution, much cheaper per call).
   */
  readonly clock?: 'precise' | 'coarse';
  /**
   * Built-in rotation of a path `dest` (README "Files, rotation and loss"): before a write that would
   * take the file past `size` bytes, or once it is `intervalMs` old, it is renamed to
   * `<dest>.<UTC time>-<pid>-<n>` and a new file is opened; the newest `keep` pieces are kept (0: all).
   */
  readonly rotate?: { readonly size?: number; readonly intervalMs?: number; readonly keep?: number };
}

/** Merge and serialise fields; throws BAD_OPTION on something that is not a plain object. */
function fieldsJson(
  fields: unknown,
  base: Record<string, unknown>,
): { merged: Record<string, unknown>; json: string } | null {
  if (fields === undefined) return Object.keys(base).length ? { merged: base, json: safeJson(base) } : null;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new LoggerError('BAD_OPTION', 'fields must be an object');
  }
  const merged = { ...base, ...(fields as Record<string, unknown>) };
  return Object.keys(merged).length ? { merged, json: safeJson(merged) } : null;
}

export class Logger {
  /** @internal */
  constructor(
    private readonly core: Core,
    private readonly min: number,
    private readonly fields: Record<string, unknown>,
    private readonly ctx: Context | null,
    private readonly owner: boolean,
  ) {}

  /** A logger with more bound fields, sharing this one's buffer and destination. */
  child(fields: Record<string, unknown>): Logger {
    const f = fieldsJson(fields, this.fields);
    return new Logger(this.core, this.min, f?.merged ?? {}, f ? this.core.context(f.json) : null, false);
  }

  /** True when records of this level (a name or a number) are recorded. */
  isLevelEnabled(level: LevelOption): boolean {
    return levelNumber(level) >= this.min;
  }

  /** Records dropped so far (overload 'drop', write errors, calls after close). */
  get dropped(): number {
    return this.core.dropped;
  }

  /** Counters of the shared writer: bytes, writes, dropped, lost to write errors... (write-stats.ts). */
  stats(): LoggerStats {
    return this.core.stats();
  }

  /** Listen for write errors (ENOSPC, EPIPE, EBADF...), delivered on the next tick as pino's destinations emit them. */
  on(event: 'error', fn: ErrorListener): this {
    if (event === 'error') this.core.errors.on(fn);
    return this;
  }

  /** Remove an 'error' listener. */
  off(event: 'error', fn: ErrorListener): this {
    if (event === 'error') this.core.errors.off(fn);
    return this;
  }

  /** Flush and open the path again (after an external rotation; e.g. `process.on('SIGHUP', () => log.reopen())`). */
  reopen(): void {
    this.core.reopen();
  }

  /** Write everything buffered, synchronously. */
  flush(): void {
    this.core.flushSync();
  }

  /** Flush and close the destination (the root logger owns it; a child's close() only flushes). */
  close(): void {
    if (this.owner) this.core.close();
    else this.core.flushSync();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // The level methods take their arguments as named parameters (no rest array, no allocation on the
  // fast path); a call with more than 7 arguments goes through `arguments`.

  /** Record at level trace (10): `log.trace('user %s', name)`, or a dictionary id instead of the format. */
  trace(msgOrId: string | number, ...args: unknown[]): void;
  trace(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 10) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(1, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(1, this.ctx, Array.prototype.slice.call(arguments));
  }

  /** Record at level debug (20): `log.debug('user %s', name)`, or a dictionary id instead of the format. */
  debug(msgOrId: string | number, ...args: unknown[]): void;
  debug(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 20) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(2, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(2, this.ctx, Array.prototype.slice.call(arguments));
  }

  /** Record at level info (30): `log.info('user %s', name)`, or a dictionary id instead of the format. */
  info(msgOrId: string | number, ...args: unknown[]): void;
  info(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 30) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(3, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(3, this.ctx, Array.prototype.slice.call(arguments));
  }

  /** Record at level warn (40): `log.warn('user %s', name)`, or a dictionary id instead of the format. */
  warn(msgOrId: string | number, ...args: unknown[]): void;
  warn(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 40) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(4, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(4, this.ctx, Array.prototype.slice.call(arguments));
  }

  /** Record at level error (50): `log.error('user %s', name)`, or a dictionary id instead of the format. */
  error(msgOrId: string | number, ...args: unknown[]): void;
  error(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 50) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(5, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(5, this.ctx, Array.prototype.slice.call(arguments));
  }

  /** Record at level fatal (60): `log.fatal('user %s', name)`, or a dictionary id instead of the format. */
  fatal(msgOrId: string | number, ...args: unknown[]): void;
  fatal(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 60) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7) this.core.log(6, this.ctx, n - 1, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.core.logArray(6, this.ctx, Array.prototype.slice.call(arguments));
  }
}

/**
 * Build a logger. Options are checked here (LoggerError 'BAD_OPTION' / 'OPEN_FAILED'); log calls never throw.
 *
 * @example
 * const log = createLogger({ dest: 'app.blog' });          // a file binlog creates and closes
 * const out = createLogger({ dest: 1, level: 'warn' });     // stdout, an fd the caller owns
 * log.info('user %s paid %d cents', 'bob', 1200);
 * log.close();
 */
export function createLogger(options: LoggerOptions): Logger {
  if (typeof options !== 'object' || options === null)
    throw new LoggerError('BAD_OPTION', 'options must be an object');
  const {
    dest,
    level = 'info',
    fields,
    onOverload = 'block',
    bufferSize = 65536,
    flushIntervalMs = 100,
    clock = 'precise',
    rotate,
  } = options;
  if (!(typeof dest === 'string' && dest.length > 0) && !(Number.isInteger(dest) && (dest as number) >= 0)) {
    throw new LoggerError('BAD_OPTION', 'dest must be a file path or an fd number');
  }
  if (onOverload !== 'block' && onOverload !== 'drop') {
    throw new LoggerError('BAD_OPTION', `onOverload must be 'block' or 'drop', got ${String(onOverload)}`);
  }
  if (!Number.isInteger(bufferSize) || bufferSize < 4096 || bufferSize > 64 * 1024 * 1024) {
    throw new LoggerError(
      'BAD_OPTION',
      `bufferSize must be an integer in 4096..67108864, got ${String(bufferSize)}`,
    );
  }
  if (!Number.isInteger(flushIntervalMs) || flushIntervalMs < 1 || flushIntervalMs > 60000) {
    throw new LoggerError(
      'BAD_OPTION',
      `flushIntervalMs must be an integer in 1..60000, got ${String(flushIntervalMs)}`,
    );
  }
  if (clock !== 'precise' && clock !== 'coarse') {
    throw new LoggerError('BAD_OPTION', `clock must be 'precise' or 'coarse', got ${String(clock)}`);
  }
  const rot = rotateOptions(rotate, dest);
  const min = levelNumber(level);
  const f = fieldsJson(fields, {});
  const core = new Core(Destination.open(dest), {
    bufferSize,
    overload: onOverload,
    flushIntervalMs,
    clock,
    rotate: rot,
  });
  return new Logger(core, min, f?.merged ?? {}, f ? core.context(f.json) : null, true);
}

function rotateOptions(
  r: LoggerOptions['rotate'],
  dest: string | number,
): { size: number; intervalMs: number; keep: number } | undefined {
  if (r === undefined) return undefined;
  if (typeof r !== 'object' || r === null) throw new LoggerError('BAD_OPTION', 'rotate must be an object');
  if (typeof dest !== 'string') throw new LoggerError('BAD_OPTION', 'rotate needs a file path dest');
  const { size = 0, intervalMs = 0, keep = 0 } = r;
  for (const [k, v] of Object.entries({ size, intervalMs, keep })) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new LoggerError('BAD_OPTION', `rotate.${k} must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (size === 0 && intervalMs === 0) throw new LoggerError('BAD_OPTION', 'rotate needs size or intervalMs');
  return { size, intervalMs, keep };
}
