/**
 * Format ids that stay stable across builds.
 *
 * Rules:
 * - Identical format strings share one id.
 * - A format found in the previous dictionary keeps its id; a new format gets the next id above every id
 *   the previous dictionary used, so an id never changes meaning while the previous dictionary is kept.
 * - Formats of the previous dictionary that no call uses any more are kept (with their last known
 *   file and line), so logs written by the older build still decode with the new dictionary. With
 *   `prune`, they are dropped and their ids may be handed out again by a later build.
 * - An entry's file and line are those of the first call that uses it (files in path order).
 *
 * @example
 * const t = new IdTable(previousDict); // or new IdTable()
 * t.idFor('user %s', 'src/a.ts', 3);   // 1 (or its old id)
 * const dict = t.toDictionary();
 */
import {
  type Dictionary,
  type DictionaryEntry,
  MAX_DICTIONARY_ID,
  makeDictionary,
} from '../codec/dictionary.js';
import { PrecompileError } from './errors.js';

interface Slot {
  id: number;
  fmt: string;
  file: string;
  line: number;
  used: boolean;
}

export class IdTable {
  readonly #byFmt = new Map<string, Slot>();
  #next = 1;

  constructor(previous?: Dictionary) {
    for (const e of previous?.formats ?? []) {
      this.#byFmt.set(e.fmt, { id: e.id, fmt: e.fmt, file: e.file, line: e.line, used: false });
      if (e.id >= this.#next) this.#next = e.id + 1;
    }
  }

  /** The id of `fmt`, assigning the next free one the first time; `file`/`line` locate the call. */
  idFor(fmt: string, file: string, line: number): number {
    let slot = this.#byFmt.get(fmt);
    if (!slot) {
      if (this.#next > MAX_DICTIONARY_ID) {
        throw new PrecompileError('BUILD_ERRORS', `more than ${MAX_DICTIONARY_ID} distinct formats`);
      }
      slot = { id: this.#next++, fmt, file, line, used: false };
      this.#byFmt.set(fmt, slot);
    }
    if (!slot.used) {
      slot.used = true;
      slot.file = file;
      slot.line = line;
    }
    return slot.id;
  }

  /** How many distinct formats the calls seen so far use. */
  get usedCount(): number {
    let n = 0;
    for (const s of this.#byFmt.values()) if (s.used) n++;
    return n;
  }

  /** The dictionary, entries by id; unused previous entries are kept unless `prune`. */
  toDictionary(prune = false): Dictionary {
    const entries: DictionaryEntry[] = [];
    for (const s of this.#byFmt.values()) {
      if (prune && !s.used) continue;
      entries.push({ id: s.id, fmt: s.fmt, file: s.file, line: s.line });
    }
    entries.sort((a, b) => a.id - b.id);
    return makeDictionary(entries);
  }
}
