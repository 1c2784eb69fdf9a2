/**
 * Build-time check of a log call's arguments against its format.
 *
 * Accepted argument types per specifier (every member of a union must be accepted; one member of an
 * intersection suffices, so branded types such as `number & { __ms: true }` pass; a type parameter is
 * judged by its constraint):
 * ```
 * %d %i %u %x   number | bigint (and number/bigint literals and enums)
 * %f            number
 * %s            string (and string literals, template literal types, string enums); numbers and
 *               booleans are rejected: write %d, or String(x)
 * %j %o         anything except a function or a symbol
 * ```
 * `null`, `undefined` and `unknown` are rejected by every specifier but %j and %o. An argument typed
 * `any` (plain JavaScript without JSDoc, or an explicit any) is not checked. The argument count must
 * equal the number of specifiers; after a spread argument (`...xs`) the count is not checked.
 *
 * @example
 * checkArguments(site, parseFormat(site.text).specs, checker);
 * // => [{ file, line, col, message: "argument 1 for '%d' must be number | bigint, got string" }]
 */
import ts from 'typescript';
import type { ArgKind } from '../format/index.js';
import type { LogCall } from './call-site.js';
import { type BuildDiagnostic, diagnosticAt } from './diagnostic.js';

type Verdict = 'ok' | 'bad' | 'unknown';

const WANTED: Record<ArgKind, string> = {
  d: 'number | bigint',
  i: 'number | bigint',
  u: 'number | bigint',
  x: 'number | bigint',
  f: 'number',
  s: 'string',
  j: 'anything but a function or symbol',
  o: 'anything but a function or symbol',
};

/** Check count and types; `checker` undefined checks the count only. */
export function checkArguments(
  site: LogCall,
  specs: readonly ArgKind[],
  checker: ts.TypeChecker | undefined,
): BuildDiagnostic[] {
  const out: BuildDiagnostic[] = [];
  const args = site.call.arguments.slice(1);
  const spread = args.findIndex((a) => ts.isSpreadElement(a));
  const fixed = spread < 0 ? args : args.slice(0, spread);
  const n = specs.length;
  if (spread < 0 ? args.length !== n : fixed.length > n) {
    const at = args.length > n ? (args[n] ?? site.format) : site.format;
    out.push(
      diagnosticAt(
        at,
        `format ${JSON.stringify(site.text)} has ${n} specifier${n === 1 ? '' : 's'} ` +
          `but ${site.method}() is given ${args.length} argument${args.length === 1 ? '' : 's'} after it`,
      ),
    );
  }
  if (!checker) return out;
  for (let i = 0; i < fixed.length && i < n; i++) {
    const arg = fixed[i] as ts.Expression;
    const kind = specs[i] as ArgKind;
    const type = checker.getTypeAtLocation(arg);
    if (verdict(checker, type, kind) === 'bad') {
      out.push(
        diagnosticAt(
          arg,
          `argument ${i + 1} for '%${kind}' in ${JSON.stringify(site.text)} must be ${WANTED[kind]}, ` +
            `got ${checker.typeToString(checker.getBaseTypeOfLiteralType(type))}`,
        ),
      );
    }
  }
  return out;
}

function verdict(checker: ts.TypeChecker, type: ts.Type, kind: ArgKind, depth = 0): Verdict {
  const f = type.flags;
  if (f & (ts.TypeFlags.Any | ts.TypeFlags.Never) || depth > 8) return 'unknown';
  if (f & ts.TypeFlags.TypeParameter || f & ts.TypeFlags.Index || f & ts.TypeFlags.IndexedAccess) {
    const c = checker.getBaseConstraintOfType(type);
    if (!c || c === type) return kind === 'j' || kind === 'o' ? 'ok' : 'bad';
    return verdict(checker, c, kind, depth + 1);
  }
  if (type.isUnion()) {
    let unknown = false;
    for (const t of type.types) {
      const v = verdict(checker, t, kind, depth + 1);
      if (v === 'bad') return 'bad';
      if (v === 'unknown') unknown = true;
    }
    return unknown ? 'unknown' : 'ok';
  }
  if (type.isIntersection()) {
    const vs = type.types.map((t) => verdict(checker, t, kind, depth + 1));
    if (vs.includes('ok')) return 'ok';
    return vs.includes('unknown') ? 'unknown' : 'bad';
  }
  switch (kind) {
    case 'd':
    case 'i':
    case 'u':
    case 'x':
      return f & (ts.TypeFlags.NumberLike | ts.TypeFlags.BigIntLike) ? 'ok' : 'bad';
    case 'f':
      return f & ts.TypeFlags.NumberLike ? 'ok' : 'bad';
    case 's':
      return f & ts.TypeFlags.StringLike ? 'ok' : 'bad';
    case 'j':
    case 'o':
      if (f & ts.TypeFlags.ESSymbolLike) return 'bad';
      if (f & ts.TypeFlags.Object && type.getCallSignatures().length > 0) return 'bad';
      return 'ok';
  }
}
