/**
 * The convergence rule on tables: iterations as a migration would measure them, and what the rule
 * decides after each (no target, no clock: the rule is a pure function).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bandwidth,
  type ConvergenceOptions,
  decide,
  dirtyRate,
  type IterationSample,
  projectDowntime,
} from './convergence.js';

const MiB = 1 << 20;
const o: ConvergenceOptions = {
  maxDowntimeMs: 100,
  maxIterations: 10,
  fixedMs: 20,
  onNoConvergence: 'finish',
};
/** An iteration that sent `mib` MiB at `mbps` MB/s (1 MB/s = 1000 bytes/ms), after `dirtyMs` of writes. */
const it = (mib: number, mbps: number, dirtyMib: number, dirtyMs: number): IterationSample => ({
  bytesSent: mib * MiB,
  sendMs: (mib * MiB) / (mbps * 1000),
  bytesDirtied: dirtyMib * MiB,
  dirtyMs,
});

test('bandwidth is weighted by bytes over the window; the dirty rate is the last measured one', () => {
  const h = [it(1024, 1000, 1024, 0), it(10, 100, 10, 1000)];
  assert.ok(Math.abs(bandwidth(h) - (1034 * MiB) / (1073.741824 + 104.8576)) < 1e-6);
  assert.equal(dirtyRate(h), (10 * MiB) / 1000);
  assert.equal(dirtyRate([it(1024, 1000, 1024, 0)]), 0);
  assert.equal(bandwidth([]), 0);
});

test('a first iteration alone projects its whole memory: iterate', () => {
  const d = decide([it(1024, 1000, 1024, 0)], o);
  assert.equal(d.action, 'iterate');
  assert.ok(d.projectedMs > 1000, String(d.projectedMs));
});

test('a slowly written target converges: finish once the delta fits the limit', () => {
  // 1 GiB at 1 GB/s, the target writes 10 MB/s: the first delta (1.07 s of writes) ~10.7 MiB
  const h = [it(1024, 1000, 1024, 0)];
  h.push(it(10.24, 1000, 10.24, 1074));
  const d = decide(h, o);
  assert.equal(d.action, 'finish');
  assert.equal(d.action === 'finish' && d.reason, 'fits');
  assert.ok(d.projectedMs <= 100 && d.projectedMs > 20, String(d.projectedMs));
});

test('a tight limit keeps iterating while the delta shrinks', () => {
  const tight = { ...o, maxDowntimeMs: 21 };
  const h = [it(1024, 1000, 1024, 0), it(100, 1000, 100, 1074)];
  assert.equal(decide(h, tight).action, 'iterate');
  h.push(it(10, 1000, 10, 105));
  assert.equal(decide(h, tight).action, 'iterate');
  h.push(it(1, 1000, 1, 10.5));
  assert.equal(decide(h, tight).action, 'iterate', 'fits, but the delta still halves');
  h.push(it(0.8, 1000, 0.8, 1.05));
  const d = decide(h, tight);
  assert.equal(d.action, 'finish', d.why);
});

test('a fitting projection iterates on while the delta still halves, then finishes', () => {
  const h = [it(1024, 1000, 1024, 0), it(40, 1000, 40, 1074), it(10, 1000, 10, 300)];
  const d = decide(h, o);
  assert.equal(d.action, 'iterate', d.why);
  assert.match(d.why, /fits .* but the delta still halves/);
  h.push(it(8, 1000, 8, 250)); // 10 -> 8 MiB: no longer halving
  const f = decide(h, o);
  assert.equal(f.action === 'finish' && f.reason, 'fits', f.why);
  // at the last iteration allowed: finish although it halved
  const capped = decide(h.slice(0, 3), { ...o, maxIterations: 3 });
  assert.equal(capped.action === 'finish' && capped.reason, 'fits', capped.why);
});

test('a target that dirties faster than the link: no convergence, finish or give up as chosen', () => {
  // link 100 MB/s, target writes 200 MB/s
  const h = [it(1024, 100, 1024, 0), it(2048, 100, 2048, 10737)];
  const d = decide(h, o);
  assert.equal(d.action, 'finish');
  assert.equal(d.action === 'finish' && d.reason, 'no-convergence');
  assert.match(d.why, /writes .* MB\/s, the link carries .* MB\/s/);
  assert.equal(decide(h, { ...o, onNoConvergence: 'give-up' }).action, 'give-up');
});

test('a delta that stops shrinking is no convergence even below the link speed', () => {
  const h = [it(1024, 1000, 1024, 0), it(300, 1000, 300, 1074), it(290, 1000, 290, 315)];
  assert.equal(decide(h.slice(0, 2), o).action, 'iterate');
  const d = decide([...h, it(280, 1000, 280, 304)], o);
  assert.equal(d.action === 'finish' && d.reason, 'no-convergence', d.why);
});

test('max iterations: finish with the reason, or give up', () => {
  const few = { ...o, maxIterations: 2, maxDowntimeMs: 1 };
  const h = [it(1024, 1000, 1024, 0), it(100, 1000, 100, 1074)];
  const d = decide(h, few);
  assert.equal(d.action === 'finish' && d.reason, 'max-iterations');
  assert.equal(decide(h, { ...few, onNoConvergence: 'give-up' }).action, 'give-up');
});

test('no history, or no time measured: the projection is unbounded', () => {
  assert.equal(projectDowntime([], o), Number.POSITIVE_INFINITY);
  assert.equal(
    projectDowntime([{ bytesSent: 0, sendMs: 0, bytesDirtied: 0, dirtyMs: 0 }], o),
    Number.POSITIVE_INFINITY,
  );
  assert.equal(decide([], o).action, 'iterate');
});
