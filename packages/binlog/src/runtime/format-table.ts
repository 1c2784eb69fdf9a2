/**
 * The formats a thread logs with: those of the registered pre-compiled dictionary (mode 2, ids
 * 1..MAX_DICTIONARY_ID) and those interned at run time (mode 1, ids above MAX_DICTIONARY_ID). The table
 * is per thread (module state): a dictionary is registered once by the generated module, before any
 * rewritten call runs.
 *
 * Interning is bounded, so that dynamic messages (`log.info(`user ${id} paid`)`) cost what a constant
 * format costs and keep no memory:
 * ```
 *  text ──► interned? ──yes──► its FormatEntry (generated writer, fmtdef written once per log)
 *              │no
 *              ▼
 *     in its slot of the candidate cache (CANDIDATE_SLOTS texts), and fewer than MAX_INTERNED interned?
 *              │yes: intern it now              │no: remember it (bounded), return undefined:
 *              ▼                                ▼    the record carries the text (DYNAMIC_ID)
 * ```
 * A format becomes an entry only once it repeats; a message seen once (an interpolated id, a timestamp)
 * is written as the argument of the fixed DYNAMIC_ID format (codec/record.ts) and costs no code
 * generation and no table entry. Past MAX_INTERNED formats, every new text goes that way.
 *
 * Pre-compiled ids (mode 2) are never numbers at the call site, because a number is a message
 * (`log.info(12345)`): a rewritten call passes the dictionary's FormatEntry itself, read from the global
 * table `__binlogFormats` (`log.info(__binlogFormats[17], a)`), which only registerDictionary() fills.
 * A user's value can never be mistaken for it (it is an instance of a class binlog does not export).
 *
 * @example
 * registerDictionary(makeDictionary([{ id: 1, fmt: 'user %s', file: 'a.ts', line: 1 }]));
 * formatId(1)?.text; // 'user %s'
 * runtimeFormat('x %d'); // undefined the first time (not interned yet), its entry the second time
 */
import { type Dictionary, DYNAMIC_ID, dictionaryHash, MAX_DICTIONARY_ID } from '../codec/index.js';
import { type ArgKind, FORMATS_GLOBAL, parseFormat } from '../format/index.js';
import { buildWriter, type RecordWriter } from './encoder.js';
import { LoggerError } from './errors.js';

/** Run-time formats interned at most (per thread); later new texts are written as DYNAMIC_ID records. */
export const MAX_INTERNED = 1024;
/** Not-interned texts remembered (a power of two): a text found again in its slot is interned. */
export const CANDIDATE_SLOTS = 4096;
/** `FormatEntry.index` of a dictionary format (its dictionary's hash must be in the stream). */
export const DICTIONARY_INDEX = -1;
/** `FormatEntry.index` of the DYNAMIC_ID format (nothing to define). */
export const DYNAMIC_INDEX = -2;

/** A format: what a pre-compiled call passes instead of its literal, and what a log call is written with. */
export class FormatEntry {
  /** specs.length (-1 for DYNAMIC_ID: its argument count is always written). */
  readonly n: number;
  /** Writes a packed event of this format (encoder.ts). */
  readonly write: RecordWriter;
  constructor(
    /** The id written in records. */
    readonly id: number,
    /** Index among run-time formats (for per-stream "defined yet?" marks), or DICTIONARY_INDEX / DYNAMIC_INDEX. */
    readonly index: number,
    /** The format text as the decoder will parse it (a malformed run-time format has its `%` escaped). */
    readonly text: string,
    readonly specs: readonly ArgKind[],
  ) {
    this.n = index === DYNAMIC_INDEX ? -1 : specs.length;
    this.write = buildWriter(id, index, index === DYNAMIC_INDEX ? null : specs);
  }
}

/** The format of records that carry their text as first argument. */
export const DYNAMIC_FORMAT = new FormatEntry(DYNAMIC_ID, DYNAMIC_INDEX, '', []);

const interned = new Map<string, FormatEntry>();
const slots: (string | undefined)[] = new Array(CANDIDATE_SLOTS).fill(undefined);
let dictionary: Dictionary | null = null;

/** The global table rewritten calls read; one per thread (each thread has its own globalThis). */
const byId: (FormatEntry | undefined)[] = ((): (FormatEntry | undefined)[] => {
  const g = globalThis as Record<string, unknown>;
  const existing = g[FORMATS_GLOBAL];
  if (Array.isArray(existing)) return existing as (FormatEntry | undefined)[];
  const table: (FormatEntry | undefined)[] = [];
  Object.defineProperty(globalThis, FORMATS_GLOBAL, { value: table, enumerable: false, writable: false });
  return table;
})();

