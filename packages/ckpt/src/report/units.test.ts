import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  exact,
  formatBytes,
  formatCompact,
  formatCount,
  formatMs,
  formatRate,
  formatRatio,
  human,
} from './units.js';

test('bytes in binary units', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(60817408), '58 MiB');
  assert.equal(formatBytes(1073741824), '1 GiB');
  assert.equal(formatBytes(25000000000), '23.3 GiB');
  assert.equal(formatBytes(2 ** 50), '1 PiB');
});

test('durations in µs, ms and s', () => {
  assert.equal(formatMs(0), '0 ms');
  assert.equal(formatMs(0.4), '400 µs');
  assert.equal(formatMs(0.0123), '12.3 µs');
  assert.equal(formatMs(0.9996), '1 ms');
  assert.equal(formatMs(3.1), '3.1 ms');
  assert.equal(formatMs(812.3), '812 ms');
  assert.equal(formatMs(999.9), '1 s');
  assert.equal(formatMs(1500), '1.5 s');
  assert.equal(formatMs(123456), '123 s');
});

test('counts, compact counts, rates, ratios', () => {
  assert.equal(formatCount(262144), '262,144');
  assert.equal(formatCount(0.126), '0.13');
  assert.equal(formatCompact(9999), '9,999');
  assert.equal(formatCompact(41210), '41.2k');
  assert.equal(formatCompact(262144), '262k');
  assert.equal(formatCompact(3_500_000), '3.5M');
  assert.equal(formatRate(1.2e9), '1.12 GiB/s');
  assert.equal(formatRatio(180, 0.4), '450×');
  assert.equal(formatRatio(1, 0), '—');
  assert.equal(formatRatio(4099, 3), '1,366×');
  assert.equal(formatRatio(0, 0), '1×');
});

test('exact figures', () => {
  assert.equal(exact('bytes', 1073741824), '1,073,741,824 B');
  assert.equal(exact('ms', 0.4), '0.4 ms');
  assert.equal(exact('ms', 1410.7), '1,410.7 ms');
  assert.equal(exact('count', 2051), '2,051');
  assert.equal(human('count', 2051), '2,051');
  assert.equal(human('bytes', 2048), '2 KiB');
});
