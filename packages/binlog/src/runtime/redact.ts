/**
 * Redaction, pino's `redact` option: paths into the logged object whose values are replaced by a censor
 * (or removed) before the record is serialised. The logged object itself is never changed: the objects
 * on a redacted path are copied (copy on write), the rest is shared.
 *
 * Path syntax (pino's, from fast-redact):
 * ```
 * path  := key ( "." key | "[" quoted "]" | "[" digits "]" | "[*]" | ".*" )*
 * key   := identifier | "*"
 * ```
 * `a.b.c`, `a["x-y"].c`, `arr[0].secret`, `*.password` (any top-level key), `a.*` (every key of a),
 * `a[*].b` (every element of an array). A wildcard matches own enumerable keys.
 *
 * @example
 * const r = Redactor.create({ paths: ['password', 'user.*.token'], censor: '***' });
 * r.apply({ password: 'p', user: { a: { token: 't' } } }); // { password: '***', user: { a: { token: '***' } } }
 */
import { LoggerError } from './errors.js';

/** pino's `redact` option: the paths alone, or with the censor and `remove`. */
export type RedactOption =
  | readonly string[]
  | {
      readonly paths: readonly string[];
      /** The replacement (default '[Redacted]'), or a function of (value, path) that returns it. */
      readonly censor?: unknown;
      /** Delete the keys instead of censoring them. */
      readonly remove?: boolean;
    };

const WILD = Symbol('*');
type Token = string | typeof WILD;

/** Parse one path; throws BAD_OPTION on a malformed one. */
export function parsePath(path: string): Token[] {
  const bad = (): never => {
    throw new LoggerError('BAD_OPTION', `redact: bad path ${JSON.stringify(path)}`);
  };
  if (typeof path !== 'string' || path === '') bad();
  const out: Token[] = [];
  const re = /(?:^|\.)([A-Za-z_$][\w$-]*|\*)|\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\d+)|(\*))\]/y;
  let i = 0;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (m === null || (i === 0 && m[0].startsWith('.'))) return bad();
    if (i > 0 && m[1] !== undefined && !m[0].startsWith('.')) return bad();
    const key = m[1] ?? m[2] ?? m[3] ?? m[4];
    out.push(m[1] === '*' || m[5] !== undefined ? WILD : (key ?? bad()).replace(/\\(.)/g, '$1'));
    i = re.lastIndex;
  }
  return out;
}

export class Redactor {
  private constructor(
    private readonly paths: readonly Token[][],
    private readonly censor: unknown,
    private readonly remove: boolean,
  ) {}

  /** The redactor of a `redact` option, or null for none; throws BAD_OPTION on a bad option. */
  static create(option: RedactOption | undefined): Redactor | null {
    if (option === undefined) return null;
    const o = Array.isArray(option)
      ? { paths: option as readonly string[] }
      : (option as Exclude<RedactOption, readonly string[]>);
    if (typeof o !== 'object' || o === null || !Array.isArray(o.paths)) {
      throw new LoggerError('BAD_OPTION', 'redact must be an array of paths or { paths, censor?, remove? }');
    }
    const known = new Set(['paths', 'censor', 'remove']);
    for (const k of Object.keys(o))
      if (!known.has(k)) throw new LoggerError('BAD_OPTION', `redact.${k} is not supported`);
    if (o.paths.length === 0) return null;
    return new Redactor(o.paths.map(parsePath), 'censor' in o ? o.censor : '[Redacted]', o.remove === true);
  }

  /** `obj` with the paths redacted: `obj` itself when no path is present, else a partial copy. */
  apply<T>(obj: T): T {
    let out: unknown = obj;
    for (const p of this.paths) out = this.walk(out, p, 0);
    return out as T;
  }

  private walk(node: unknown, path: readonly Token[], i: number): unknown {
    if (typeof node !== 'object' || node === null) return node;
    const rec = node as Record<string, unknown>;
    const t = path[i]!;
    const keys = t === WILD ? Object.keys(rec) : Object.hasOwn(rec, t) ? [t] : [];
    const last = i === path.length - 1;
    let copy: Record<string, unknown> | null = null;
    for (const k of keys) {
      const v = rec[k];
      if (last) {
        copy ??= clone(rec);
        if (this.remove) delete copy[k];
        else copy[k] = typeof this.censor === 'function' ? this.censored(v, path, k, i) : this.censor;
      } else {
        const w = this.walk(v, path, i + 1);
        if (w !== v) {
          copy ??= clone(rec);
          copy[k] = w;
        }
      }
    }
    return copy ?? node;
  }

  private censored(v: unknown, path: readonly Token[], k: string, i: number): unknown {
    const concrete = path.slice(0, i).map((t) => (t === WILD ? '*' : t));
    return (this.censor as (value: unknown, path: string[]) => unknown)(v, [...concrete, k]);
  }
}

function clone(o: Record<string, unknown>): Record<string, unknown> {
  return Array.isArray(o) ? ([...o] as unknown as Record<string, unknown>) : { ...o };
}
