import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeMarkup } from './escape.js';

test('the five special characters become entities', () => {
  assert.equal(
    escapeMarkup(`<a href="x" title='y'>&amp;</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
  );
  assert.equal(escapeMarkup('<script>alert(1)</script>'), '&lt;script&gt;alert(1)&lt;/script&gt;');
});

test('plain text, tabs, newlines and non-ASCII pass unchanged', () => {
  assert.equal(escapeMarkup('6.18.44 µs ÷ 😀\t\n'), '6.18.44 µs ÷ 😀\t\n');
});

test('characters XML forbids become U+FFFD', () => {
  assert.equal(escapeMarkup('a\u0000b\u001bc'), 'a\ufffdb\ufffdc');
  assert.equal(escapeMarkup('x\ud800y'), 'x\ufffdy'); // lone high surrogate
  assert.equal(escapeMarkup('x\udc00'), 'x\ufffd'); // lone low surrogate
});
