/**
 * Block compression for the migration wire: the Codec interface, the codecs this machine can load, and
 * the negotiation of one codec between two peers. One file per codec: none (here), lz4-codec.ts,
 * zstd-codec.ts; the Codec interface and the per-block rules they share are in block-codec.ts.
 *
 * ```
 * sender                                              receiver
 * availableCodecs() -> ['zstd','lz4','none']          availableCodecs() -> ['lz4','none']
 *            <------------- the receiver's list --------------
 * negotiateCodec('zstd', ['lz4','none']) -> 'lz4'  (the sender's wish if shared, else its next choice)
 *            -------------- 'lz4' ------------------------->  openCodec('lz4')
 * per block (<= 4 MiB): compress(raw) -> bytes  ==> [rawLength, bytes] ==>  decompress(bytes, rawLength)
 * ```
 * A block is self-contained (no state carries from one block to the next), so blocks may be sent, lost
 * with a connection, and decoded independently. decompress() checks the announced raw length exactly and
 * throws WireError PROTOCOL on any mismatch or corrupt input; it never allocates more than the announced
 * length (at most MAX_CODEC_BLOCK). An incompressible block grows a little (1 MiB of random bytes: lz4
 * +4114 bytes, zstd +34): a protocol may send such a block as 'none' instead. The libraries are the system's liblz4 and libzstd, loaded with koffi: why
 * these and not a registry binding, and the figures, are in packages/ckpt/README.md ("Compression") and
 * bench/README.md ("compress").
 *
 * @example
 * const name = negotiateCodec('zstd', peerCodecs);
 * using codec = openCodec(name);
 * const wire = codec.compress(block);            // a view, valid until the next compress()
 * codec.decompress(wire, block.length);          // === block's bytes
 */
import { type Codec, type CodecName, checkRawLength, compressedBlock } from './block-codec.js';
import { loadLz4, openLz4 } from './lz4-codec.js';
import { WireError } from './wire-errors.js';
import { loadZstd, openZstd } from './zstd-codec.js';

export { type Codec, type CodecName, MAX_CODEC_BLOCK } from './block-codec.js';

/**
 * Every codec, best first: the order a sender prefers when its wish is not shared (the measurement
 * behind it is in bench/README.md, "compress").
 */
export const CODEC_NAMES: readonly CodecName[] = ['zstd', 'lz4', 'none'];

/** The codec `--compress` means without a name. */
export const DEFAULT_CODEC: CodecName = 'zstd';

const EMPTY = Buffer.alloc(0);

/** Whether a string (from argv or the wire) names a codec. */
export function isCodecName(s: string): s is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(s);
}

/**
 * 'none': the bytes as they are. compress() and decompress() return a view of `src` (no copy: valid as
 * long as `src` is); decompress() checks the length.
 */
class NoneCodec implements Codec {
  readonly name = 'none';
  private open = true;

  compress(src: Uint8Array): Buffer {
    compressedBlock(this.open ? EMPTY : null, 'none', src);
    return Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }

  decompress(src: Uint8Array, rawLength: number): Buffer {
    checkRawLength('none', src, rawLength);
    if (src.length !== rawLength) {
      throw new WireError(
        'PROTOCOL',
        `none: a block of ${src.length} bytes where ${rawLength} were announced`,
      );
    }
    return Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }

  close(): void {
    this.open = false;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Whether each codec's library loads here (loading is tried once per process). */
function loads(name: CodecName): boolean {
  if (name === 'lz4') return !(loadLz4() instanceof Error);
  if (name === 'zstd') return !(loadZstd() instanceof Error);
  return true;
}

/**
 * The codecs whose library loads on this machine, best first (always ends with 'none').
 *
 * @example
 * availableCodecs(); // ['zstd', 'lz4', 'none'] on Debian (apt depends on both libraries)
 */
export function availableCodecs(): readonly CodecName[] {
  return CODEC_NAMES.filter(loads);
}

/**
 * Open a codec; throws WireError UNSUPPORTED naming the codec and its library when the library is
 * missing. `level`: zstd's level (default -1), lz4's acceleration (default 1); none ignores it.
 *
 * @example
 * using c = openCodec('zstd'); // or: WireError UNSUPPORTED "zstd compression is not available here: ..."
 */
export function openCodec(name: CodecName, o: { level?: number } = {}): Codec {
  if (name === 'lz4') return openLz4(o);
  if (name === 'zstd') return openZstd(o);
  if (name === 'none') return new NoneCodec();
  throw new WireError(
    'UNSUPPORTED',
    `unknown codec ${JSON.stringify(name)} (have: ${CODEC_NAMES.join(', ')})`,
  );
}

/**
 * The one both peers support, by the sender's preference order; 'none' when nothing else is shared.
 * `wanted` first (when this side has it and the peer lists it), then the sender's available codecs best
 * first; 'none' when `wanted` is 'none'. Names in `peer` that this side does not know are ignored (a newer
 * peer). A result other than `wanted` is the caller's to report.
 *
 * @example
 * negotiateCodec('zstd', ['lz4', 'none']); // 'lz4'
 * negotiateCodec('lz4', []);               // 'none' (e.g. a CRIU page server: no codec list at all)
 */
export function negotiateCodec(wanted: CodecName, peer: readonly string[]): CodecName {
  if (wanted === 'none') return 'none';
  const mine = availableCodecs();
  for (const c of [wanted, ...mine]) {
    if (c !== 'none' && mine.includes(c) && peer.includes(c)) return c;
  }
  return 'none';
}
