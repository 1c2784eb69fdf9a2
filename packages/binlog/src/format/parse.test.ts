import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError, parseFormat } from './index.js';

test('parses every specifier and %%', () => {
  const p = parseFormat('a %d b %i c %u d %f e %s f %x g %o h %j 100%%');
  assert.deepEqual(p.specs, ['d', 'i', 'u', 'f', 's', 'x', 'o', 'j']);
  assert.deepEqual(p.parts, ['a ', ' b ', ' c ', ' d ', ' e ', ' f ', ' g ', ' h ', ' 100%']);
});

test('plain text has one part and no specs', () => {
  assert.deepEqual(parseFormat('hello'), { text: 'hello', parts: ['hello'], specs: [] });
  assert.deepEqual(parseFormat('').parts, ['']);
});

test('unknown and truncated specifiers are errors with a code', () => {
  assert.throws(
    () => parseFormat('x %q'),
    (e: unknown) => e instanceof FormatError && e.code === 'BAD_FORMAT',
  );
  assert.throws(
    () => parseFormat('x %'),
    (e: unknown) => e instanceof FormatError && e.offset === 2,
  );
});
