/**
 * What a block codec is (the Codec interface, implemented once per codec file) and the rules every codec
 * applies to one block, in one place: its size bound (a block is at most MAX_CODEC_BLOCK raw bytes, on both
 * sides), the checks of an announced raw length that comes from the wire, and the one-line error of a
 * codec whose library does not load. codec.ts chooses and opens codecs.
 *
 * @example
 * const out = outputBlock('zstd', src, rawLength); // WireError PROTOCOL when rawLength is absurd
 */
import { WireError } from './wire-errors.js';

export type CodecName = 'none' | 'lz4' | 'zstd';

/**
 * One block codec. compress() and decompress() are synchronous (about 1-5 ms per MiB); close() frees
 * the codec's buffers and native contexts and is safe to call twice.
 *
 * @example
 * using c = openCodec('lz4');
 * const bytes = c.compress(page); c.decompress(bytes, page.length);
 */
export interface Codec extends Disposable {
  readonly name: CodecName;
  /** Compress one block (<= 4 MiB); returns a Buffer (may be a view valid until the next call). */
  compress(src: Uint8Array): Buffer;
  /** Decompress one block whose uncompressed size is rawLength (exactly; else throw WireError 'PROTOCOL'). */
  decompress(src: Uint8Array, rawLength: number): Buffer;
  close(): void;
}

/** The largest block a codec compresses or decompresses: 4 MiB (the page reader's buffer). */
export const MAX_CODEC_BLOCK = 4 << 20;

/** The codec's output buffer for compressing `src`; throws (a bug) when closed or `src` is too large. */
export function compressedBlock(out: Buffer | null, name: CodecName, src: Uint8Array): Buffer {
  if (out === null) throw new Error(`${name} codec used after close()`);
  if (src.length > MAX_CODEC_BLOCK)
    throw new RangeError(`${name}: a block of ${src.length} bytes (max ${MAX_CODEC_BLOCK})`);
  return out;
}

/** Checks the announced `rawLength` of a received block and its size; WireError PROTOCOL when out of range. */
export function checkRawLength(name: CodecName, src: Uint8Array, rawLength: number): void {
  if (!Number.isInteger(rawLength) || rawLength < 0 || rawLength > MAX_CODEC_BLOCK) {
    throw new WireError(
      'PROTOCOL',
      `${name}: a block announced as ${rawLength} raw bytes (max ${MAX_CODEC_BLOCK})`,
    );
  }
  if (src.length > MAX_CODEC_BLOCK + (MAX_CODEC_BLOCK >> 6) + 4096) {
    throw new WireError('PROTOCOL', `${name}: a compressed block of ${src.length} bytes`);
  }
}

/** A fresh buffer for the announced `rawLength` of a received block (checked as checkRawLength does). */
export function outputBlock(name: CodecName, src: Uint8Array, rawLength: number): Buffer {
  checkRawLength(name, src, rawLength);
  return Buffer.allocUnsafeSlow(rawLength);
}

/** The error of a codec whose shared library does not load: one line, with the package to install. */
export function codecLibraryError(name: CodecName, file: string, pkg: string, cause: Error): WireError {
  const why = cause.message.split('\n')[0];
  return new WireError(
    'UNSUPPORTED',
    `${name} compression is not available here: ${file} does not load (${why}); install ${pkg} or use --compress none`,
    { cause },
  );
}