function entry(id: number, index: number, text: string): FormatEntry {
  let specs: readonly ArgKind[];
  try {
    specs = parseFormat(text).specs;
  } catch {
    // A run-time format with an unknown specifier is kept as literal text; its arguments are appended.
    text = text.replaceAll('%', '%%');
    specs = [];
  }
  return new FormatEntry(id, index, text, specs);
}

/** Intern `text` now (a format binlog itself uses, such as '' or '%s'). */
export function internFormat(text: string): FormatEntry {
  let e = interned.get(text);
  if (e === undefined) {
    e = entry(MAX_DICTIONARY_ID + 1 + interned.size, interned.size, text);
    interned.set(text, e);
  }
  return e;
}

/**
 * The entry of a run-time format string, or undefined while it is not interned (seen once, or the
 * table is full): the caller then writes the text itself (DYNAMIC_FORMAT).
 */
export function runtimeFormat(text: string): FormatEntry | undefined {
  const e = interned.get(text);
  return e !== undefined ? e : candidate(text);
}

/** The entry of `text` if it is interned (a lookup that does not count as a use). */
export function internedFormat(text: string): FormatEntry | undefined {
  return interned.get(text);
}

/**
 * A not-interned text: interned when the same text is in its slot of the candidate cache (it repeats),
 * else it takes the slot. The cache is direct-mapped (CANDIDATE_SLOTS strings, a cheap hash of the
 * length and five characters): no per-call allocation and no growth, unlike a Set.
 */
function candidate(text: string): FormatEntry | undefined {
  if (interned.size >= MAX_INTERNED) return undefined;
  const k = slotOf(text);
  if (slots[k] === text) {
    slots[k] = undefined;
    return internFormat(text);
  }
  slots[k] = text;
  return undefined;
}

function slotOf(s: string): number {
  const n = s.length;
  let h = n;
  if (n > 0) {
    h = Math.imul(h, 31) + s.charCodeAt(0);
    h = Math.imul(h, 31) + s.charCodeAt(n - 1);
    h = Math.imul(h, 31) + s.charCodeAt(n >> 1);
    h = Math.imul(h, 31) + s.charCodeAt(n >> 2);
    h = Math.imul(h, 31) + s.charCodeAt((3 * n) >> 2);
  }
  return (h ^ (h >>> 13)) & (CANDIDATE_SLOTS - 1);
}

/** The registered dictionary, if any. */
export function registeredDictionary(): Dictionary | null {
  return dictionary;
}

/**
 * Register the pre-compiled dictionary. The module generated by `binlog precompile` calls this before any
 * rewritten call runs. Registering the same dictionary again is a no-op; a different one throws
 * LoggerError('DICTIONARY_CONFLICT').
 *
 * @example
 * import { registerDictionary } from 'binlog';
 * registerDictionary(JSON.parse(readFileSync('binlog.dict.json', 'utf8')));
 */
export function registerDictionary(dict: Dictionary): void {
  if (dictionary !== null) {
    if (dictionary.hash === dict.hash) return;
    throw new LoggerError(
      'DICTIONARY_CONFLICT',
      `a different dictionary (hash ${dictionary.hash}) is already registered; cannot register ${dict.hash}`,
    );
  }
  if (!dict || !Array.isArray(dict.formats) || dictionaryHash(dict.formats) !== dict.hash) {
    throw new LoggerError('BAD_OPTION', 'not a binlog dictionary, or its hash does not match its formats');
  }
  const table: FormatEntry[] = [];
  for (const f of dict.formats) {
    if (!Number.isInteger(f.id) || f.id < 1 || f.id > MAX_DICTIONARY_ID) {
      throw new LoggerError('BAD_OPTION', `dictionary id ${String(f.id)} is out of range`);
    }
    table[f.id] = entry(f.id, DICTIONARY_INDEX, f.fmt);
  }
  dictionary = dict;
  table.forEach((e, id) => {
    byId[id] = e;
  });
}

/**
 * What a pre-compiled call passes for dictionary id `id` (the same object as `__binlogFormats[id]`), for
 * code that calls a logger with ids by hand (tests, benchmarks). Undefined when no dictionary defines it.
 *
 * @example
 * registerDictionary(dict);
 * log.info(formatId(1), 'bob'); // as the rewritten `log.info('user %s', 'bob')`
 */
export function formatId(id: number): FormatEntry | undefined {
  return byId[id];
}
