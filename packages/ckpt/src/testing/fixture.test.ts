import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fixture } from './index.js';

test('a fixture starts, is not stopped, and is reaped on kill', async () => {
  const f = await Fixture.start('static', ['4']);
  try {
    assert.equal(f.num('len'), 4 << 20);
    assert.ok(f.num('base') > 0);
    assert.match(f.state(), /^[SR]$/);
  } finally {
    f.kill();
  }
  assert.equal(f.state(), '');
});
