import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DumpError, dumpErrorFrom } from '../dump/index.js';
import { ImageError } from '../images/index.js';
import { MemError } from '../mem/index.js';
import { BugError, CancelledError, cancelledBy, ExpectedError, SysError } from '../sys/index.js';
import { WireError } from '../xfer/index.js';
import { CommandError, describeFailure, UsageError } from './failure.js';

test('expected failures: their message, status 1, no stack even when debugging', () => {
  const f = describeFailure(new DumpError('ESRCH', 'no such process: 7'), true);
  assert.deepEqual(f, { message: 'no such process: 7', status: 1 });
  for (const e of [
    new ImageError('CORRUPT_IMAGE', 'x'),
    new WireError('IO', 'x'),
    new MemError('EIO', 'x'),
    new SysError('write', 28),
    new CommandError('EEXIST', 'x'),
  ]) {
    assert.ok(e instanceof ExpectedError, e.name);
    assert.equal(describeFailure(e, false).status, 1, e.name);
  }
});

test('usage errors are status 2', () => {
  assert.equal(describeFailure(new UsageError('bad size: x'), false).status, 2);
});

test('cancellation: 128 + the signal (SIGINT 130, SIGTERM 143), 130 without one', () => {
  assert.equal(describeFailure(new CancelledError('pre-dump cancelled'), false).status, 130);
  const ac = new AbortController();
  ac.abort(new CancelledError('interrupted by SIGTERM', { signal: 'SIGTERM' }));
  const e = cancelledBy(ac.signal, 'pre-dump cancelled');
  assert.equal(e.signal, 'SIGTERM', 'the signal travels up through the abort reason');
  assert.equal(describeFailure(e, false).status, 143);
  // wrapped again (abortDump adds the directory): still the signal
  assert.equal(describeFailure(new CancelledError('x', { cause: e }), false).status, 143);
  assert.equal(describeFailure(new CancelledError('x'), false, 'SIGINT').status, 130);
  assert.equal(describeFailure(new CancelledError('x'), false, 'SIGTERM').status, 143);
});

test('a bug is one line with a hint to report it, and the stack only when debugging', () => {
  const quiet = describeFailure(new TypeError('x is undefined'), false);
  assert.equal(quiet.status, 70);
  assert.equal(
    quiet.message,
    'internal error: x is undefined (a bug: please report it with the output of -v4)',
  );
  assert.equal(quiet.detail, undefined);
  const loud = describeFailure(new TypeError('x is undefined'), true);
  assert.match(loud.detail ?? '', /TypeError: x is undefined\n\s+at /);
  assert.equal(describeFailure('a string', false).status, 70);
  assert.equal(describeFailure(new BugError('used after close()', { code: 'BAD_STATE' }), false).status, 70);
});

test('an upper-case code does not make a failure expected: Node ERR_* and bare coded errors are bugs', () => {
  // Node's own argument check (a bug in our call), with its upper-case code
  let nodeErr: unknown;
  try {
    readFileSync(42 as unknown as string, { encoding: 'nope' as BufferEncoding });
  } catch (e) {
    nodeErr = e;
  }
  assert.match(String((nodeErr as { code?: string }).code), /^ERR_/);
  assert.equal(describeFailure(nodeErr, false).status, 70);
  assert.equal(describeFailure(Object.assign(new Error('x'), { code: 'BAD_STATE' }), false).status, 70);
});

test('a system error from fs that no layer wrapped is still an expected failure', () => {
  let e: unknown;
  try {
    readFileSync('/nonexistent/ckpt-failure-test');
  } catch (x) {
    e = x;
  }
  assert.equal(describeFailure(e, false).status, 1);
});

test('dumpErrorFrom: image, wire and system errors are expected DumpErrors naming the path or peer', () => {
  const full = SysError.fromNode(
    Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    }),
    'write /ckpt/1/pages-1.img',
  );
  assert.ok(full instanceof SysError);
  assert.equal(full.message, 'write /ckpt/1/pages-1.img: ENOSPC (no space left on device)');
  for (const e of [
    full,
    new ImageError('IO', 'write /ckpt/1/pages-1.img: ENOSPC'),
    new WireError('IO', 'page server 10.0.0.1:1234 closed the connection'),
  ]) {
    const d = dumpErrorFrom(e, 7);
    assert.ok(d instanceof DumpError, String(e));
    assert.equal(d.code, 'EIO');
    assert.equal(d.message, (e as Error).message);
    assert.equal(describeFailure(d, false).status, 1);
  }
  const c = new CancelledError('x');
  assert.equal(dumpErrorFrom(c, 7), c);
  const bug = new TypeError('y');
  assert.equal(dumpErrorFrom(bug, 7), bug);
});
