/**
 * printf-style format strings, as binlog understands them.
 *
 * Grammar (a format is literal text with specifiers):
 * ```
 * format    := ( literal | "%%" | specifier )*
 * specifier := "%" ( "d" | "i" | "u" | "f" | "s" | "x" | "o" | "j" )
 * ```
 * - `%d` `%i`: integer (a number is written as is; a non-integral number keeps its value), `%u`: unsigned,
 *   `%x`: hexadecimal, `%f`: floating point, `%s`: string, `%o` and `%j`: any value as JSON.
 * - `%%` is a literal percent sign. Any other `%` sequence, or a lone `%` at the end, is a FormatError.
 *
 * @example
 * parseFormat('user %s paid %d cents (100%%)')
 * // => { text, parts: ['user ', ' paid ', ' cents (100%)'], specs: ['s', 'd'] }
 */
import { FormatError } from './errors.js';

/** The specifier letters. */
export type ArgKind = 'd' | 'i' | 'u' | 'f' | 's' | 'x' | 'o' | 'j';

const KINDS = new Set<string>(['d', 'i', 'u', 'f', 's', 'x', 'o', 'j']);

export interface ParsedFormat {
  /** The format string as given. */
  readonly text: string;
  /** Literal pieces around the specifiers, `%%` already turned into `%`; `parts.length === specs.length + 1`. */
  readonly parts: readonly string[];
  /** One letter per specifier, in order. */
  readonly specs: readonly ArgKind[];
}

/** True when `c` is one of binlog's specifier letters. */
export function isArgKind(c: string): c is ArgKind {
  return KINDS.has(c);
}

/** Parse a format string; throws FormatError on an unknown or truncated specifier. */
export function parseFormat(text: string): ParsedFormat {
  const parts: string[] = [];
  const specs: ArgKind[] = [];
  let cur = '';
  let i = 0;
  for (;;) {
    const p = text.indexOf('%', i);
    if (p < 0) {
      cur += text.slice(i);
      break;
    }
    cur += text.slice(i, p);
    const c = text[p + 1];
    if (c === undefined)
      throw new FormatError(`lone '%' at the end of format ${JSON.stringify(text)}`, text, p);
    if (c === '%') cur += '%';
    else if (isArgKind(c)) {
      parts.push(cur);
      cur = '';
      specs.push(c);
    } else {
      throw new FormatError(
        `unknown specifier '%${c}' at offset ${p} in format ${JSON.stringify(text)}`,
        text,
        p,
      );
    }
    i = p + 2;
  }
  parts.push(cur);
  return { text, parts, specs };
}
