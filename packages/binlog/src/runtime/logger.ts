/**
 * Logger: levels, bound fields and children over one Core (one buffer, one destination), with pino's
 * call shapes.
 *
 * Message formatting happens in the decoder. What a call records:
 * - `log.info('user %s paid %d', name, cents)`: the format's id (interned once it repeats, its text
 *   written once into the log) and the raw arguments; a message seen once (`log.info(`user ${id}`)`)
 *   carries its text instead (format-table.ts);
 * - `log.info(__binlogFormats[17], name, cents)`: the same, for a call site rewritten by `binlog
 *   precompile` (format 17 of the registered dictionary);
 * - `log.info({ user, cents }, 'paid %d', n)`: the object's keys as the record's fields (serializers,
 *   redaction, mixin: call-fields.ts), then the message; `log.error(err)` and `log.error({ err }, 'msg')`
 *   record pino's `err` object (type, message, stack, causes, own properties); without a message, the
 *   error's message is the message;
 * - any other first value (`log.info(12345)`) is the message; extra arguments are printed after the
 *   message, separated by spaces (as util.format); missing ones leave their specifier (`%d`).
 *
 * A log call never throws. Records below the level return before reading the clock. `level` can be read
 * and set at run time (`log.level = 'warn'`), per logger: a child starts at its parent's level.
 *
 * @example
 * const log = createLogger({ dest: '/tmp/app.blog', level: 'debug', fields: { svc: 'api' } });
 * log.info('user %s paid %d cents in %f s', 'bob', 1200, 0.35);
 * log.child({ req: 7 }).warn({ ms: 1532 }, 'slow');
 * log.error(new Error('boom'));
 * log.close();
 */
import { LV_CUSTOM, safeJson } from '../codec/index.js';
import { CallFields } from './call-fields.js';
import { type Context, Core } from './core.js';
import { Destination } from './destination.js';
import { LoggerError } from './errors.js';
import { FormatEntry, internFormat } from './format-table.js';
import { argsOf } from './general-record.js';
import { LEVELS, type LevelOption, LevelTable, levelIndex } from './level.js';
import {
  type ChildOptions,
  checkOptionKeys,
  checkSerializers,
  type LoggerOptions,
  rotateOptions,
} from './options.js';
import { Redactor } from './redact.js';
import type { ErrorListener, LoggerStats } from './write-stats.js';

export type { ChildOptions, LoggerOptions } from './options.js';

/** A level method: pino's call shapes. */
export interface LogFn {
  (msg: string, ...args: unknown[]): void;
  /** A call rewritten by `binlog precompile` (or `formatId(n)` by hand). */
  (id: FormatEntry, ...args: unknown[]): void;
  (obj: unknown, msg?: string, ...args: unknown[]): void;
}

/** Merge and serialise fields; throws BAD_OPTION on something that is not a plain object. */
function fieldsJson(
  fields: unknown,
  base: Record<string, unknown>,
  cf: CallFields,
): { merged: Record<string, unknown>; json: string } | null {
  if (fields === undefined) return Object.keys(base).length ? { merged: base, json: safeJson(base) } : null;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new LoggerError('BAD_OPTION', 'fields must be an object');
  }
  const merged = { ...base, ...cf.bindings(fields as Record<string, unknown>) };
  return Object.keys(merged).length ? { merged, json: safeJson(merged) } : null;
}

/** The message of a call with an object and no message string: an error's message, or the object's `msg`. */
function messageOf(obj: object): string | undefined {
  if (obj instanceof Error) return obj.message;
  const o = obj as { err?: unknown; msg?: unknown };
  if (typeof o.msg === 'string') return o.msg;
  if (o.err instanceof Error) return o.err.message;
  return undefined;
}

/** What a logger and its children share. */
interface Family {
  readonly core: Core;
  readonly levels: LevelTable;
}

