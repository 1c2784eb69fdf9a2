import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readMaps } from '../../proc/index.js';
import { freeze } from '../../ptrace/index.js';
import { KernelUnsupportedError, PAGE_SIZE } from '../../sys/index.js';
import { Fixture, Scratch, skipUnlessAvailable, Writer } from '../../testing/index.js';
import {
  chooseTracker,
  NoneTracker,
  normalizeRanges,
  SoftDirtyTracker,
  softDirtyUnsupportedReason,
  subtractRanges,
  trackableRanges,
  uffdWpUnsupportedReason,
} from './index.js';

test('range lists: normalize, subtract', () => {
  assert.deepEqual(
    normalizeRanges([
      { start: 20, end: 30 },
      { start: 0, end: 10 },
      { start: 10, end: 15 },
    ]),
    [
      { start: 0, end: 15 },
      { start: 20, end: 30 },
    ],
  );
  assert.deepEqual(
    subtractRanges(
      [{ start: 0, end: 100 }],
      [
        { start: 10, end: 20 },
        { start: 90, end: 200 },
      ],
    ),
    [
      { start: 0, end: 10 },
      { start: 20, end: 90 },
    ],
  );
});

test('auto picks uffd-wp here, or says why not', () => {
  const { tracker, reason } = chooseTracker('auto', process.pid);
  const why = uffdWpUnsupportedReason();
  assert.equal(tracker.kind, why ? (softDirtyUnsupportedReason() ? 'none' : 'soft-dirty') : 'uffd-wp');
  assert.ok(reason.length > 0);
  tracker.close();
  assert.equal(chooseTracker('none', process.pid).tracker.kind, 'none');
});

test('none reports every present page, every time', async () => {
  await using f = await Fixture.start('static', ['4']);
  using t = new NoneTracker(f.pid);
  t.start(trackableRanges(readMaps(f.pid)));
  const base = f.num('base');
  const len = f.num('len');
  for (let round = 0; round < 2; round++) {
    let pages = 0;
    t.collect((s, e, present) => {
      assert.ok(present);
      pages += Math.max(0, Math.min(e, base + len) - Math.max(s, base)) / PAGE_SIZE;
    });
    assert.equal(pages, len / PAGE_SIZE);
  }
});

const noSoftDirty = skipUnlessAvailable('soft-dirty', softDirtyUnsupportedReason());

test('soft-dirty is refused with a reason where the kernel lacks it', {
  skip: noSoftDirty ? false : 'kernel has soft-dirty',
}, () => {
  assert.throws(() => new SoftDirtyTracker(process.pid), KernelUnsupportedError);
  assert.throws(() => chooseTracker('soft-dirty', process.pid), KernelUnsupportedError);
});

test('soft-dirty reports written pages', {
  skip: noSoftDirty ?? false, // states why: "the kernel has no soft-dirty bits (...)"
}, async () => {
  const scratch = new Scratch('ckpt-soft-dirty-test-');
  const w = await Writer.start(scratch, 4, 1, 0, true);
  const base = Number(w.f.info.base);
  const pages = [3, 100, 777].map((k) => base + k * PAGE_SIZE);
  using t = new SoftDirtyTracker(w.pid);
  const fz0 = freeze(w.pid); // soft-dirty needs the target frozen around start() and collect()
  try {
    t.start(trackableRanges(readMaps(w.pid)));
  } finally {
    fz0.thaw();
  }
  for (const p of pages) await w.cmd(`x ${p}`);
  const reported: [number, number][] = [];
  const fz1 = freeze(w.pid);
  try {
    t.collect((s, e) => reported.push([s, e]));
  } finally {
    fz1.thaw();
  }
  const inRegion = reported.filter(([s, e]) => e > base && s < base + 4 * 1024 * 1024);
  for (const p of pages)
    assert.ok(
      inRegion.some(([s, e]) => s <= p && p < e),
      `page ${p.toString(16)} reported`,
    );
  const n = inRegion.reduce(
    (a, [s, e]) => a + (Math.min(e, base + (4 << 20)) - Math.max(s, base)) / PAGE_SIZE,
    0,
  );
  assert.ok(n < 1024 / 2, `only what was written (about ${pages.length} pages), not the whole region: ${n}`);
});
