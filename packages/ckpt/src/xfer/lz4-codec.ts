/**
 * The `lz4` codec: LZ4 raw blocks (no frame, no size prefix: the wire carries the raw length) through the
 * system's liblz4 (`liblz4.so.1`, Debian's liblz4-1, which apt itself depends on), called with koffi.
 *
 * ```
 * compress:   src (<= 4 MiB) --LZ4_compress_fast--> out (owned, LZ4_compressBound(4 MiB)) -> view of out
 * decompress: block --LZ4_decompress_safe(dstCapacity = rawLength)--> fresh Buffer(rawLength)
 *             result != rawLength (or negative: malformed) -> WireError PROTOCOL
 * ```
 * LZ4_decompress_safe never writes past dstCapacity nor reads past the block, whatever the input: a
 * corrupt or hostile block is an error value, never a crash or an unbounded allocation.
 *
 * @example
 * using c = openLz4();
 * const block = c.compress(pages);            // valid until the next compress()
 * c.decompress(block, pages.length).equals(pages); // true
 */
import {
  type Codec,
  compressedBlock,
  loadCodecLibrary,
  MAX_CODEC_BLOCK,
  outputBlock,
  requireCodecLibrary,
} from './block-codec.js';
import { WireError } from './wire-errors.js';

/** The shared object loaded by default. */
export const LZ4_LIBRARY = 'liblz4.so.1';

type Ptr = Uint8Array;
interface Lz4Lib {
  readonly compressFast: (src: Ptr, dst: Ptr, srcSize: number, dstCapacity: number, accel: number) => number;
  readonly decompressSafe: (src: Ptr, dst: Ptr, srcSize: number, dstCapacity: number) => number;
  readonly compressBound: (size: number) => number;
  readonly version: number;
}

/** Load liblz4 once per file name; the Error when it does not load. */
export function loadLz4(file: string = LZ4_LIBRARY): Lz4Lib | Error {
  return loadCodecLibrary(file, (f) => ({
    compressFast: f(
      'int LZ4_compress_fast(const void *src, void *dst, int srcSize, int dstCapacity, int acceleration)',
    ),
    decompressSafe: f('int LZ4_decompress_safe(const void *src, void *dst, int srcSize, int dstCapacity)'),
    compressBound: f('int LZ4_compressBound(int inputSize)'),
    version: f('int LZ4_versionNumber()')(),
  }));
}

class Lz4Codec implements Codec {
  readonly name = 'lz4';
  private out: Buffer | null;

  constructor(
    private readonly lib: Lz4Lib,
    private readonly acceleration: number,
  ) {
    this.out = Buffer.allocUnsafeSlow(lib.compressBound(MAX_CODEC_BLOCK));
  }

  compress(src: Uint8Array): Buffer {
    const out = compressedBlock(this.out, 'lz4', src);
    const n = this.lib.compressFast(src, out, src.length, out.length, this.acceleration);
    // LZ4_compress_fast fails only when dstCapacity < LZ4_compressBound(srcSize): never, by construction
    if (n <= 0) throw new Error(`lz4: LZ4_compress_fast returned ${n} for ${src.length} bytes`);
    return out.subarray(0, n);
  }

  decompress(src: Uint8Array, rawLength: number): Buffer {
    const out = outputBlock('lz4', src, rawLength);
    const n = src.length === 0 ? -1 : this.lib.decompressSafe(src, out, src.length, rawLength);
    if (n !== rawLength) {
      throw new WireError(
        'PROTOCOL',
        n < 0
          ? `lz4: a corrupt block (${src.length} bytes, error at input byte ${-n - 1})`
          : `lz4: a block decodes to ${n} bytes where ${rawLength} were announced`,
      );
    }
    return out;
  }

  close(): void {
    this.out = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Open the lz4 codec (`acceleration` 1 is LZ4's default; higher is faster and compresses less).
 * Throws WireError UNSUPPORTED (one line naming the library) when `file` does not load.
 *
 * @example
 * openLz4({}, 'liblz4-missing.so'); // WireError UNSUPPORTED: lz4 compression is not available here: ...
 */
export function openLz4(o: { level?: number } = {}, file: string = LZ4_LIBRARY): Codec {
  const lib = requireCodecLibrary('lz4', file, 'liblz4-1', loadLz4(file));
  return new Lz4Codec(lib, Math.max(1, Math.floor(o.level ?? 1)));
}
