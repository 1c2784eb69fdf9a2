import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseScale, ZERO_BAND } from './scale.js';

test('linear from zero with 1-2-5 steps over ordinary ranges', () => {
  const s = chooseScale([812.3, 1410.7, 1633.9, 2905.2]);
  assert.equal(s.kind, 'linear');
  assert.equal(s.min, 0);
  assert.ok(s.max >= 2905.2);
  assert.deepEqual(s.ticks, [0, 500, 1000, 1500, 2000, 2500, 3000]);
  assert.equal(s.fraction(0), 0);
  assert.equal(s.fraction(s.max), 1);
  assert.equal(s.fraction(s.max * 2), 1);
});

test('binary ticks for bytes', () => {
  const s = chooseScale([0, 2 ** 30, 2 ** 31], { binary: true });
  assert.equal(s.kind, 'linear');
  assert.deepEqual(s.ticks, [0, 2 ** 29, 2 ** 30, 3 * 2 ** 29, 2 ** 31]);
});

test('all zeros still give an axis', () => {
  const s = chooseScale([0, 0]);
  assert.equal(s.kind, 'linear');
  assert.ok(s.max > 0);
  assert.equal(s.fraction(0), 0);
});

test('log when the positive values span 100x or more', () => {
  const s = chooseScale([0.4, 186.2, 0.61, 380.1]);
  assert.equal(s.kind, 'log');
  assert.deepEqual(s.ticks, [0.1, 1, 10, 100, 1000]);
  assert.equal(s.fraction(0.1), 0);
  assert.equal(s.fraction(1000), 1);
  assert.ok(Math.abs(s.fraction(10) - 0.5) < 1e-9);
  assert.ok(s.fraction(0.4) < s.fraction(0.61));
});

test('a log axis with zeros gets a band for them', () => {
  const s = chooseScale([0, 3.1, 420.5]);
  assert.equal(s.kind, 'log');
  assert.equal(s.ticks[0], 0);
  assert.equal(s.fraction(0), 0);
  assert.ok(Math.abs(s.fraction(1) - ZERO_BAND) < 1e-9);
  assert.ok(Math.abs(s.fraction(1000) - 1) < 1e-9);
});

test('binary log ticks land on powers of two, at most seven', () => {
  const s = chooseScale([1024, 2 ** 30], { binary: true });
  assert.equal(s.kind, 'log');
  assert.deepEqual(s.ticks, [2 ** 5, 2 ** 10, 2 ** 15, 2 ** 20, 2 ** 25, 2 ** 30]);
  assert.ok(s.fraction(1024) > 0, 'the smallest value stands above the floor');
  const t = chooseScale([2 ** 20, 2 ** 30], { binary: true });
  assert.deepEqual(t.ticks, [2 ** 18, 2 ** 20, 2 ** 22, 2 ** 24, 2 ** 26, 2 ** 28, 2 ** 30]);
});
