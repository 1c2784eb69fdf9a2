/** Where the trampoline goes: free in every layout, highest hole first, with room for the parking area. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestoreError } from './errors.js';
import { findTrampoline, TRAMPOLINE_SIZE } from './trampoline.js';

const G = 0x1000;
const overlaps = (at: number, len: number, ranges: (readonly [number, number])[]) =>
  ranges.some(([s, e]) => at < e && s < at + len);

test('the trampoline lands where neither layout has anything, parking area included', () => {
  const live = [
    [0x5555_0000_0000, 0x5555_0010_0000],
    [0x7fef_ffff_0000, 0x7ff0_0000_0000],
    [0x7ffd_0000_0000, 0x7ffd_0002_1000],
  ] as const;
  const image = [
    [0x5600_0000_0000, 0x5600_0010_0000],
    [0x7fef_f000_0000, 0x7fef_fff0_0000],
  ] as const;
  const park = 8 * G;
  const at = findTrampoline([live, image], park);
  assert.equal(at % G, 0);
  assert.equal(overlaps(at - G, TRAMPOLINE_SIZE + park + 2 * G, [...live, ...image]), false);
  // the highest hole: between the image's mapping and the live one above it
  assert.ok(at > 0x7fef_fff0_0000 && at + TRAMPOLINE_SIZE + park < 0x7fef_ffff_0000, at.toString(16));
});

test('no hole large enough: ENOTSUP', () => {
  const all = [[0, 0x7fff_ffff_f000]] as const;
  assert.throws(
    () => findTrampoline([all], 0),
    (e: unknown) => e instanceof RestoreError && e.code === 'ENOTSUP',
  );
});
