/**
 * codec/: the binlog file format, shared by the writer (runtime/) and the reader (decode/).
 *
 * ```
 * file    := frame*                                  ; frames of one or several writers, in write order
 * frame   := F5 7B 10 6C len:u32le crc32:u32le payload
 * payload := header | block2 | block1
 * header  := 'H' "BINLOG" version:u8 originMs:f64le startMs:f64le pid:varint thread:varint  ; one per writer start
 * block2  := 'b' stream:u32le originMs:f64le pid:u32le thread:u32le dropped:u32le lost:u32le
 *            base:varint record*                     ; version 2: the frame stands on its own
 * block1  := 'B' base:varint record*                 ; version 1 (read, not written): relies on the header
 * record  := event | fmtdef | ctxdef | dict | drops | unknown
 * event   := evtag id:varint dt:varint [ctx:varint] [argc:varint] value*
 * fmtdef  := 0x40 id:varint len:varint utf8
 * ctxdef  := 0x41 ctx:varint len:varint utf8
 * dict    := 0x42 len:varint ascii
 * drops   := 0x43 total:varint
 * unknown := 0x44 level:u8 dt:varint id:varint
 * value   := 0x80|n | 0x01 zigzag | 0x02 f64le | 0x03 str | 0x04..0x07 | 0x08 str | 0x09 str
 * varint  := unsigned LEB128, at most 8 bytes; u32le/f64le are little-endian
 * ```
 * Details per part: frame.ts, header.ts, record.ts, value.ts.
 *
 * Version 2 (FORMAT_VERSION): one writer flush is one write(2) of frames of at most 4 KiB
 * (runtime/core.ts), each carrying its writer's stream id, clock anchor and drop/loss totals; the
 * definitions its records use (fmtdef, ctxdef, dict) are repeated in every write. So any sequence of
 * whole writes decodes on its own (rotated pieces, a file after copytruncate, writes of several writers
 * interleaved by O_APPEND), a damaged header re-dates nothing, and damage is confined to the 4 KiB frame it
 * touches. A reader keeps state per stream id. A reader skips whatever is not a valid frame (torn tail,
 * inserted garbage) and resynchronises on the next SYNC, counting the skipped bytes; from a whole frame
 * that fails its CRC (flipped or overwritten bytes) it keeps the records that decode cleanly and skips
 * only those the damage touched (decode/salvage.ts).
 * Version-1 files (one header with the anchor, then 'B' blocks of up to a whole buffer) still decode.
 */
export * from './cursor.js';
export * from './dictionary.js';
export * from './errors.js';
export * from './frame.js';
export * from './header.js';
export * from './json-text.js';
export * from './record.js';
export * from './value.js';
export * from './varint.js';