export class Logger {
  /** @internal */
  constructor(
    private readonly family: Family,
    private min: number,
    private readonly fields: Record<string, unknown>,
    private readonly ctx: Context | null,
    private readonly owner: boolean,
    private readonly callFields: CallFields,
  ) {
    this.plain = callFields.mixin === undefined;
    this.core = family.core;
  }

  /** The family's core, one load away from the level methods. */
  private readonly core: Core;

  /** No mixin: a call with a string or pre-compiled format goes straight to the core. */
  private readonly plain: boolean;

  /**
   * A logger with more bound fields (serialised and redacted as logged objects are), sharing this one's
   * buffer and destination. `options.level` sets its level (default: this logger's current level).
   */
  child(bindings: Record<string, unknown>, options?: ChildOptions): this {
    let cf = this.callFields;
    let min = this.min;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null)
        throw new LoggerError('BAD_OPTION', 'child options must be an object');
      checkOptionKeys(options, true);
      if (options.serializers !== undefined) cf = cf.with(checkSerializers(options.serializers));
      if (options.level !== undefined) min = this.family.levels.number(options.level);
    }
    const f = fieldsJson(bindings, this.fields, cf);
    const Ctor = this.constructor as new (...a: ConstructorParameters<typeof Logger>) => this;
    return new Ctor(
      this.family,
      min,
      f?.merged ?? {},
      f ? this.family.core.context(f.json) : null,
      false,
      cf,
    );
  }

  /** The level's name (pino's `logger.level`); setting it takes a level name of this logger. */
  get level(): string {
    return this.family.levels.label(this.min);
  }

  set level(level: string) {
    this.min = this.family.levels.number(level);
  }

  /** The level's number (pino's `logger.levelVal`; Infinity when 'silent'). */
  get levelVal(): number {
    return this.min;
  }

  /** The level names and numbers (pino's `logger.levels`). */
  get levels(): {
    readonly values: Readonly<Record<string, number>>;
    readonly labels: Readonly<Record<number, string>>;
  } {
    return this.family.levels;
  }

  /** True when records of this level (a name or a number) are recorded. */
  isLevelEnabled(level: LevelOption | string): boolean {
    const n = typeof level === 'number' ? level : this.family.levels.values[level];
    return n !== undefined && n !== Number.POSITIVE_INFINITY && n >= this.min;
  }

  /** Records dropped so far (overload 'drop', write errors, calls after close). */
  get dropped(): number {
    return this.family.core.dropped;
  }

  /** Counters of the shared writer: bytes, writes, dropped, lost to write errors... (write-stats.ts). */
  stats(): LoggerStats {
    return this.family.core.stats();
  }

  /** Listen for write errors (ENOSPC, EPIPE, EBADF...), delivered on the next tick as pino's destinations emit them. */
  on(event: 'error', fn: ErrorListener): this {
    if (event === 'error') this.family.core.errors.on(fn);
    return this;
  }

  /** Remove an 'error' listener. */
  off(event: 'error', fn: ErrorListener): this {
    if (event === 'error') this.family.core.errors.off(fn);
    return this;
  }

  /** Flush and open the path again (after an external rotation; e.g. `process.on('SIGHUP', () => log.reopen())`). */
  reopen(): void {
    this.family.core.reopen();
  }

  /** Write everything buffered, synchronously. */
  flush(): void {
    this.family.core.flushSync();
  }

  /** Flush and close the destination (the root logger owns it; a child's close() only flushes). */
  close(): void {
    if (this.owner) this.family.core.close();
    else this.family.core.flushSync();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * @internal A call that is not a plain format call (an object or error first, any other first value,
   * a mixin, a custom level, more than 7 arguments): pino's shapes, on the general path.
   */
  emit(lv: number, level: number, all: unknown[]): void {
    const core = this.family.core;
    try {
      let fields: object | null = null;
      // pino: `log.info(undefined, 'a %s', b)` logs 'a b'; `log.info(undefined)` logs no message
      let rest = all[0] === undefined ? (all.length > 1 ? all.slice(1) : ['']) : all;
      const f = all[0];
      if (typeof f === 'object' && f !== null && !(f instanceof FormatEntry)) {
        rest = all.slice(1);
        fields = this.callFields.of(f, level, this);
        if (rest.length === 0 || !(typeof rest[0] === 'string' || rest[0] instanceof FormatEntry)) {
          const m = messageOf(f);
          rest = m !== undefined ? [internFormat('%s'), m, ...rest] : rest.length > 0 ? rest : [''];
        }
      } else if (!this.plain) fields = this.callFields.of(null, level, this);
      core.logWith(lv, level, this.ctx, fields, rest[0], rest.slice(1));
    } catch {
      core.internalErrors++;
    }
  }

  /**
   * @internal A call of at most 7 arguments that is not a plain format call: pino's common shapes
   * (`(obj, fmt, ...args)`, `(err)`, `(obj)`) without an arguments array; any other to emit().
   */
  shaped(
    lv: number,
    level: number,
    n: number,
    f: unknown,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    g: unknown,
  ): void {
    const core = this.family.core;
    try {
      if (typeof f === 'object' && f !== null && !(f instanceof FormatEntry)) {
        if (n >= 2 && (typeof a === 'string' || a instanceof FormatEntry)) {
          const fields = this.callFields.of(f, level, this);
          core.logWith(lv, level, this.ctx, fields, a, argsOf(n - 2, b, c, d, e, g, undefined));
          return;
        }
        if (n === 1) {
          if (
            f instanceof Error &&
            this.callFields.plainErr &&
            lv !== LV_CUSTOM &&
            core.logError(lv, this.ctx, f)
          )
            return;
          const fields = this.callFields.of(f, level, this);
          const m = messageOf(f);
          if (m !== undefined) core.logWith(lv, level, this.ctx, fields, internFormat('%s'), [m]);
          else core.logWith(lv, level, this.ctx, fields, '', []);
          return;
        }
      }
      this.emit(lv, level, [f, a, b, c, d, e, g].slice(0, n));
    } catch {
      core.internalErrors++;
    }
  }

  // The level methods take their arguments as named parameters (no rest array, no allocation on the
  // fast path); a call with more than 7 arguments, or of another shape, goes through `arguments`.

  /** Record at level trace (10): `log.trace('user %s', name)`, `log.trace({ user }, 'msg')`, `log.trace(err)`. */
  trace(msg: string, ...args: unknown[]): void;
  trace(id: FormatEntry, ...args: unknown[]): void;
  trace(obj: unknown, msg?: string, ...args: unknown[]): void;
  trace(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 10) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(1, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(1, 10, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(1, 10, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(1, 10, Array.prototype.slice.call(arguments));
  }

  /** Record at level debug (20): `log.debug('user %s', name)`, `log.debug({ user }, 'msg')`, `log.debug(err)`. */
  debug(msg: string, ...args: unknown[]): void;
  debug(id: FormatEntry, ...args: unknown[]): void;
  debug(obj: unknown, msg?: string, ...args: unknown[]): void;
  debug(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 20) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(2, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(2, 20, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(2, 20, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(2, 20, Array.prototype.slice.call(arguments));
  }

  /** Record at level info (30): `log.info('user %s', name)`, `log.info({ user }, 'msg')`, `log.info(err)`. */
  info(msg: string, ...args: unknown[]): void;
  info(id: FormatEntry, ...args: unknown[]): void;
  info(obj: unknown, msg?: string, ...args: unknown[]): void;
  info(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 30) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(3, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(3, 30, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(3, 30, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(3, 30, Array.prototype.slice.call(arguments));
  }

  /** Record at level warn (40): `log.warn('user %s', name)`, `log.warn({ user }, 'msg')`, `log.warn(err)`. */
  warn(msg: string, ...args: unknown[]): void;
  warn(id: FormatEntry, ...args: unknown[]): void;
  warn(obj: unknown, msg?: string, ...args: unknown[]): void;
  warn(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 40) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(4, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(4, 40, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(4, 40, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(4, 40, Array.prototype.slice.call(arguments));
  }

  /** Record at level error (50): `log.error('user %s', name)`, `log.error({ user }, 'msg')`, `log.error(err)`. */
  error(msg: string, ...args: unknown[]): void;
  error(id: FormatEntry, ...args: unknown[]): void;
  error(obj: unknown, msg?: string, ...args: unknown[]): void;
  error(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 50) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(5, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(5, 50, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(5, 50, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(5, 50, Array.prototype.slice.call(arguments));
  }

  /** Record at level fatal (60): `log.fatal('user %s', name)`, `log.fatal({ user }, 'msg')`, `log.fatal(err)`. */
  fatal(msg: string, ...args: unknown[]): void;
  fatal(id: FormatEntry, ...args: unknown[]): void;
  fatal(obj: unknown, msg?: string, ...args: unknown[]): void;
  fatal(f: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown): void {
    if (this.min > 60) return;
    // biome-ignore lint/complexity/noArguments: arguments.length costs nothing; a rest parameter allocates
    const n = arguments.length;
    if (n <= 7 && this.plain) {
      // core.log takes a string or pre-compiled format and returns false for any other first value
      if (!this.core.log(6, this.ctx, n - 1, f, a, b, c, d, e, g)) this.shaped(6, 60, n, f, a, b, c, d, e, g);
    } else if (n <= 7) this.shaped(6, 60, n, f, a, b, c, d, e, g);
    // biome-ignore lint/complexity/noArguments: rare path; a rest parameter would allocate on every call
    else this.emit(6, 60, Array.prototype.slice.call(arguments));
  }
}

/**
 * The Logger class of a family with custom levels: one method per custom level (`log.audit(...)`), and
 * under useOnlyCustomLevels the standard level methods that the table lacks record nothing.
 */
function loggerClass(levels: LevelTable): typeof Logger {
  const customs = levels.customs();
  const missing = Object.keys(LEVELS).filter((n) => !levels.has(n));
  if (customs.length === 0 && missing.length === 0) return Logger;
  class CustomLevelLogger extends Logger {}
  const proto = CustomLevelLogger.prototype as unknown as Record<string, unknown>;
  for (const [name, num] of customs) {
    const lv = levelIndex(num);
    const method = function (this: Logger, ...all: unknown[]): void {
      if (this.levelVal > num) return;
      this.emit(lv, num, all);
    };
    Object.defineProperty(proto, name, { value: method, writable: true, configurable: true });
  }
  for (const name of missing) {
    Object.defineProperty(proto, name, { value: () => {}, writable: true, configurable: true });
  }
  return CustomLevelLogger;
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
export function createLogger<const C extends string = never>(
  options: LoggerOptions<C>,
): Logger & Record<C, LogFn> {
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
  checkOptionKeys(options);
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
  const levels = LevelTable.create(options.customLevels, options.useOnlyCustomLevels === true);
  const min = options.enabled === false ? Number.POSITIVE_INFINITY : levels.number(level);
  if (options.mixin !== undefined && typeof options.mixin !== 'function')
    throw new LoggerError('BAD_OPTION', 'mixin must be a function');
  const cf = new CallFields(
    checkSerializers(options.serializers),
    Redactor.create(options.redact),
    options.mixin,
  );
  const { base, name } = options;
  if (base !== undefined && base !== null && (typeof base !== 'object' || Array.isArray(base)))
    throw new LoggerError('BAD_OPTION', 'base must be an object or null');
  const root = cf.bindings({ ...(base ?? {}), ...(name === undefined ? {} : { name }) });
  const f = fieldsJson(fields, root, cf);
  const rot = rotateOptions(rotate, dest);
  const core = new Core(Destination.open(dest), {
    bufferSize,
    overload: onOverload,
    flushIntervalMs,
    clock,
    rotate: rot,
  });
  const Ctor = loggerClass(levels);
  return new Ctor(
    { core, levels },
    min,
    f?.merged ?? {},
    f ? core.context(f.json) : null,
    true,
    cf,
  ) as Logger & Record<C, LogFn>;
}
