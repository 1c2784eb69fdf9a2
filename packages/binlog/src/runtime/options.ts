/**
 * The options createLogger() accepts: binlog's own, and the pino options binlog implements. Any other
 * key is a LoggerError('BAD_OPTION') naming it, never silently ignored (a `redact` that did nothing
 * would log passwords in clear).
 *
 * @example
 * checkOptionKeys({ dest: 1, transport: {} }); // throws: option transport is not supported by binlog ...
 */
import type { Mixin } from './call-fields.js';
import { LoggerError } from './errors.js';
import type { LevelOption } from './level.js';
import type { RedactOption } from './redact.js';
import type { Serializer } from './serializers.js';

export interface LoggerOptions<C extends string = never> {
  /** A file path (created or appended to; closed by close()) or an open fd number (never closed by binlog). */
  readonly dest: string | number;
  /** Lowest level recorded: a name (a custom level's too), 'silent' or a pino number. Default 'info'. */
  readonly level?: LevelOption | NoInfer<C>;
  /** Fields bound to every record (a JSON-serialisable object); merged after `base`. */
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
  /** pino's `redact`: paths (`a.b`, `a["x-y"]`, `*.password`, `a[*].b`) censored in logged objects and bindings. */
  readonly redact?: RedactOption;
  /** pino's `serializers`, by top-level key of logged objects and bindings (`err` defaults to stdSerializers.err). */
  readonly serializers?: Readonly<Record<string, Serializer>>;
  /** pino's `mixin(mergeObject, level, logger)`: an object whose keys every record gets (the call's own keys win). */
  readonly mixin?: Mixin;
  /** pino's `base`: bound fields of the root logger (default none: the pid is in the log header). */
  readonly base?: Record<string, unknown> | null;
  /** pino's `name`: bound as the field `name`. */
  readonly name?: string;
  /** pino's `enabled`: false logs nothing (level 'silent'). */
  readonly enabled?: boolean;
  /** pino's `customLevels`: name -> number; each name becomes a method (`log.audit('...')`). */
  readonly customLevels?: Readonly<Record<C, number>>;
  /** pino's `useOnlyCustomLevels`: only the custom levels exist (`level` must name one). */
  readonly useOnlyCustomLevels?: boolean;
}

/** Options a child logger accepts (pino's `child(bindings, options)`). */
export interface ChildOptions {
  /** The child's level (it starts at its parent's). */
  readonly level?: LevelOption | string;
  /** More serializers, for this child and its children. */
  readonly serializers?: Readonly<Record<string, Serializer>>;
}

const KNOWN = new Set([
  'dest',
  'level',
  'fields',
  'onOverload',
  'bufferSize',
  'flushIntervalMs',
  'clock',
  'rotate',
  'redact',
  'serializers',
  'mixin',
  'base',
  'name',
  'enabled',
  'customLevels',
  'useOnlyCustomLevels',
]);
const CHILD_KNOWN = new Set(['level', 'serializers']);

/** Throws BAD_OPTION for a key binlog does not implement (of createLogger's options, or of child()'s). */
export function checkOptionKeys(options: object, child = false): void {
  const known = child ? CHILD_KNOWN : KNOWN;
  for (const k of Object.keys(options)) {
    if (!known.has(k)) {
      throw new LoggerError(
        'BAD_OPTION',
        `${child ? 'child option' : 'option'} ${k} is not supported by binlog (supported: ${[...known].join(', ')})`,
      );
    }
  }
}

/** Checks a `serializers` option: an object of functions. */
export function checkSerializers(s: unknown): Readonly<Record<string, Serializer>> {
  if (s === undefined) return {};
  if (typeof s !== 'object' || s === null || Object.values(s).some((f) => typeof f !== 'function')) {
    throw new LoggerError('BAD_OPTION', 'serializers must be an object of functions');
  }
  return s as Record<string, Serializer>;
}

/** Checks a `rotate` option (it needs a path `dest`) and fills its defaults. */
export function rotateOptions(
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
