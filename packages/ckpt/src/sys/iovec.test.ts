import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IovecArray } from './iovec.js';

test('pushMerged widens the last iovec when the range continues it, else adds one', () => {
  const iov = new IovecArray(4);
  iov.pushMerged(0x7f0000000000, 4096);
  iov.pushMerged(0x7f0000001000, 8192); // continues
  iov.pushMerged(0x7f0000004000, 4096); // a gap
  assert.equal(iov.length, 2);
  assert.equal(iov.base(0), 0x7f0000000000);
  assert.equal(iov.len(0), 12288);
  assert.equal(iov.base(1), 0x7f0000004000);
  assert.equal(iov.len(1), 4096);
  assert.equal(iov.bytes, 16384);
});
