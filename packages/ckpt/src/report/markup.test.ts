import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coord, el, fragment, trusted } from './markup.js';

test('text children and attribute values are escaped', () => {
  const m = el('td', { title: '"><script>' }, '<b>', 3);
  assert.equal(m.toString(), '<td title="&quot;&gt;&lt;script&gt;">&lt;b&gt;3</td>');
});

test('markup children are inserted as they are; lists flatten; nothing and false vanish', () => {
  const m = el('tr', {}, [el('td', {}, 'a'), [el('td', {}, 'b')]], null, undefined, false);
  assert.equal(m.toString(), '<tr><td>a</td><td>b</td></tr>');
  assert.equal(fragment('x & y', trusted('<hr />')).toString(), 'x &amp; y<hr />');
});

test('empty SVG shapes and void elements self-close; others get an end tag', () => {
  assert.equal(el('rect', { x: 1.006, width: 2 }).toString(), '<rect x="1.01" width="2" />');
  assert.equal(el('meta', { charset: 'utf-8' }).toString(), '<meta charset="utf-8" />');
  assert.equal(el('td', {}).toString(), '<td></td>');
  assert.equal(el('rect', {}, el('title', {}, 't')).toString(), '<rect><title>t</title></rect>');
});

test('boolean attributes and coordinates', () => {
  assert.equal(
    el('details', { open: true, hidden: false, id: undefined }).toString(),
    '<details open></details>',
  );
  assert.equal(coord(10.123456), '10.12');
  assert.equal(coord(-0.004), '0');
});
