import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { HeapHold } from './heap-hold.js';

/** Committed bytes of V8's young generation (both semi-spaces). */
function youngSize(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
}

/** Allocate with survivors: a ring of live objects, the rest garbage (what grows the young generation). */
function churn(): number {
  const ring: { a: number; b: number[] }[] = [];
  let n = 0;
  for (let i = 0; i < 4_000_000; i++) {
    ring[i % 100_000] = { a: i * 1.5, b: [i] };
    n += ring.length;
  }
  return n;
}

test('held, the young generation does not grow; released, it grows again; collect() runs a full GC', () => {
  const before = youngSize();
  const hold = HeapHold.start();
  try {
    churn();
    assert.equal(youngSize(), before, 'the young generation grew while held');
    hold.collect(); // a full GC: throws if the gc function could not be made
  } finally {
    hold.release();
  }
  hold.release(); // safe twice
  hold.collect(); // released: nothing
  if (before >= 32 << 20) return; // at V8's maximum already: nothing to grow (stated, not failed)
  churn();
  assert.ok(youngSize() > before, `released, the young generation stayed at ${before} bytes`);
});
