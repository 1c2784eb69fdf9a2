import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModeComparison } from './mode-comparison.js';
import type { ModeResult } from './schema.js';

const m = (
  mode: 'read' | 'splice',
  scenario: 'static' | 'churn',
  sizeBytes: number,
  stoppedMs: number,
): ModeResult => ({
  mode,
  scenario,
  sizeBytes,
  stoppedMs,
  totalMs: 1,
  pipes: 0,
  fds: 3,
  peakPipeBytes: 0,
  peakRssBytes: 0,
  memAvailableDropBytes: 0,
});

test('groups by scenario then size; medians of repeats; ratios', () => {
  const c = new ModeComparison([
    m('splice', 'churn', 1 << 30, 200),
    m('read', 'static', 2 ** 31, 1),
    m('read', 'churn', 1 << 30, 0.5),
    m('read', 'static', 1 << 30, 0.4),
    m('splice', 'static', 1 << 30, 100),
    m('read', 'static', 1 << 30, 0.6),
    m('read', 'static', 1 << 30, 0.1),
  ]);
  assert.deepEqual(
    c.groups.map((g) => g.label.join(' ')),
    ['1 GiB static', '2 GiB static', '1 GiB churn'],
  );
  assert.equal(c.repeated, true);
  assert.equal(c.value('stoppedMs', 'read', c.groups[0]!), 0.4);
  assert.equal(c.value('stoppedMs', 'splice', c.groups[1]!), undefined);
  assert.equal(c.ratio('stoppedMs', c.groups[0]!), 250);
  assert.equal(c.ratio('stoppedMs', c.groups[1]!), undefined);
  assert.deepEqual(c.ratioRange('stoppedMs'), { min: 250, max: 400, groups: 2 });
});

test('a read figure of zero gives no ratio; no pairs give no range', () => {
  const c = new ModeComparison([m('read', 'static', 1, 0), m('splice', 'static', 1, 5)]);
  assert.equal(c.repeated, false);
  assert.equal(c.ratio('stoppedMs', c.groups[0]!), undefined);
  assert.equal(c.ratioRange('stoppedMs'), undefined);
  assert.equal(c.ratioRange('totalMs')?.min, 1);
});
