/**
 * Rebuilding the text of a record: the format's literal parts with each argument rendered for its
 * specifier.
 *
 * Rendering rules (the writer kept the exact value; this is how it prints):
 * - numbers print as JavaScript does (`1.5`, `NaN`, `-Infinity`, `9007199254740993` stays exact only as
 *   a bigint), with `-0` printed as `-0`; `%x` prints integers in hexadecimal (`-ff`);
 * - bigints print their digits (no `n`), `%x` in hexadecimal;
 * - strings print as they are (`%j`/`%o` quote them as JSON);
 * - objects print as their JSON text under every specifier (cycles were recorded as "[Circular]");
 * - null, undefined and booleans print as `null`, `undefined`, `true`, `false`;
 * - a missing argument leaves its specifier (`%d`) in the text; extra arguments follow, space-separated.
 *
 * @example
 * const f = compileFormat('user %s paid %d');
 * formatMessage(f, ['bob', 1200, 'extra']); // 'user bob paid 1200 extra'
 * formatMessage(f, ['bob']); // 'user bob paid %d'
 */
import { type ArgValue, JsonArg } from '../codec/index.js';
import { type ArgKind, parseFormat } from '../format/index.js';

export interface CompiledFormat {
  readonly text: string;
  readonly parts: readonly string[];
  readonly specs: readonly ArgKind[];
  /** The text for exactly specs.length arguments, generated for this format (see compileFormat). */
  readonly render?: (args: readonly ArgValue[]) => string;
  /**
   * The same text as the inside of a JSON string literal (what `JSON.stringify(text).slice(1, -1)` gives),
   * generated: literal parts escaped once, numbers inline, only string arguments checked for escaping.
   */
  readonly renderJson?: (args: readonly ArgValue[]) => string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: what JSON must escape
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `s` as the inside of a JSON string literal. */
export function jsonInner(s: string): string {
  return NEEDS_JSON_ESCAPE.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

/**
 * Parse a format for rendering (throws FormatError on a malformed one). Its `render` is generated once
 * per format: the literal parts are constants, and the common kinds (a string for `%s`, an integer for
 * `%d`) are printed inline. Not generated when `generate` is false (a message seen once: a non-interned
 * record's text) or where code generation from strings is disallowed; formatMessage() then loops.
 */
export function compileFormat(text: string, generate = true): CompiledFormat {
  const p = parseFormat(text);
  if (!generate || !codegen) return { text, parts: p.parts, specs: p.specs };
  const terms = [JSON.stringify(p.parts[0])];
  p.specs.forEach((k, i) => {
    const v = `a[${i}]`;
    const spec = JSON.stringify(k);
    if (k === 's') terms.push(`(typeof ${v} === 'string' ? ${v} : R(${v}, ${spec}))`);
    else if (k === 'x' || k === 'o' || k === 'j') terms.push(`R(${v}, ${spec})`);
    else terms.push(`(typeof ${v} === 'number' && ${v} !== 0 ? '' + ${v} : R(${v}, ${spec}))`);
    if (p.parts[i + 1] !== '') terms.push(JSON.stringify(p.parts[i + 1]));
  });
  const render = new Function(
    'R',
    `'use strict';\nreturn function render(a) { return ${terms.join(' + ')}; };`,
  )(renderArg) as (args: readonly ArgValue[]) => string;
  const inner = (part: string): string => JSON.stringify(jsonInner(part));
  const jterms = [inner(p.parts[0]!)];
  p.specs.forEach((k, i) => {
    const v = `a[${i}]`;
    const spec = JSON.stringify(k);
    if (k === 's') jterms.push(`(typeof ${v} === 'string' ? J(${v}) : J(R(${v}, ${spec})))`);
    else if (k === 'x' || k === 'o' || k === 'j') jterms.push(`J(R(${v}, ${spec}))`);
    // a number's text never needs escaping ('-0', 'NaN' and 'Infinity' included)
    else jterms.push(`(typeof ${v} === 'number' && ${v} !== 0 ? '' + ${v} : J(R(${v}, ${spec})))`);
    if (p.parts[i + 1] !== '') jterms.push(inner(p.parts[i + 1]!));
  });
  const renderJson = new Function(
    'R',
    'J',
    `'use strict';\nreturn function renderJson(a) { return ${jterms.join(' + ')}; };`,
  )(renderArg, jsonInner) as (args: readonly ArgValue[]) => string;
  return { text, parts: p.parts, specs: p.specs, render, renderJson };
}

/** False under `--disallow-code-generation-from-strings`. */
const codegen = ((): boolean => {
  try {
    return new Function('return true')() === true;
  } catch {
    return false;
  }
})();

function num(v: number, k: ArgKind): string {
  if (v === 0 && 1 / v < 0) return '-0';
  if (k === 'x' && Number.isInteger(v)) return v.toString(16);
  return String(v);
}

/** One argument as its specifier prints it. */
export function renderArg(v: ArgValue, k: ArgKind): string {
  switch (typeof v) {
    case 'string':
      return k === 'j' || k === 'o' ? JSON.stringify(v) : v;
    case 'number':
      return num(v, k);
    case 'bigint':
      return k === 'x' ? v.toString(16) : v.toString();
    case 'object':
      return v instanceof JsonArg ? v.json : 'null';
    default:
      return String(v);
  }
}

/** The message text of a record. */
export function formatMessage(f: CompiledFormat, args: readonly ArgValue[]): string {
  const { parts, specs } = f;
  if (args.length === specs.length && f.render !== undefined) return f.render(args);
  let s = parts[0]!;
  for (let i = 0; i < specs.length; i++) {
    s += i < args.length ? renderArg(args[i]!, specs[i]!) : `%${specs[i]}`;
    s += parts[i + 1]!;
  }
  for (let i = specs.length; i < args.length; i++) s += ` ${renderArg(args[i]!, 's')}`;
  return s;
}
