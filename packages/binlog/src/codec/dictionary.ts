/**
 * The pre-compiled dictionary: the formats that `binlog precompile` found in the sources, each with a
 * stable id. Written by the pre-compiler as JSON, loaded at run time through `registerDictionary()`, and
 * given to the decoder with `--dict`. Its hash is written into every log that uses it, so a log never
 * decodes against the wrong dictionary.
 *
 * JSON shape:
 * ```
 * { "binlogDictionary": 1, "hash": "<16 hex>", "formats": [ { "id": 1, "fmt": "user %s", "file": "src/a.ts", "line": 3 }, ... ] }
 * ```
 * Ids are dense, from 1. The hash covers ids and format texts only (not file/line), so moving a call
 * does not change it.
 *
 * @example
 * const dict = makeDictionary([{ id: 1, fmt: 'user %s', file: 'a.ts', line: 3 }]);
 * parseDictionary(JSON.stringify(dict)).hash === dict.hash; // true
 */
import { createHash } from 'node:crypto';
import { parseFormat } from '../format/index.js';

export interface DictionaryEntry {
  readonly id: number;
  readonly fmt: string;
  readonly file: string;
  readonly line: number;
}

export interface Dictionary {
  readonly binlogDictionary: 1;
  readonly hash: string;
  readonly formats: readonly DictionaryEntry[];
}

/** A dictionary that is malformed or does not match (`code` = `BAD_DICTIONARY`). */
export class DictionaryError extends Error {
  readonly code = 'BAD_DICTIONARY';
  constructor(message: string) {
    super(message);
    this.name = 'DictionaryError';
  }
}

/** Highest id a dictionary may use; ids above it are interned at run time (mode 1). */
export const MAX_DICTIONARY_ID = 0xfffff;

/** The hash of a dictionary's (id, format) pairs: 16 hex digits of SHA-256. */
export function dictionaryHash(formats: readonly Pick<DictionaryEntry, 'id' | 'fmt'>[]): string {
  const h = createHash('sha256');
  for (const f of [...formats].sort((a, b) => a.id - b.id)) h.update(`${f.id}\u0000${f.fmt}\u0000`);
  return h.digest('hex').slice(0, 16);
}

/**
 * The hashes of every prefix of a dictionary (its entries up to each id, in id order): the hashes of
 * the older dictionaries it extends, when a build only added formats. The last one is its own hash.
 */
export function dictionaryPrefixHashes(formats: readonly Pick<DictionaryEntry, 'id' | 'fmt'>[]): string[] {
  const h = createHash('sha256');
  const out: string[] = [];
  for (const f of [...formats].sort((a, b) => a.id - b.id)) {
    h.update(`${f.id}\u0000${f.fmt}\u0000`);
    out.push(h.copy().digest('hex').slice(0, 16));
  }
  return out;
}

/** Build a dictionary (computes its hash); checks ids and formats. */
export function makeDictionary(formats: readonly DictionaryEntry[]): Dictionary {
  const dict = { binlogDictionary: 1 as const, hash: dictionaryHash(formats), formats: [...formats] };
  validate(dict);
  return dict;
}

function validate(dict: Dictionary): void {
  const seen = new Set<number>();
  for (const f of dict.formats) {
    if (!Number.isInteger(f.id) || f.id < 1 || f.id > MAX_DICTIONARY_ID) {
      throw new DictionaryError(`dictionary entry has a bad id ${String(f.id)}`);
    }
    if (seen.has(f.id)) throw new DictionaryError(`dictionary id ${f.id} appears twice`);
    seen.add(f.id);
    if (typeof f.fmt !== 'string') throw new DictionaryError(`dictionary id ${f.id} has no format string`);
    try {
      parseFormat(f.fmt);
    } catch (e) {
      throw new DictionaryError(`dictionary id ${f.id}: ${(e as Error).message}`);
    }
  }
}

/** Parse and check a dictionary's JSON text; the stored hash must match its contents. */
export function parseDictionary(text: string): Dictionary {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new DictionaryError('dictionary is not JSON');
  }
  const d = raw as Partial<Dictionary> | null;
  if (d?.binlogDictionary !== 1 || typeof d.hash !== 'string' || !Array.isArray(d.formats)) {
    throw new DictionaryError('not a binlog dictionary (version 1)');
  }
  const dict: Dictionary = {
    binlogDictionary: 1,
    hash: d.hash,
    formats: d.formats.map((f) => ({
      id: f.id,
      fmt: f.fmt,
      file: String(f.file ?? ''),
      line: Number(f.line ?? 0),
    })),
  };
  validate(dict);
  const actual = dictionaryHash(dict.formats);
  if (actual !== dict.hash)
    throw new DictionaryError(`dictionary hash ${dict.hash} does not match its contents (${actual})`);
  return dict;
}
