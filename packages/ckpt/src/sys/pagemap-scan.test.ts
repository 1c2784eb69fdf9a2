import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { Fixture, requireOrSkip } from '../testing/index.js';
import { PAGE_IS, PAGE_SIZE, PagemapScanner, ScanHelper } from './index.js';

/** Skips `t` (true) on a kernel without PAGEMAP_SCAN. */
function skipWithoutScan(t: TestContext): boolean {
  return requireOrSkip(
    t,
    'pagemap-scan',
    !PagemapScanner.supported() && 'PAGEMAP_SCAN not supported by this kernel',
  );
}

test('PAGEMAP_SCAN finds every present page of a fixture region', async (t) => {
  if (skipWithoutScan(t)) return;
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

test('a walk shared with the scan helper thread finds what one thread finds', async (t) => {
  if (skipWithoutScan(t)) return;
  await using f = await Fixture.start('static', ['16']);
  const base = f.num('base');
  const len = f.num('len');
  // around the mapping (and whatever else is mapped near it): the split, a 2 MiB boundary near the
  // middle, falls inside it
  const from = base - (8 << 20);
  const to = base + len + (8 << 20);
  const o = { anyofMask: PAGE_IS.PRESENT | PAGE_IS.SWAPPED, returnMask: PAGE_IS.PRESENT };
  const walk = () => {
    using s = PagemapScanner.open(f.pid);
    const regions: [number, number][] = [];
    const pages = s.scan(from, to, o, (a, b) => {
      const last = regions.at(-1);
      if (last && last[1] === a)
        last[1] = b; // touching regions at the split merge
      else regions.push([a, b]);
    });
    return { pages, regions };
  };
  const one = walk();
  assert.ok(one.regions.some(([a, b]) => a === base && b === base + len));
  for (const room of [65536, 1]) {
    // room 1: the helper stops after its first region, the caller walks the rest
    using h = await ScanHelper.start({ minBytes: 1 << 20, room });
    PagemapScanner.shareWalks(h);
    try {
      const two = walk();
      assert.deepEqual(two, one, `room ${room}`);
    } finally {
      PagemapScanner.shareWalks(undefined);
    }
  }
});

test('the scan helper reports a walk that fails as the caller would', async (t) => {
  if (skipWithoutScan(t)) return;
  using h = await ScanHelper.start({ minBytes: 1 << 20 });
  // a bad fd: EBADF from the helper's ioctl, as from the caller's
  assert.ok(h.post(-1, 1, 0, 64 << 20, { returnMask: PAGE_IS.PRESENT }));
  assert.throws(
    () => h.wait(),
    (e: unknown) => e instanceof Error && /EBADF/.test(e.message),
  );
  // and it is idle again: a second walk is taken
  assert.ok(h.post(-1, 1, 0, 64 << 20, { returnMask: PAGE_IS.PRESENT }));
  assert.throws(() => h.wait());
  h.close();
  h.close();
  assert.equal(h.post(-1, 1, 0, 64 << 20, {}), false);
});
