/**
 * RUN.json, version 1: what a benchmark or the demo records about one run, and what `ckpt report` draws.
 *
 * ```
 * Run {
 *   kind: "ckpt-run", version: 1, createdAt: ISO time, title?: string,
 *   host: { kernel: string, cpus: int, memBytes },
 *   modes?: ModeResult[],            the old algorithm (splice) against ours (read), same run
 *   iterations?: IterationResult[],  one iterative pre-dump chain
 *   summary: { throughputBytesPerSec, chainCheck: "ok" | "failed" | "skipped", mismatchedPages: int }
 * }
 * ```
 * Every number is finite, >= 0 and at most 2^53 - 1 (counts are integers). Fields this version does not know are ignored
 * and dropped from the validated value.
 *
 * @example
 * const run = parseRun(readFileSync('RUN.json', 'utf8')); // throws ReportError('BAD_RUN_FILE', 'host.cpus: ...')
 * run.modes?.[0]?.stoppedMs;
 */
import { ReportError } from './errors.js';

/** How pages leave the target: `read` (process_vm_readv, ours) or `splice` (injected vmsplice, CRIU's). */
export type PageMode = 'read' | 'splice';
/** What the target does while it is dumped: nothing (`static`) or writing its memory (`churn`). */
export type Scenario = 'static' | 'churn';
/** Outcome of comparing the restored chain with the target's memory. */
export type ChainCheck = 'ok' | 'failed' | 'skipped';

/** The machine the run was measured on. */
export interface RunHost {
  kernel: string;
  cpus: number;
  memBytes: number;
}

/** One pre-dump of one target in one mode. */
export interface ModeResult {
  mode: PageMode;
  scenario: Scenario;
  sizeBytes: number;
  /** How long the target was stopped. */
  stoppedMs: number;
  totalMs: number;
  /** Pipes held at the peak. */
  pipes: number;
  /** File descriptors held at the peak. */
  fds: number;
  peakPipeBytes: number;
  peakRssBytes: number;
  /** How far /proc/meminfo's MemAvailable fell during the dump. */
  memAvailableDropBytes: number;
}

/** One iteration of an iterative pre-dump chain. */
export interface IterationResult {
  index: number;
  /** The last iteration: the target stayed frozen for all of it. */
  frozen: boolean;
  pagesScanned: number;
  pagesWritten: number;
  ms: number;
  stoppedMs: number;
  bytes: number;
  /** Memory-change tracker in use, e.g. `uffd-wp`. */
  tracker: string;
}

/** Figures over the whole run. */
export interface RunSummary {
  throughputBytesPerSec: number;
  chainCheck: ChainCheck;
  mismatchedPages: number;
}

/** A validated RUN.json. */
export interface Run {
  kind: 'ckpt-run';
  version: 1;
  createdAt: string;
  host: RunHost;
  title?: string;
  modes?: ModeResult[];
  iterations?: IterationResult[];
  summary: RunSummary;
}

/** The only version this reader understands. */
export const RUN_VERSION = 1;

type Obj = Record<string, unknown>;

function bad(path: string, what: string, got: unknown): never {
  throw new ReportError('BAD_RUN_FILE', `${path}: expected ${what}, got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}

function object(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'an object', v);
  return v as Obj;
}

function str(o: Obj, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') bad(`${path}${key}`, 'a string', v);
  return v;
}

function num(o: Obj, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    bad(`${path}${key}`, 'a finite number >= 0 (at most 2^53 - 1)', v);
  }
  return v;
}

function count(o: Obj, key: string, path: string): number {
  const v = num(o, key, path);
  if (!Number.isSafeInteger(v)) bad(`${path}${key}`, 'a whole number >= 0', v);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    bad(`${path}${key}`, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, v);
  }
  return v as T;
}

function list<T>(o: Obj, key: string, item: (v: unknown, path: string) => T): T[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(key, 'an array', v);
  return v.map((x, i) => item(x, `${key}[${i}]`));
}

function mode(v: unknown, path: string): ModeResult {
  const o = object(v, path);
  const p = `${path}.`;
  return {
    mode: oneOf(o, 'mode', p, ['read', 'splice'] as const),
    scenario: oneOf(o, 'scenario', p, ['static', 'churn'] as const),
    sizeBytes: num(o, 'sizeBytes', p),
    stoppedMs: num(o, 'stoppedMs', p),
    totalMs: num(o, 'totalMs', p),
    pipes: count(o, 'pipes', p),
    fds: count(o, 'fds', p),
    peakPipeBytes: num(o, 'peakPipeBytes', p),
    peakRssBytes: num(o, 'peakRssBytes', p),
    memAvailableDropBytes: num(o, 'memAvailableDropBytes', p),
  };
}

function iteration(v: unknown, path: string): IterationResult {
  const o = object(v, path);
  const p = `${path}.`;
  if (typeof o.frozen !== 'boolean') bad(`${p}frozen`, 'true or false', o.frozen);
  return {
    index: count(o, 'index', p),
    frozen: o.frozen,
    pagesScanned: count(o, 'pagesScanned', p),
    pagesWritten: count(o, 'pagesWritten', p),
    ms: num(o, 'ms', p),
    stoppedMs: num(o, 'stoppedMs', p),
    bytes: num(o, 'bytes', p),
    tracker: str(o, 'tracker', p),
  };
}

/**
 * Check a parsed JSON value against the version 1 schema and return a clean copy (unknown fields
 * dropped). Throws `ReportError` `BAD_RUN_FILE` naming the first bad field.
 *
 * @example
 * validateRun({ kind: 'ckpt-run', version: 2 }); // throws "version: expected 1 (...), got 2"
 */
export function validateRun(value: unknown): Run {
  const o = object(value, 'the run file');
  if (o.kind !== 'ckpt-run') bad('kind', '"ckpt-run"', o.kind);
  if (o.version !== RUN_VERSION)
    bad('version', `${RUN_VERSION} (the only version this ckpt reads)`, o.version);
  const createdAt = str(o, 'createdAt', '');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    bad('createdAt', 'an ISO time like "2026-01-31T12:00:00Z"', createdAt);
  }
  const h = object(o.host, 'host');
  const host: RunHost = {
    kernel: str(h, 'kernel', 'host.'),
    cpus: count(h, 'cpus', 'host.'),
    memBytes: num(h, 'memBytes', 'host.'),
  };
  if (o.title !== undefined && typeof o.title !== 'string') bad('title', 'a string', o.title);
  const modes = list(o, 'modes', mode);
  const iterations = list(o, 'iterations', iteration);
  const s = object(o.summary, 'summary');
  const summary: RunSummary = {
    throughputBytesPerSec: num(s, 'throughputBytesPerSec', 'summary.'),
    chainCheck: oneOf(s, 'chainCheck', 'summary.', ['ok', 'failed', 'skipped'] as const),
    mismatchedPages: count(s, 'mismatchedPages', 'summary.'),
  };
  const run: Run = { kind: 'ckpt-run', version: 1, createdAt, host, summary };
  if (typeof o.title === 'string') run.title = o.title;
  if (modes) run.modes = modes;
  if (iterations) run.iterations = iterations;
  return run;
}

/**
 * Parse the text of a RUN.json and validate it (see `validateRun`).
 *
 * @example
 * parseRun('{'); // throws ReportError BAD_RUN_FILE "not JSON: ..."
 */
export function parseRun(text: string): Run {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportError('BAD_RUN_FILE', `not JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateRun(value);
}
