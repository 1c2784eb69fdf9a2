/**
 * The `zstd` codec: one zstd frame per block (with its content size) through the system's libzstd
 * (`libzstd.so.1`, Debian's libzstd1, which apt itself depends on), called with koffi. Each codec owns one
 * compression and one decompression context (ZSTD_CCtx/DCtx, reused for every block: no per-block setup),
 * freed by close() (or, if never closed, when the codec is garbage-collected).
 *
 * ```
 * compress:   src (<= 4 MiB) --ZSTD_compressCCtx(level)--> out (owned, ZSTD_compressBound(4 MiB)) -> view
 * decompress: frame --ZSTD_decompressDCtx(dstCapacity = rawLength)--> fresh Buffer(rawLength)
 *             ZSTD_isError / result != rawLength -> WireError PROTOCOL (zstd's error name in the message)
 * ```
 * libzstd never writes past dstCapacity: a frame claiming more (a "zip bomb") fails with
 * "Destination buffer is too small" instead of allocating.
 *
 * @example
 * using c = openZstd();
 * const frame = c.compress(pages);              // valid until the next compress()
 * c.decompress(frame, pages.length).equals(pages); // true
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
export const ZSTD_LIBRARY = 'libzstd.so.1';
/**
 * The level `openZstd` uses when none is given: -1, zstd's first fast level (chosen by bench/compress.js:
 * the best throughput over 1 Gbit/s on one thread; level 1 sends ~9% fewer bytes; see bench/README.md).
 */
export const ZSTD_DEFAULT_LEVEL = -1;

type Ptr = Uint8Array;
type Ctx = unknown;
interface ZstdLib {
  readonly createCCtx: () => Ctx;
  readonly freeCCtx: (c: Ctx) => number;
  readonly createDCtx: () => Ctx;
  readonly freeDCtx: (c: Ctx) => number;
  /** Returns the size, or a negative error code (size_t read as int64). */
  readonly compressCCtx: (c: Ctx, dst: Ptr, cap: number, src: Ptr, n: number, level: number) => number;
  readonly decompressDCtx: (c: Ctx, dst: Ptr, cap: number, src: Ptr, n: number) => number;
  readonly compressBound: (n: number) => number;
  readonly errorName: (code: number) => string;
  readonly version: number;
}

/** Load libzstd once per file name; the Error when it does not load. */
export function loadZstd(file: string = ZSTD_LIBRARY): ZstdLib | Error {
  return loadCodecLibrary(file, (f) => ({
    createCCtx: f('void *ZSTD_createCCtx()'),
    freeCCtx: f('size_t ZSTD_freeCCtx(void *cctx)'),
    createDCtx: f('void *ZSTD_createDCtx()'),
    freeDCtx: f('size_t ZSTD_freeDCtx(void *dctx)'),
    compressCCtx: f(
      'int64_t ZSTD_compressCCtx(void *cctx, void *dst, size_t cap, const void *src, size_t n, int level)',
    ),
    decompressDCtx: f(
      'int64_t ZSTD_decompressDCtx(void *dctx, void *dst, size_t cap, const void *src, size_t n)',
    ),
    compressBound: f('size_t ZSTD_compressBound(size_t n)'),
    errorName: f('const char *ZSTD_getErrorName(int64_t code)'),
    version: f('unsigned int ZSTD_versionNumber()')(),
  }));
}

interface Contexts {
  readonly lib: ZstdLib;
  c: Ctx | null;
  d: Ctx | null;
}

function freeContexts(x: Contexts): void {
  if (x.c !== null) x.lib.freeCCtx(x.c);
  if (x.d !== null) x.lib.freeDCtx(x.d);
  x.c = x.d = null;
}

/** Frees the contexts of a codec nobody closed (a backstop: close() is the way out). */
const unclosed = new FinalizationRegistry<Contexts>(freeContexts);

class ZstdCodec implements Codec {
  readonly name = 'zstd';
  private out: Buffer | null;
  private readonly ctx: Contexts;

  constructor(
    private readonly lib: ZstdLib,
    private readonly level: number,
  ) {
    this.out = Buffer.allocUnsafeSlow(lib.compressBound(MAX_CODEC_BLOCK));
    this.ctx = { lib, c: lib.createCCtx(), d: lib.createDCtx() };
    unclosed.register(this, this.ctx, this);
    if (this.ctx.c === null || this.ctx.d === null) {
      this.close();
      throw new Error('zstd: ZSTD_createCCtx/ZSTD_createDCtx returned NULL (out of memory)');
    }
  }

  compress(src: Uint8Array): Buffer {
    const out = compressedBlock(this.out, 'zstd', src);
    const n = this.lib.compressCCtx(this.ctx.c, out, out.length, src, src.length, this.level);
    if (n < 0) throw new Error(`zstd: ZSTD_compressCCtx failed: ${this.lib.errorName(n)}`);
    return out.subarray(0, n);
  }

  decompress(src: Uint8Array, rawLength: number): Buffer {
    const out = outputBlock('zstd', src, rawLength);
    if (this.ctx.d === null) throw new Error('zstd codec used after close()');
    const n = this.lib.decompressDCtx(this.ctx.d, out, rawLength, src, src.length);
    if (n !== rawLength) {
      throw new WireError(
        'PROTOCOL',
        n < 0
          ? `zstd: a corrupt block (${src.length} bytes): ${this.lib.errorName(n)}`
          : `zstd: a block decodes to ${n} bytes where ${rawLength} were announced`,
      );
    }
    return out;
  }

  close(): void {
    unclosed.unregister(this);
    freeContexts(this.ctx);
    this.out = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Open the zstd codec at `level` (default ZSTD_DEFAULT_LEVEL; negative levels are zstd's fast modes).
 * Throws WireError UNSUPPORTED (one line naming the library) when `file` does not load.
 *
 * @example
 * using c = openZstd({ level: 3 });
 */
export function openZstd(o: { level?: number } = {}, file: string = ZSTD_LIBRARY): Codec {
  const lib = requireCodecLibrary('zstd', file, 'libzstd1', loadZstd(file));
  return new ZstdCodec(lib, Math.floor(o.level ?? ZSTD_DEFAULT_LEVEL));
}
