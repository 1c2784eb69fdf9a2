/**
 * Frames: the unit a writer hands to the kernel in one write, and the unit a reader can verify and skip.
 *
 * ```
 * frame := SYNC len:u32le crc:u32le payload     ; SYNC = F5 7B 10 6C, crc = CRC-32 of payload
 * ```
 * 0xF5 never occurs in UTF-8 text, so string arguments cannot imitate a frame start; a false match inside
 * numeric bytes fails its CRC. A reader that meets anything but a valid frame scans forward to the next
 * SYNC and counts the bytes it skipped. Writers (format version 2) keep frames to 4 KiB, so the CRC
 * localises damage to 4 KiB, and a frame written to a pipe is one atomic write (PIPE_BUF). A whole
 * frame that fails its CRC (damagedFrame) is not skipped whole: the reader salvages its records.
 *
 * @example
 * const payload = Buffer.from('Bxyz');
 * const f = Buffer.alloc(FRAME_HEAD + payload.length);
 * payload.copy(f, FRAME_HEAD);
 * sealFrame(f, 0, payload.length);
 * scanFrame(f, 0); // { kind: 'frame', start: 0, payloadStart: 12, end: 16 }
 */
import { crc32 } from 'node:zlib';

export const SYNC = Buffer.from([0xf5, 0x7b, 0x10, 0x6c]);
/** Bytes before the payload: SYNC, length, CRC. */
export const FRAME_HEAD = 12;
/** Largest payload a reader accepts (a writer's buffer is far smaller). */
export const MAX_PAYLOAD = 64 * 1024 * 1024;

/** Fill in the frame head at `start` for the `len` payload bytes that follow it. */
export function sealFrame(buf: Buffer, start: number, len: number): void {
  SYNC.copy(buf, start);
  buf.writeUInt32LE(len, start + 4);
  const p = start + FRAME_HEAD;
  buf.writeUInt32LE(crc32(buf.subarray(p, p + len)), start + 8);
}

/** What scanFrame found at an offset. */
export type FrameScan =
  | { kind: 'frame'; start: number; payloadStart: number; end: number }
  /** Not a frame here; the next SYNC (or the end of input) is at `next`. */
  | { kind: 'garbage'; start: number; next: number }
  /** A frame head whose payload has not all arrived (or the input was cut). */
  | { kind: 'partial'; start: number };

/** Look for a valid frame at `pos` in `buf[0..end)`. */
export function scanFrame(buf: Buffer, pos: number, end = buf.length): FrameScan {
  if (end - pos < FRAME_HEAD) {
    if (isSyncPrefix(buf, pos, end)) return { kind: 'partial', start: pos };
    return { kind: 'garbage', start: pos, next: nextSync(buf, pos + 1, end) };
  }
  if (buf[pos] === 0xf5 && buf[pos + 1] === 0x7b && buf[pos + 2] === 0x10 && buf[pos + 3] === 0x6c) {
    const len = buf.readUInt32LE(pos + 4);
    if (len <= MAX_PAYLOAD) {
      const payloadStart = pos + FRAME_HEAD;
      if (payloadStart + len > end) return { kind: 'partial', start: pos };
      if (crc32(buf.subarray(payloadStart, payloadStart + len)) === buf.readUInt32LE(pos + 8)) {
        return { kind: 'frame', start: pos, payloadStart, end: payloadStart + len };
      }
    }
  }
  return { kind: 'garbage', start: pos, next: nextSync(buf, pos + 1, end) };
}

function isSyncPrefix(buf: Buffer, pos: number, end: number): boolean {
  for (let i = 0; i < 4 && pos + i < end; i++) if (buf[pos + i] !== SYNC[i]) return false;
  return true;
}

/** Offset of the next SYNC at or after `from`, or of a SYNC prefix cut by `end`, or `end`. */
export function nextSync(buf: Buffer, from: number, end: number): number {
  const i = buf.subarray(0, end).indexOf(SYNC, from);
  if (i >= 0) return i;
  for (let p = Math.max(from, end - 3); p < end; p++) if (isSyncPrefix(buf, p, end)) return p;
  return end;
}

/**
 * The frame at `pos` if it is whole but failed its CRC (scanFrame said 'garbage'): SYNC, a length that
 * fits in `buf`, and after it the next SYNC or the end of `buf`. Its records may be salvaged one by one
 * (decode/salvage.ts). Null for anything else (no SYNC, a length that leads nowhere).
 */
export function damagedFrame(buf: Buffer, pos: number): { payloadStart: number; end: number } | null {
  if (buf.length - pos < FRAME_HEAD || !isSyncPrefix(buf, pos, pos + 4)) return null;
  const len = buf.readUInt32LE(pos + 4);
  const end = pos + FRAME_HEAD + len;
  if (len > MAX_PAYLOAD || end > buf.length) return null;
  if (end !== buf.length && !isSyncPrefix(buf, end, Math.min(end + 4, buf.length))) return null;
  return { payloadStart: pos + FRAME_HEAD, end };
}
