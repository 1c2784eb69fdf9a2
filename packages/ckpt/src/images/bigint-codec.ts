/**
 * Typed protobuf codecs whose 64-bit fields are exact: `bigint` in, `bigint` out. Registers, signal masks
 * and capability words use all 64 bits, beyond what a JavaScript number holds (2^53).
 *
 * ```
 * encode: value (bigints) --toLong--> protobufjs verify --> fromObject --> bytes
 * decode: bytes --> protobufjs decode --> toObject({ longs: BigInt }) --> value (bigints)
 * ```
 * Used by the full-dump schemas (core-schema.ts, task-schema.ts); schema.ts keeps numbers for the pre-dump
 * messages, whose 64-bit fields (addresses, counters) stay below 2^53.
 *
 * @example
 * const saEntry = bigintCodec<SaEntry>(root, 'sa_entry');
 * saEntry.decode(saEntry.encode({ sigaction: 1n, flags: 0x4000000n, restorer: 0n, mask: 0n })).flags; // 0x4000000n
 */
import protobuf from 'protobufjs';
import { sampleOf, warmOnDemand } from './codec-warmup.js';
import { ImageError } from './errors.js';
import type { MessageCodec } from './schema.js';

interface LongStatic {
  fromBits(low: number, high: number, unsigned: boolean): unknown;
}
const Long = protobuf.util.Long as unknown as LongStatic;

/** bigints -> Long (bit pattern kept: negative values become their two's complement), recursively. */
function toLongs(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const u = BigInt.asUintN(64, v);
    return Long.fromBits(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, v >= 0n);
  }
  if (Array.isArray(v)) return v.map(toLongs);
  if (v instanceof Uint8Array) return v;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toLongs(x);
    return out;
  }
  return v;
}

/**
 * The codec of message `name` of `root`: 64-bit fields as bigint, enums as numbers, bytes as Buffer.
 * `decode` throws ImageError CORRUPT_IMAGE; `encode` throws it for a value that misses a required field.
 */
export function bigintCodec<T>(root: protobuf.Root, name: string): MessageCodec<T> {
  const type = root.lookupType(name);
  const encodeTrusted = (value: T): Uint8Array =>
    type.encode(type.fromObject(toLongs(value) as Record<string, unknown>)).finish();
  let sample: T | undefined;
  warmOnDemand(root, () => {
    sample ??= sampleOf(type, 'bigint') as T;
    codec.decode(codec.encode(sample));
  });
  const codec: MessageCodec<T> = {
    name,
    encode(value: T): Uint8Array {
      const longs = toLongs(value) as Record<string, unknown>;
      const problem = type.verify(longs);
      if (problem) throw new ImageError('CORRUPT_IMAGE', `${name}: ${problem}`);
      return type.encode(type.fromObject(longs)).finish();
    },
    encodeTrusted,
    decode(bytes: Uint8Array): T {
      try {
        return type.toObject(type.decode(bytes), { longs: BigInt, enums: Number, bytes: Buffer }) as T;
      } catch (e) {
        throw new ImageError('CORRUPT_IMAGE', `${name}: ${(e as Error).message}`, { cause: e });
      }
    },
  };
  return codec;
}
