import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readState } from './status.js';

test('readState: our own process is running; a pid that does not exist has no state', () => {
  assert.equal(readState(process.pid), 'R');
  assert.equal(readState(0x3ffffff0), undefined);
});
