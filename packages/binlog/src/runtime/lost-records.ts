/**
 * Counting the records of frames that did not reach the destination (a failed write), by reading them
 * back with the codec. Runs only after a write error, never on the logging path.
 *
 * A buffer holds version-2 frames (codec/header.ts); format definitions may sit in an earlier frame of
 * the same buffer, so the whole buffer is read and only frames ending after `from` are counted.
 *
 * @example
 * countLostRecords(buf, 0, len, 0); // every record in buf[0..len)
 */
import {
  Cursor,
  FRAME_HEAD,
  MAX_DICTIONARY_ID,
  PAYLOAD_BLOCK2,
  readBlockHead,
  readRecord,
} from '../codec/index.js';
import { type ArgKind, parseFormat } from '../format/index.js';
import { registeredDictionary } from './format-table.js';

function dictionaryKinds(): Map<number, readonly ArgKind[]> {
  const m = new Map<number, readonly ArgKind[]>();
  for (const f of registeredDictionary()?.formats ?? []) {
    try {
      m.set(f.id, parseFormat(f.fmt).specs);
    } catch {
      // a bad entry was refused at registration
    }
  }
  return m;
}

/** Records in the frames of `buf[start..end)` that end after offset `from` (the part not written). */
export function countLostRecords(buf: Buffer, start: number, end: number, from: number): number {
  const runtime = new Map<number, readonly ArgKind[]>();
  let dict: Map<number, readonly ArgKind[]> | null = null;
  const kindsOf = (id: number): readonly ArgKind[] | undefined => {
    if (id > MAX_DICTIONARY_ID) return runtime.get(id);
    dict ??= dictionaryKinds();
    return dict.get(id);
  };
  const strings = new Map<number, string>();
  let lost = 0;
  for (let p = start; p + FRAME_HEAD <= end; ) {
    const len = buf.readUInt32LE(p + 4);
    const frameEnd = p + FRAME_HEAD + len;
    if (frameEnd > end) break;
    const counted = frameEnd > from;
    if (buf[p + FRAME_HEAD] === PAYLOAD_BLOCK2) {
      const c = new Cursor(buf, p + FRAME_HEAD, frameEnd);
      c.strings = strings;
      try {
        const clock = { time: readBlockHead(c).base };
        while (!c.done()) {
          const r = readRecord(c, clock, kindsOf);
          if (r.kind === 'fmtdef') runtime.set(r.id, parseFormat(r.fmt).specs);
          else if (counted && (r.kind === 'event' || r.kind === 'unknown')) lost++;
        }
      } catch {
        // a record that cannot be read back: the rest of this frame is not counted
      }
    }
    p = frameEnd;
  }
  return lost;
}
