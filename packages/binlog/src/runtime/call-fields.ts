/**
 * The fields of a log call, from pino's call shapes: the merging object of `log.info(obj, msg?, ...)`,
 * an error logged as `log.error(err)` (recorded as `{ err }`), and the `mixin` object. They go through
 * the logger's serializers (pino's defaults: `err`), then its redaction, and become the object the record
 * carries, member by member (V_FIELDS_MEMBERS, codec/value.ts: no JSON.stringify at the call). Bindings (`base`, `fields`, `child(bindings)`) go through
 * the same serializers and redaction once, when the logger is built.
 *
 * ```
 * obj ──(Error? {err: obj})──► serializers per top-level key ──► mixin keys under obj's ──► redact ──► JSON
 * ```
 *
 * @example
 * const cf = new CallFields({}, null, undefined);
 * cf.of(new Error('boom'), 50, log); // { err: { type: 'Error', message: 'boom', stack: 'Error: boom\n ...' } }
 */
import type { Redactor } from './redact.js';
import { type Serializer, stdSerializers } from './serializers.js';

/** pino's `mixin`: an object merged into every record (the call's own keys win). */
export type Mixin = (mergeObject: object, level: number, logger: unknown) => object;

export class CallFields {
  private readonly serializers: Readonly<Record<string, Serializer>>;

  constructor(
    serializers: Readonly<Record<string, Serializer>>,
    private readonly redactor: Redactor | null,
    readonly mixin: Mixin | undefined,
  ) {
    this.serializers = { err: stdSerializers.err, ...serializers };
    this.plainErr = this.serializers.err === stdSerializers.err && redactor === null && mixin === undefined;
  }

  /**
   * An error logged alone (`log.error(err)`) is recorded by pino's default `err` serializer and nothing
   * else (no redaction, no mixin): the writer may encode it from the error itself (error-record.ts).
   */
  readonly plainErr: boolean;

  /** The same rules with more serializers (a child's). */
  with(serializers: Readonly<Record<string, Serializer>>): CallFields {
    return new CallFields({ ...this.serializers, ...serializers }, this.redactor, this.mixin);
  }

  /** Bindings as they are recorded: serialised per key, then redacted. */
  bindings(obj: Record<string, unknown>): Record<string, unknown> {
    const out = this.serialized(obj);
    return this.redactor === null ? out : this.redactor.apply(out);
  }

  /**
   * The fields of a call's merging object (`obj` may be an Error: then `{ err: obj }`) with the mixin's
   * keys under its own, or null when nothing is left (`{}` and no mixin).
   */
  of(obj: object | null, level: number, logger: unknown): object | null {
    let o: Record<string, unknown>;
    if (obj instanceof Error) {
      // `{ err: obj }` built serialised (no wrapper to copy)
      const f = this.serializers.err;
      o = { err: f === undefined ? obj : serializeOne(f, obj) };
    } else o = obj === null ? {} : this.serialized(obj as Record<string, unknown>);
    if (this.mixin !== undefined) {
      const m = this.mixin(o, level, logger);
      if (typeof m === 'object' && m !== null) o = { ...(m as Record<string, unknown>), ...o };
    }
    if (this.redactor !== null) o = this.redactor.apply(o);
    for (const _ in o) return o;
    return null;
  }

  /** `obj` with its serializers applied to its top-level keys (a copy when one applies). */
  private serialized(obj: Record<string, unknown>): Record<string, unknown> {
    const ser = this.serializers;
    let out: Record<string, unknown> | null = null;
    for (const k in obj) {
      const f = ser[k];
      if (f === undefined) continue;
      const v = obj[k];
      if (v === undefined) continue;
      out ??= { ...obj };
      out[k] = serializeOne(f, v);
    }
    return out ?? obj;
  }
}

/** A serializer's value for `v`; '[unserializable]' when it throws. */
function serializeOne(f: Serializer, v: unknown): unknown {
  try {
    return f(v);
  } catch {
    return '[unserializable]';
  }
}
