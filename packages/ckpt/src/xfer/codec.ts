/**
 * Placeholder of the compression codecs (the codec branch brings lz4 and zstd): only 'none' here.
 */
import { WireError } from './wire-errors.js';

export type CodecName = 'none' | 'lz4' | 'zstd';
export interface Codec {
  readonly name: CodecName;
  compress(src: Uint8Array): Buffer;
  decompress(src: Uint8Array, rawLength: number): Buffer;
}
export function availableCodecs(): readonly CodecName[] {
  return ['none'];
}
export function openCodec(name: CodecName): Codec {
  if (name !== 'none') throw new WireError('PROTOCOL', `codec ${name} is not available here`);
  return {
    name,
    compress: (src) => Buffer.from(src.buffer, src.byteOffset, src.byteLength),
    decompress: (src) => Buffer.from(src.buffer, src.byteOffset, src.byteLength),
  };
}
export function negotiateCodec(wanted: CodecName, peer: readonly CodecName[]): CodecName {
  return peer.includes(wanted) && availableCodecs().includes(wanted) ? wanted : 'none';
}
