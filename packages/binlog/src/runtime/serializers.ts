/**
 * pino's standard serializers (pino-std-serializers), rebuilt without the dependency: what a logged
 * `err`, `req` or `res` becomes in the record. `err` is applied by default, as in pino; `req` and `res`
 * when the logger's `serializers` option names them (`serializers: { req: stdSerializers.req }`).
 *
 * - `err(e)`: `{ type, message, stack, ...own enumerable properties }` for anything error-like (an object
 *   with a string `message`); `message` and `stack` include the causes' (`caused by: ...`) as pino's do,
 *   and `cause`, when error-like, is kept serialised under `cause`; AggregateError's `errors` become
 *   `aggregateErrors`. Cycles end with pino's "causes have become circular...".
 * - `req(r)`: `{ id, method, url, query, params, headers, remoteAddress, remotePort }`.
 * - `res(r)`: `{ statusCode, headers }` (statusCode null before the headers were sent).
 *
 * @example
 * stdSerializers.err(new TypeError('bad', { cause: new Error('root') }));
 * // { type: 'TypeError', message: 'bad: root', stack: 'TypeError: bad\n    at ...\ncaused by: Error: root ...', cause: { type: 'Error', ... } }
 */

/** A serializer: the value a key of a logged object is recorded as. */
export type Serializer = (value: unknown) => unknown;

type ErrorLike = Record<string, unknown> & { message: string; stack?: unknown };

function isErrorLike(v: unknown): v is ErrorLike {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

function causeOf(e: ErrorLike): ErrorLike | undefined {
  let c = e.cause;
  if (typeof c === 'function') {
    try {
      c = (c as () => unknown).call(e);
    } catch {
      return undefined;
    }
  }
  return isErrorLike(c) ? c : undefined;
}

function withCauses(e: ErrorLike, part: (x: ErrorLike) => string, sep: string, seen: Set<unknown>): string {
  const own = part(e);
  const c = causeOf(e);
  if (c === undefined) return own;
  if (seen.has(e)) return `${own}${sep}causes have become circular...`;
  seen.add(e);
  const rest = withCauses(c, part, sep, seen);
  return rest === '' ? own : `${own}${sep}${rest}`;
}

function typeName(e: ErrorLike): string {
  const ctor = (e as { constructor?: unknown }).constructor;
  if (typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '') return ctor.name;
  return typeof e.name === 'string' ? e.name : 'Error';
}

/** `seen` (created when null) with `e` in it. */
function within(seen: Set<unknown> | null, e: unknown): Set<unknown> {
  const s = seen ?? new Set();
  s.add(e);
  return s;
}

/**
 * `seen`: the errors being serialised above this one (cycles); null until a nested error needs it, so
 * that the common case (an error without causes or nested errors) allocates only its result.
 */
function serializeErr(value: unknown, seen: Set<unknown> | null): unknown {
  if (!isErrorLike(value)) return value;
  const e = value;
  const cause = causeOf(e);
  const out: Record<string, unknown> =
    cause === undefined
      ? { type: typeName(e), message: e.message, stack: typeof e.stack === 'string' ? e.stack : '' }
      : {
          type: typeName(e),
          message: withCauses(e, (x) => x.message, ': ', new Set()),
          stack: withCauses(
            e,
            (x) => (typeof x.stack === 'string' ? x.stack : ''),
            '\ncaused by: ',
            new Set(),
          ),
        };
  const errors = (e as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    const s = within(seen, e);
    seen = s;
    out.aggregateErrors = errors.map((x) => (s.has(x) ? '[Circular]' : serializeErr(x, s)));
  }
  for (const key in e) {
    if (out[key] !== undefined) continue;
    const v = e[key];
    if (isErrorLike(v)) {
      if (key !== 'cause' && v !== e && !seen?.has(v)) {
        seen = within(seen, e);
        out[key] = serializeErr(v, seen);
      }
    } else out[key] = v;
  }
  if (cause !== undefined && cause !== e && !seen?.has(cause))
    out.cause = serializeErr(cause, within(seen, e));
  return out;
}

function serializeReq(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const r = value as Record<string, unknown> & {
    socket?: Record<string, unknown>;
    info?: Record<string, unknown>;
  };
  const conn = r.info ?? r.socket;
  const id = typeof r.id === 'function' ? (r.id as () => unknown)() : (r.id ?? r.info?.id);
  const path = r.path;
  const url =
    r.originalUrl ??
    (typeof path === 'string' ? path : ((r.url as { path?: unknown } | undefined)?.path ?? r.url));
  const out: Record<string, unknown> = { id, method: r.method, url };
  if (r.query !== undefined) out.query = r.query;
  if (r.params !== undefined) out.params = r.params;
  out.headers = r.headers;
  out.remoteAddress = conn?.remoteAddress;
  out.remotePort = conn?.remotePort;
  return out;
}

function serializeRes(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const r = value as {
    statusCode?: unknown;
    headersSent?: unknown;
    getHeaders?: () => unknown;
    _headers?: unknown;
  };
  return {
    statusCode: r.headersSent ? r.statusCode : null,
    headers: typeof r.getHeaders === 'function' ? r.getHeaders() : r._headers,
  };
}

/**
 * pino's standard serializers (`pino.stdSerializers`).
 *
 * @example
 * createLogger({ dest: 'app.blog', serializers: { req: stdSerializers.req, res: stdSerializers.res } });
 */
export const stdSerializers: {
  readonly err: Serializer;
  readonly errWithCause: Serializer;
  readonly req: Serializer;
  readonly res: Serializer;
} = Object.freeze({
  err: (v: unknown) => serializeErr(v, null),
  errWithCause: (v: unknown) => serializeErr(v, null),
  req: serializeReq,
  res: serializeRes,
});
