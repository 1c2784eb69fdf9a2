/**
 * Escaping of text for HTML and SVG (XML). Every string that comes from a run file goes through here
 * before it reaches the page, both in element content and in attribute values.
 *
 * @example
 * escapeMarkup('<script>alert("x")</script>'); // '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escape `& < > " '` so the text is inert in element content and in quoted attribute values. Characters
 * that XML forbids (C0 controls other than tab, newline and carriage return, lone surrogates) become
 * U+FFFD, so the SVG stays well-formed whatever the input holds.
 *
 * @example
 * `<td>${escapeMarkup(run.host.kernel)}</td>`
 */
export function escapeMarkup(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
