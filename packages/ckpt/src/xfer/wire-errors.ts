/**
 * Errors of the page-server wire protocol (client and server): one class, `WireError`, with a stable `code`.
 *
 * Codes:
 * - `TRUNCATED`       input ends inside a header or a payload (or the peer closed mid-message)
 * - `TRAILING_BYTES`  a fixed-size codec was given more bytes than it takes
 * - `BAD_HEADER`      a header field is out of range (u64 beyond 2^53, vaddr not page-aligned, ...)
 * - `TOO_MANY_PAGES`  nr_pages is absurd (0 for a range, above 2^32, or past the top of user space)
 * - `UNKNOWN_COMMAND` a command number the peer does not implement
 * - `BAD_DST_ID`      dst_id has an unknown type or an id that cannot name an image
 * - `PROTOCOL`        a valid message at the wrong time (data before OPEN, ranges out of order, ...)
 * - `NOT_FLUSHED`     the connection ended before CLOSE ("the data were not flushed")
 * - `CHECKSUM`        a chunk's checksum does not match its data
 * - `BAD_REPLY`       the server answered something the protocol does not allow
 * - `CONNECT`         the connection could not be made or was refused (TLS included)
 * - `IO`              the socket failed (the `cause` carries the Node error)
 *
 * @example
 * try { decodePsHeader(bytes) } catch (e) { if (e instanceof WireError && e.code === 'TRUNCATED') ... }
 */

import { ExpectedError } from '../sys/index.js';

export type WireErrorCode =
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'BAD_HEADER'
  | 'TOO_MANY_PAGES'
  | 'UNKNOWN_COMMAND'
  | 'BAD_DST_ID'
  | 'PROTOCOL'
  | 'NOT_FLUSHED'
  | 'CHECKSUM'
  | 'BAD_REPLY'
  | 'CONNECT'
  | 'IO'
  | 'UNSUPPORTED'; // a codec (or feature) this side cannot load or the peer does not offer (xfer/codec.ts)

/** A page-server message is malformed, arrives at the wrong time, or the connection failed. */
export class WireError extends ExpectedError {
  declare readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'WireError';
  }
}
