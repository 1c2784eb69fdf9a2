import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNesting, elements, findAll, scanTags } from './tag-scan.js';

test('tags with attributes, self-closed and void elements', () => {
  const tags = scanTags('<!DOCTYPE html><p class="a" hidden>x<br><rect width=\'2\' /></p><!-- <b> -->');
  assert.deepEqual(
    tags.map((t) => [t.name, t.end, t.empty]),
    [
      ['p', false, false],
      ['br', false, true],
      ['rect', false, true],
      ['p', true, false],
    ],
  );
  assert.equal(tags[0]!.attrs.get('class'), 'a');
  assert.equal(tags[0]!.attrs.get('hidden'), '');
  assert.equal(tags[2]!.attrs.get('width'), '2');
});

test('style content is skipped', () => {
  assert.deepEqual(
    scanTags('<style>a > b {}</style><i></i>').map((t) => t.name),
    ['style', 'style', 'i', 'i'],
  );
});

test('nesting faults are found', () => {
  checkNesting('<svg><g><rect /></g></svg>');
  checkNesting('<svg><g><rect></rect></g></svg>');
  assert.throws(() => checkNesting('<p><b></p></b>'), /<\/p> at 6 closes <b>/);
  assert.throws(() => checkNesting('<p>'), /never closed/);
  assert.throws(() => checkNesting('</p>'), /closes nothing/);
  assert.throws(() => checkNesting('<p a="1" a="2"></p>'), /twice/);
  assert.throws(() => checkNesting('<p a=1></p>'), /unquoted/);
  assert.throws(() => checkNesting('<p a="<"></p>'), /inside the value/);
  assert.throws(() => checkNesting('a < b'), /starts no tag/);
});

test('elements form a tree', () => {
  const tree = elements('<svg><title>t</title><g><rect width="1" /><rect width="2"></rect></g></svg>');
  assert.equal(tree.length, 1);
  assert.deepEqual(
    tree[0]!.children.map((c) => c.name),
    ['title', 'g'],
  );
  assert.equal(findAll(tree, 'rect').length, 2);
  assert.equal(findAll(tree, 'rect')[1]!.attrs.get('width'), '2');
});
