import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DumpError } from '../dump/index.js';
import { describeFailure, UsageError } from './failure.js';

test('expected failures: their message, status 1, no stack even when debugging', () => {
  const f = describeFailure(new DumpError('ESRCH', 'no such process: 7'), true);
  assert.deepEqual(f, { message: 'no such process: 7', status: 1 });
});

test('usage errors are status 2, cancellation 130', () => {
  assert.equal(describeFailure(new UsageError('bad size: x'), false).status, 2);
  assert.equal(describeFailure(new DumpError('ECANCELED', 'pre-dump cancelled'), false).status, 130);
});

test('a bug is one line with a hint, and the stack only when debugging', () => {
  const quiet = describeFailure(new TypeError('x is undefined'), false);
  assert.equal(quiet.status, 70);
  assert.match(quiet.message, /^internal error: x is undefined \(re-run with -v4 or CKPT_DEBUG=1/);
  assert.equal(quiet.detail, undefined);
  const loud = describeFailure(new TypeError('x is undefined'), true);
  assert.match(loud.detail ?? '', /TypeError: x is undefined\n\s+at /);
  assert.equal(describeFailure('a string', false).status, 70);
});
