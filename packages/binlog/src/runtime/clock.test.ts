import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoarseClock, preciseMicros } from './clock.js';

/** Poll `cond` every 5 ms for up to 10 s (the helper may wait long for a CPU on a loaded machine). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for: ${what}`);
}

test('coarse clock: sparse reads use the precise clock and start no helper; a burst starts it; idle puts it to sleep', async () => {
  const c = new CoarseClock();
  for (let i = 0; i < 5; i++) {
    const before = preciseMicros();
    const t = c.micros();
    assert.ok(t >= before && t <= preciseMicros(), 'a sparse read is a precise read');
    await sleep(3);
  }
  assert.equal(c.ticking, false, 'no helper for sparse reads');

  // a burst starts the helper; keep reading until its cell is in use
  await until(() => {
    for (let i = 0; i < 200; i++) c.micros();
    return c.ticking;
  }, 'the helper to tick');
  const a = c.micros();
  assert.ok(a <= preciseMicros(), 'the cell never runs ahead of the clock');
  await until(() => c.micros() > a, 'the cell to advance');

  // no reads: the helper stops ticking
  await until(() => !c.ticking, 'the helper to sleep');
  const slept = preciseMicros();
  // 20 ms by the precise clock itself: a timer may fire early by that clock (libuv arms it from the
  // loop's cached time, which lags it)
  do await sleep(5);
  while (preciseMicros() < slept + 20_000);
  const t = c.micros();
  assert.ok(t >= slept + 20_000, 'after the helper sleeps, reads are precise again (not its last tick)');

  // a new burst wakes it
  await until(() => {
    for (let i = 0; i < 200; i++) c.micros();
    return c.ticking;
  }, 'the helper to wake');
});
