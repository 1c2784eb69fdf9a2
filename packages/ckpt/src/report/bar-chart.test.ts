import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BarChartSpec, barChart } from './bar-chart.js';
import { checkNesting, type Element, elements, findAll } from './testing/tag-scan.js';
import { formatCount, formatMs } from './units.js';

function draw(spec: Partial<BarChartSpec> & Pick<BarChartSpec, 'categories' | 'series'>): Element {
  const svg = barChart({
    id: 'b',
    title: 'B',
    desc: 'D.',
    axisName: 'x',
    format: formatCount,
    ...spec,
  }).toString();
  checkNesting(svg);
  return elements(svg)[0]!;
}

const bars = (svg: Element) => findAll([svg], 'rect').filter((r) => r.children.length > 0);
const values = (svg: Element) =>
  findAll([svg], 'text').filter((t) => t.attrs.get('class')?.startsWith('value'));

test('one bar per value, taller for bigger values, each labelled and titled', () => {
  const svg = draw({
    categories: [['a'], ['b']],
    series: [
      { name: 'read', color: '#111', values: [1, 2] },
      { name: 'splice', color: '#222', values: [3, undefined] },
    ],
  });
  const rs = bars(svg);
  assert.equal(rs.length, 3, 'a missing value draws no bar');
  const h = rs.map((r) => Number(r.attrs.get('height')));
  // Drawn group by group: a/read = 1, a/splice = 3, b/read = 2.
  assert.ok(h[0]! < h[2]! && h[2]! < h[1]!, h.join(' '));
  assert.equal(values(svg).length, 3);
  assert.equal(rs[1]!.attrs.get('fill'), '#222');
});

test('a zero value draws an empty bar but still says 0', () => {
  const svg = draw({ categories: [['a']], series: [{ name: 's', color: '#111', values: [0] }] });
  assert.equal(bars(svg)[0]!.attrs.get('height'), '0');
  assert.equal(values(svg).length, 1);
});

test('wide labels stand upright; very narrow bars get none', () => {
  const cats = Array.from({ length: 8 }, (_, i) => [`${i}`]);
  const upright = draw({
    categories: cats,
    series: [
      { name: 'a', color: '#111', values: cats.map(() => 123.456) },
      { name: 'b', color: '#222', values: cats.map(() => 0.4) },
    ],
    format: formatMs,
  });
  assert.ok(values(upright).every((t) => t.attrs.get('transform')?.startsWith('rotate(-90')));
  const many = Array.from({ length: 60 }, (_, i) => [`${i}`]);
  const narrow = draw({
    categories: many,
    series: [
      { name: 'a', color: '#111', values: many.map(() => 5) },
      { name: 'b', color: '#222', values: many.map(() => 6) },
    ],
  });
  assert.equal(bars(narrow).length, 120);
  assert.equal(values(narrow).length, 0);
});
