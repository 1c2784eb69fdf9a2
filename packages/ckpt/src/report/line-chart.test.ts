import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineChart } from './line-chart.js';
import { checkNesting, elements, findAll } from './testing/tag-scan.js';
import { formatMs } from './units.js';

function draw(n: number) {
  const cats = Array.from({ length: n }, (_, i) => [`#${i + 1}`]);
  const svg = lineChart({
    id: 'l',
    title: 'L',
    desc: 'D.',
    axisName: 'time',
    categories: cats,
    series: [
      { name: 'time', color: '#111', values: cats.map((_, i) => 400 / (i + 1)) },
      { name: 'stopped', color: '#222', values: cats.map((_, i) => (i === 0 ? 3 : 0)), labels: 'below' },
    ],
    format: formatMs,
  }).toString();
  checkNesting(svg);
  return elements(svg)[0]!;
}

test('a path per series through a dot per point, values printed', () => {
  const svg = draw(5);
  const paths = findAll([svg], 'path');
  assert.equal(paths.length, 2);
  assert.equal(paths[0]!.attrs.get('d')!.split('L').length, 5);
  assert.equal(findAll([svg], 'circle').length, 10);
  assert.equal(findAll([svg], 'text').filter((t) => t.attrs.get('class') === 'value').length, 10);
});

test('past twelve points the values are left to the table', () => {
  const svg = draw(13);
  assert.equal(findAll([svg], 'circle').length, 26);
  assert.equal(findAll([svg], 'text').filter((t) => t.attrs.get('class') === 'value').length, 0);
});
