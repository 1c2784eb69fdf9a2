/**
 * JSON text for any value, never throwing: cycles and repeated references become "[Circular]", bigints
 * become their decimal digits, and a value whose toJSON or getter throws becomes "[unserializable]".
 *
 * @example
 * const a: Record<string, unknown> = { x: 1 }; a.self = a;
 * safeJson(a); // '{"x":1,"self":"[Circular]"}'
 */
export function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s;
    return String(v);
  } catch {
    return guardedJson(v);
  }
}

function guardedJson(v: unknown): string {
  const seen = new WeakSet<object>();
  try {
    const s = JSON.stringify(v, (_k, x: unknown) => {
      if (typeof x === 'bigint') return x.toString();
      if (typeof x === 'object' && x !== null) {
        if (seen.has(x)) return '[Circular]';
        seen.add(x);
      }
      return x;
    });
    return s === undefined ? String(v) : s;
  } catch {
    return '"[unserializable]"';
  }
}
