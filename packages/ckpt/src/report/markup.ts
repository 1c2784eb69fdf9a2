/**
 * A tiny element builder for the page's HTML and SVG. Text children and attribute values are escaped
 * by default; only `Markup` values (what `el` and `trusted` return) are inserted as they are, so a
 * string from a run file cannot become markup by accident.
 *
 * Empty void HTML elements and empty SVG elements are written self-closed (`<rect ... />`), which both
 * the HTML parser and an XML parser accept; every other element gets its end tag.
 *
 * @example
 * el('td', { class: 'num' }, run.title).toString(); // '<td class="num">&lt;script&gt;...</td>'
 */
import { escapeMarkup } from './escape.js';

/**
 * A piece of markup that is already safe to insert.
 *
 * @example
 * `${el('b', {}, 'x')}`; // '<b>x</b>'
 */
export class Markup {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

/** What an element may hold: markup, text (escaped), numbers, nothing, or lists of these. */
export type Child = Markup | string | number | null | undefined | false | readonly Child[];

/** Attribute values; `undefined` and `false` leave the attribute out, `true` writes it bare. */
export type Attrs = Record<string, string | number | boolean | undefined>;

const SELF_CLOSING = new Set([
  'meta',
  'link',
  'br',
  'hr',
  'img',
  'col',
  'wbr',
  'rect',
  'line',
  'path',
  'circle',
  'polyline',
  'polygon',
]);

/**
 * A number as SVG/HTML attribute text: at most two decimals, no exponent.
 *
 * @example
 * coord(10.123456); // '10.12'
 */
export function coord(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function childText(c: Child): string {
  if (c === null || c === undefined || c === false) return '';
  if (c instanceof Markup) return c.text;
  if (typeof c === 'number') return escapeMarkup(String(c));
  if (typeof c === 'string') return escapeMarkup(c);
  return c.map(childText).join('');
}

/**
 * Build an element. Names and attribute names are ours (constants in the code), never the input's.
 *
 * @example
 * el('rect', { x: 1, y: 2, width: 3, height: 4 }); // <rect x="1" y="2" width="3" height="4" />
 */
export function el(name: string, attrs: Attrs, ...children: Child[]): Markup {
  let open = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (v === true) open += ` ${k}`;
    else open += ` ${k}="${typeof v === 'number' ? coord(v) : escapeMarkup(v)}"`;
  }
  const inner = childText(children);
  if (inner === '' && SELF_CLOSING.has(name)) return new Markup(`${open} />`);
  return new Markup(`${open}>${inner}</${name}>`);
}

/**
 * Markup written by this program (the doctype, the style sheet), inserted without escaping.
 * Never pass it text from a run file.
 *
 * @example
 * trusted('<!DOCTYPE html>');
 */
export function trusted(text: string): Markup {
  return new Markup(text);
}

/**
 * Join children into one piece of markup (text escaped).
 *
 * @example
 * fragment(el('p', {}, 'a'), 'b & c'); // '<p>a</p>b &amp; c'
 */
export function fragment(...children: Child[]): Markup {
  return new Markup(childText(children));
}
