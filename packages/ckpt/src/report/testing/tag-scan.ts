/**
 * A small markup scanner for the report's tests, written without regular expressions: it walks the text
 * once, yields every start and end tag with its attributes, and checks that elements nest (each end tag
 * closes the innermost open element; nothing is left open). It reads both our own output (self-closed
 * `<rect />`) and a browser's serialised DOM (HTML void elements without a slash, `<rect></rect>`).
 *
 * It is not an HTML parser: it knows no implied end tags. The report writes none, so any mismatch is a bug.
 *
 * @example
 * const tags = scanTags('<p class="a">x<br></p>'); // [{ name: 'p', ... }, { name: 'br', ... }, { name: 'p', end: true }]
 * checkNesting('<p><b></p></b>'); // throws: "</p> at 6 closes <b>"
 */

/** One start or end tag. */
export interface Tag {
  name: string;
  /** True for `</name>`. */
  end: boolean;
  /** True for `<name ... />` and for HTML void elements, which have no end tag. */
  empty: boolean;
  attrs: Map<string, string>;
  /** Offset of the `<` in the text. */
  at: number;
}

const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'source',
  'wbr',
]);
/** Elements whose content is raw text: skipped to their end tag. */
const RAW = new Set(['style', 'script']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f';
}

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && !isSpace(c) && c !== '>' && c !== '/' && c !== '=' && c !== '<';
}

function parseTag(s: string, at: number): { tag: Tag; next: number } {
  let i = at + 1;
  const end = s[i] === '/';
  if (end) i++;
  let name = '';
  while (isNameChar(s[i])) name += s[i++];
  if (name === '') throw new Error(`a "<" at ${at} starts no tag`);
  const attrs = new Map<string, string>();
  let empty = false;
  for (;;) {
    while (isSpace(s[i])) i++;
    const c = s[i];
    if (c === undefined) throw new Error(`<${name}> at ${at} never ends`);
    if (c === '>') {
      i++;
      break;
    }
    if (c === '/' && s[i + 1] === '>') {
      empty = true;
      i += 2;
      break;
    }
    let key = '';
    while (isNameChar(s[i])) key += s[i++];
    if (key === '') throw new Error(`<${name}> at ${at}: unexpected "${s[i]}" at ${i}`);
    if (attrs.has(key)) throw new Error(`<${name}> at ${at}: attribute ${key} twice`);
    let value = '';
    if (s[i] === '=') {
      const q = s[i + 1];
      if (q !== '"' && q !== "'") throw new Error(`<${name}> at ${at}: unquoted value of ${key}`);
      const close = s.indexOf(q, i + 2);
      if (close < 0) throw new Error(`<${name}> at ${at}: value of ${key} never ends`);
      value = s.slice(i + 2, close);
      if (value.includes('<')) throw new Error(`<${name}> at ${at}: "<" inside the value of ${key}`);
      i = close + 1;
    }
    attrs.set(key, value);
  }
  const lower = name.toLowerCase();
  return { tag: { name, end, empty: empty || (!end && VOID.has(lower)), attrs, at }, next: i };
}

/**
 * Every tag of `text`, in order. Comments and `<!DOCTYPE>` are skipped; so is the raw text inside
 * `<style>` and `<script>` (checked to hold no `<`, which would end it early in a browser).
 *
 * @example
 * scanTags('<svg><rect width="2" /></svg>').map((t) => t.name); // ['svg', 'rect', 'svg']
 */
export function scanTags(text: string): Tag[] {
  const tags: Tag[] = [];
  let i = 0;
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw new Error(`comment at ${lt} never ends`);
      i = end + 3;
      continue;
    }
    if (text.startsWith('<!', lt)) {
      i = text.indexOf('>', lt) + 1;
      if (i === 0) throw new Error(`<! at ${lt} never ends`);
      continue;
    }
    const { tag, next } = parseTag(text, lt);
    tags.push(tag);
    i = next;
    if (!tag.end && !tag.empty && RAW.has(tag.name.toLowerCase())) {
      const close = text.indexOf(`</${tag.name}`, i);
      if (close < 0) throw new Error(`<${tag.name}> at ${lt} never ends`);
      i = close;
    }
  }
  return tags;
}

/**
 * Check that the elements of `text` nest properly; throws an Error naming the first fault.
 *
 * @example
 * checkNesting(renderReport(run));
 */
export function checkNesting(text: string): void {
  const open: Tag[] = [];
  for (const t of scanTags(text)) {
    if (t.empty) continue;
    if (!t.end) {
      open.push(t);
      continue;
    }
    const top = open.pop();
    if (top === undefined) throw new Error(`</${t.name}> at ${t.at} closes nothing`);
    if (top.name !== t.name) throw new Error(`</${t.name}> at ${t.at} closes <${top.name}> (from ${top.at})`);
  }
  const left = open.pop();
  if (left) throw new Error(`<${left.name}> at ${left.at} is never closed`);
}

/**
 * An element of a scanned text with its child elements (text is left out).
 *
 * @example
 * elements('<svg><rect /></svg>')[0]!.children[0]!.name; // 'rect'
 */
export interface Element {
  name: string;
  attrs: Map<string, string>;
  children: Element[];
}

/**
 * Build the tree of elements (after `checkNesting` passed).
 *
 * @example
 * findAll(elements(html), 'svg').length;
 */
export function elements(text: string): Element[] {
  const root: Element = { name: '#root', attrs: new Map(), children: [] };
  const stack: Element[] = [root];
  for (const t of scanTags(text)) {
    if (t.end) {
      stack.pop();
      continue;
    }
    const e: Element = { name: t.name, attrs: t.attrs, children: [] };
    stack[stack.length - 1]!.children.push(e);
    if (!t.empty) stack.push(e);
  }
  return root.children;
}

/**
 * Every element named `name` in the trees, depth first.
 *
 * @example
 * findAll(elements('<g><rect /></g>'), 'rect').length; // 1
 */
export function findAll(trees: readonly Element[], name: string): Element[] {
  const out: Element[] = [];
  const walk = (e: Element) => {
    if (e.name === name) out.push(e);
    e.children.forEach(walk);
  };
  trees.forEach(walk);
  return out;
}
