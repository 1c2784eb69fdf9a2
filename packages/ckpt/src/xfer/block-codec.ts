/**
 * What a block codec is (the Codec interface, implemented once per codec file) and the rules every codec
 * applies to one block, in one place: its size bound (a block is at most MAX_CODEC_BLOCK raw bytes, on both
 * sides), the checks of an announced raw length that comes from the wire, how a codec's shared library
 * is loaded (once per process, with koffi) and the one-line error when it does not. codec.ts chooses and
 * opens codecs.
 *
 * @example
 * const out = outputBlock('zstd', src, rawLength); // WireError PROTOCOL when rawLength is absurd
 */
import koffi from 'koffi';
import { WireError } from './wire-errors.js';

export type CodecName = 'none' | 'lz4' | 'zstd';

/**
 * One block codec. compress() and decompress() are synchronous (on this 2-vCPU VM, per MiB: zstd -1
 * ~1.5 ms to compress and ~0.6 ms to decompress, lz4 ~1.4 and ~0.3 ms); close() frees the codec's buffers
 * and native contexts and is safe to call twice. decompress() returns a fresh Buffer (lz4, zstd) or, for
 * none, a view of `src` (valid as long as `src` is).
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

/** Binds one C function from its declaration (`'int LZ4_versionNumber()'`); typed by the codec file. */
export type BindFunction = (decl: string) => (...args: unknown[]) => never;

const libraries = new Map<string, unknown>();

/**
 * Load `file` with koffi and `bind` its functions, once per process and file name; the Error when it does
 * not load (kept too: availableCodecs() asks again and again).
 */
export function loadCodecLibrary<T>(file: string, bind: (f: BindFunction) => T): T | Error {
  if (libraries.has(file)) return libraries.get(file) as T | Error;
  let lib: T | Error;
  try {
    const so = koffi.load(file);
    lib = bind((decl) => so.func(decl) as unknown as (...args: unknown[]) => never);
  } catch (e) {
    lib = e instanceof Error ? e : new Error(String(e));
  }
  libraries.set(file, lib);
  return lib;
}

/**
 * The library of codec `name`, or the error of a codec whose library does not load: WireError
 * UNSUPPORTED, one line, with the package to install.
 */
export function requireCodecLibrary<T>(name: CodecName, file: string, pkg: string, lib: T | Error): T {
  if (!(lib instanceof Error)) return lib;
  const why = lib.message.split('\n')[0];
  throw new WireError(
    'UNSUPPORTED',
    `${name} compression is not available here: ${file} does not load (${why}); install ${pkg} or use --compress none`,
    { cause: lib },
  );
}
