import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fixture, requireOrSkip } from '../testing/index.js';
import { PAGE_IS, PAGE_SIZE, PagemapScanner } from './index.js';

test('PAGEMAP_SCAN finds every present page of a fixture region', async (t) => {
  if (
    requireOrSkip(
      t,
      'pagemap-scan',
      !PagemapScanner.supported() && 'PAGEMAP_SCAN not supported by this kernel',
    )
  )
    return;
  await using f = await Fixture.start('static', ['8']);
  const base = f.num('base');
  const len = f.num('len');
  using s = PagemapScanner.open(f.pid, 2); // tiny vector: exercises the continuation rule
  const regions: [number, number][] = [];
  const pages = s.scan(
    base,
    base + len,
    { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT },
    (a, b) => regions.push([a, b]),
  );
  assert.equal(pages, len / PAGE_SIZE);
  assert.equal(regions[0]![0], base);
  assert.equal(regions.at(-1)![1], base + len);
});
