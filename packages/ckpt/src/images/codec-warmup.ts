/**
 * protobufjs generates each message type's encoder, decoder, verifier and converters at its first use
 * (15-30 ms for a full dump's images): warmCodecs() generates them all now, for the schema roots that
 * registered (schema.ts, and every root a bigint codec is made of). A migration calls it before its
 * freeze (the source's encode) and while the source still runs (the destination's decode).
 *
 * @example
 * warmCodecs(); // before a freeze
 */
import protobuf from 'protobufjs';

const roots = new Set<protobuf.Root>();

/** Have warmCodecs() prepare every message type of `root`. */
export function warmOnDemand(root: protobuf.Root): void {
  roots.add(root);
}

/** Generate every registered message type's code now (see the module comment). */
export function warmCodecs(): void {
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) o.setup();
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) visit(o);
    }
  };
  for (const r of roots) visit(r);
}
