/**
 * codec/: the binlog file format, shared by the writer (runtime/) and the reader (decode/).
 *
 * ```
 * file    := frame*                                  ; the first frame carries a header payload
 * frame   := F5 7B 10 6C len:u32le crc32:u32le payload
 * payload := header | block
 * header  := 'H' "BINLOG" version:u8 originMs:f64le startMs:f64le pid:varint thread:varint
 * block   := 'B' base:varint record*
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
 * Details per part: frame.ts, header.ts, record.ts, value.ts. One writer flush is one frame; a reader
 * skips whatever is not a valid frame (torn tail, flipped bytes, inserted garbage) and resynchronises on
 * the next SYNC, counting the skipped bytes.
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
