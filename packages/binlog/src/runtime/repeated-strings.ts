/**
 * A writer's repeated strings: long string values of fields (an error's stack logged again, the same SQL
 * text) that the record refers to by id instead of carrying their text (codec/value.ts, V_STRDEF and
 * V_STRREF). A stack is most of an `error(err)` record: hundreds of bytes to encode, checksum and write
 * per call; a reference is two or three bytes.
 *
 * ```
 *  long string ──► known? ──yes──► defined in this write? ──yes──► id      (V_STRREF)
 *                    │no                                  └─no──► -id     (V_STRDEF, then defined)
 *                    ▼
 *   in its slot of the candidate cache (it repeats), room in the table? ──yes──► known now, -id
 *                    │no: it takes the slot
 *                    ▼
 *                    0 (written as text)
 * ```
 * As with run-time formats (format-table.ts), a string becomes an entry only once it repeats, the table
 * is bounded (MAX_ENTRIES strings, MAX_CHARS characters in all; later strings stay text), and every
 * write defines what its records refer to (`newWrite()`), so each write decodes on its own. Definitions
 * made while writing a record that then did not fit are undone (`rollback()`): the retry defines them
 * again in the new frame or write.
 *
 * @example
 * const r = new RepeatedStrings();
 * r.use(stack); // 0: first sighting, written as text
 * r.use(stack); // -1: define id 1 here
 * r.commit();
 * r.use(stack); // 1: a reference
 */
import type { RepeatedStrings as StringUse } from '../codec/index.js';

/** Strings in the table at most (per writer). */
export const MAX_ENTRIES = 1024;
/** Characters of all strings in the table at most (per writer). */
export const MAX_CHARS = 4 * 1024 * 1024;
/** Longer strings are never entries (written as text each time). */
const MAX_LENGTH = 64 * 1024;
/** Candidate slots (a power of two). */
const SLOTS = 1024;

interface Entry {
  readonly id: number;
  /** The write this string is defined in (0: none). */
  write: number;
}

export class RepeatedStrings implements StringUse {
  private readonly entries = new Map<string, Entry>();
  private readonly slots: (string | undefined)[] = new Array(SLOTS).fill(undefined);
  private chars = 0;
  /** The current write's number (definitions of other writes do not count). */
  private write = 1;
  /** Entries defined by the record being written. */
  private readonly pending: Entry[] = [];

  use(s: string): number {
    const e = this.entries.get(s);
    if (e !== undefined) {
      if (e.write === this.write) return e.id;
      e.write = this.write;
      this.pending.push(e);
      return -e.id;
    }
    if (s.length > MAX_LENGTH || this.entries.size >= MAX_ENTRIES || this.chars + s.length > MAX_CHARS)
      return 0;
    const k = slotOf(s);
    if (this.slots[k] !== s) {
      this.slots[k] = s;
      return 0;
    }
    this.slots[k] = undefined;
    const n: Entry = { id: this.entries.size + 1, write: this.write };
    this.entries.set(s, n);
    this.chars += s.length;
    this.pending.push(n);
    return -n.id;
  }

  /** The record was written: its definitions stand. */
  commit(): void {
    if (this.pending.length > 0) this.pending.length = 0;
  }

  /** The record was not written: its definitions are not in the stream. */
  rollback(): void {
    for (const e of this.pending) e.write = 0;
    this.pending.length = 0;
  }

  /** A new write starts: nothing is defined in it. */
  newWrite(): void {
    this.write++;
    this.pending.length = 0;
  }
}

/** A cheap hash of the length and a few characters (long strings: no pass over the whole text). */
function slotOf(s: string): number {
  const n = s.length;
  let h = n;
  h = Math.imul(h, 31) + s.charCodeAt(n - 1);
  h = Math.imul(h, 31) + s.charCodeAt(n >> 1);
  h = Math.imul(h, 31) + s.charCodeAt(n >> 2);
  h = Math.imul(h, 31) + s.charCodeAt((3 * n) >> 2);
  h = Math.imul(h, 31) + s.charCodeAt(n - 2);
  return (h ^ (h >>> 13)) & (SLOTS - 1);
}
