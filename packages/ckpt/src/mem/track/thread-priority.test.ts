/** raiseThread and lowerThread: this thread's nice value moved and given back, nested as the migration nests them. */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { BACKGROUND_NICE, lowerThread, raiseThread, WINDOW_NICE } from './index.js';

const root = process.getuid?.() === 0;

test('lowerThread, then raiseThread inside it: each restore() gives the value before it back', {
  skip: root ? false : 'raising a thread back needs CAP_SYS_NICE (run as root)',
}, () => {
  const start = getPriority(0);
  const bg = lowerThread(0);
  try {
    assert.equal(getPriority(0), Math.max(start, BACKGROUND_NICE));
    const win = raiseThread(0);
    assert.equal(win.raised, true);
    assert.equal(getPriority(0), WINDOW_NICE);
    win.restore();
    win.restore(); // safe twice
    assert.equal(getPriority(0), Math.max(start, BACKGROUND_NICE));
  } finally {
    bg.restore();
  }
  assert.equal(getPriority(0), start);
  const again = lowerThread(0, start); // already there: nothing to do
  again.restore();
  assert.equal(getPriority(0), start);
});
