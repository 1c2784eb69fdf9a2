import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartFrame, chartWidth, NARROW_WIDTH, WIDE_WIDTH } from './chart-frame.js';
import { chooseScale } from './scale.js';
import { checkNesting, elements, findAll } from './testing/tag-scan.js';

const spec = (categories: string[][]) => ({
  id: 't',
  title: 'T',
  desc: 'D.',
  scale: chooseScale([1, 2, 3]),
  format: String,
  axisName: 'things',
  categories,
  legend: [{ name: 'a', color: '#000' }],
});

test('chart width grows with the categories, within bounds', () => {
  assert.equal(chartWidth(4, 2), NARROW_WIDTH);
  assert.equal(chartWidth(14, 2), WIDE_WIDTH);
  assert.equal(chartWidth(100, 1), WIDE_WIDTH);
  const w = chartWidth(8, 2);
  assert.ok(w > NARROW_WIDTH && w < WIDE_WIDTH, String(w));
});

test('bands split the plot; values map bottom to top', () => {
  const f = chartFrame(spec([['a'], ['b']]));
  assert.equal(f.bandX(1) - f.bandX(0), f.bandWidth);
  assert.equal(f.y(0), f.top + f.height);
  assert.ok(f.y(3) < f.y(1));
  const svg = f.svg(null).toString();
  checkNesting(svg);
  assert.ok(svg.includes('<title id="t-title">T</title><desc id="t-desc">D.</desc>'));
});

test('crowded category labels are thinned, keeping the last', () => {
  const many = Array.from({ length: 40 }, (_, i) => [`#${i + 1}`]);
  const svg = chartFrame({ ...spec(many), width: 540 })
    .svg(null)
    .toString();
  const cats = findAll(elements(svg), 'text').filter((t) => t.attrs.get('class') === 'cat');
  assert.ok(cats.length < 40 && cats.length >= 5, `${cats.length} labels`);
  assert.ok(svg.includes('>#40</tspan>'));
  const few = chartFrame(spec([['a'], ['b'], ['c']]))
    .svg(null)
    .toString();
  assert.equal(findAll(elements(few), 'text').filter((t) => t.attrs.get('class') === 'cat').length, 3);
});
