/**
 * protobufjs generates each message type's encoder, decoder, verifier and converters at its first use
 * (15-30 ms for a full dump's images): warmCodecs() generates them all now, for the schema roots that
 * registered (schema.ts, and every root a bigint codec is made of), once each (a second call keeps them).
 *
 * Generated is not fast yet: V8 runs that code in its interpreter until it ran often (a thread's core
 * entry, ~1,000 values with its xsave words, took 3.5-5 ms to encode the first times, 0.6 ms once
 * optimized). rehearseCodecs() runs each registered codec's encode and decode on a sample value of its
 * type (sampleOf: every field set, every repeated field a few times) some rounds: ~0.1-0.2 s once, well
 * ahead (a migration's source after its first iteration, its destination while the first set comes), so
 * that the frozen window's images encode and the hand-over's decode fast.
 *
 * @example
 * warmCodecs(); // before a freeze
 * rehearseCodecs(); // long before it
 */
import protobuf from 'protobufjs';

const roots = new Set<protobuf.Root>();
const rehearsals = new Set<() => void>();

/**
 * Have warmCodecs() prepare every message type of `root`, and rehearseCodecs() run `rehearse` (one
 * encode and decode of a sample) when given.
 */
export function warmOnDemand(root: protobuf.Root, rehearse?: () => void): void {
  roots.add(root);
  if (rehearse) rehearsals.add(rehearse);
}

/** Run every registered rehearsal `rounds` times (see the module comment). */
export function rehearseCodecs(rounds = 40): void {
  warmCodecs();
  for (let i = 0; i < rounds; i++) for (const r of rehearsals) r();
}

const LONGS = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/**
 * A value of message `type` with every field set (64-bit ones as `long`: bigint or number), every
 * repeated field `repeat` times, nested messages down to `depth` levels.
 *
 * @example
 * coreEntryCodec.encode(sampleOf(type, 'bigint'));
 */
export function sampleOf(type: protobuf.Type, long: 'bigint' | 'number', repeat = 4, depth = 6): object {
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    const t = f.resolvedType;
    let one: () => unknown;
    if (t instanceof protobuf.Type) {
      if (depth === 0) continue;
      one = () => sampleOf(t, long, repeat, depth - 1);
    } else if (t instanceof protobuf.Enum) {
      const v = Object.values(t.values)[0];
      one = () => v;
    } else if (LONGS.has(f.type)) one = () => (long === 'bigint' ? 0x1234_5678_9an : 0x1234_5678_9a);
    else if (f.type === 'bytes') one = () => Buffer.alloc(16, 1);
    else if (f.type === 'string') one = () => 'sample';
    else if (f.type === 'bool') one = () => true;
    else one = () => 7;
    out[f.name] = f.repeated ? Array.from({ length: repeat }, one) : one();
  }
  return out;
}

/** Generate every registered message type's code now (see the module comment). */
export function warmCodecs(): void {
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      // setup() generates new functions each call: once only (a second call threw away what V8 had
      // optimized of the first, e.g. a rehearsal's, right before a freeze)
      if (o instanceof protobuf.Type && !Object.hasOwn(o, 'encode')) o.setup();
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) visit(o);
    }
  };
  for (const r of roots) visit(r);
}
