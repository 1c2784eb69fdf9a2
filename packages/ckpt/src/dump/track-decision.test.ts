import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Decision,
  type DecisionInput,
  decideTask,
  effectiveMode,
  startProblem,
} from './track-decision.js';

const base: DecisionInput = { choice: 'auto', tracker: false, parent: false, endTracking: false, pid: 7 };

test('decideTask: full or incremental, and why', () => {
  const cases: [string, Partial<DecisionInput>, Decision][] = [
    ['first run', {}, { action: 'start', drop: false }],
    ['none asked', { choice: 'none', tracker: true, parent: true }, { action: 'untracked', drop: false }],
    ['same session, no parent', { tracker: true }, { action: 'incremental', drop: false }],
    [
      'resumed, same process',
      { tracker: true, parent: true, sameProcess: 'same' },
      { action: 'incremental', drop: false },
    ],
    [
      'resumed, pid reused',
      { tracker: true, parent: true, sameProcess: 'reused' },
      { action: 'start', drop: true, fallback: 'pid 7 was reused since the parent' },
    ],
    [
      'resumed, no dump_uptime',
      { tracker: true, parent: true, sameProcess: 'unknown' },
      {
        action: 'start',
        drop: true,
        fallback: 'the parent has no dump_uptime (pid reuse cannot be ruled out)',
      },
    ],
    [
      'parent, no tracker',
      { parent: true },
      { action: 'start', drop: false, fallback: 'no tracker for this process yet' },
    ],
    [
      'parent, session could not resume',
      { parent: true, sessionFallback: 'no tracking state in X' },
      { action: 'start', drop: false, fallback: 'no tracking state in X' },
    ],
    [
      'parent, this process could not resume',
      { parent: true, resumeProblem: 'the target closed its userfaultfd (fd 3)', sessionFallback: 'other' },
      { action: 'start', drop: false, fallback: 'the target closed its userfaultfd (fd 3)' },
    ],
    [
      'chain ends, no tracker: nothing set up',
      { parent: true, endTracking: true },
      { action: 'untracked', drop: false, fallback: 'no tracker for this process yet' },
    ],
    [
      'chain ends with a tracker',
      { tracker: true, parent: true, sameProcess: 'same', endTracking: true },
      { action: 'incremental', drop: false },
    ],
  ];
  for (const [name, input, want] of cases) assert.deepEqual(decideTask({ ...base, ...input }), want, name);
});

test('effectiveMode: incremental only when some range is known', () => {
  assert.deepEqual(effectiveMode({ known: 3, untracked: 1, untrackedReason: 'EBUSY' }), {
    mode: 'incremental',
  });
  assert.deepEqual(effectiveMode({ known: 0, untracked: 4, untrackedReason: 'EBUSY: x' }), {
    mode: 'full',
    fallback: 'no range could be tracked: EBUSY: x',
  });
  assert.equal(effectiveMode({ known: 0, untracked: 0 }).mode, 'full');
  assert.equal(startProblem({ known: 2, untracked: 1 }), undefined);
  assert.equal(startProblem({ known: 0, untracked: 0 }), undefined);
  assert.match(
    startProblem({ known: 0, untracked: 2, untrackedReason: 'EBUSY' }) ?? '',
    /could not start.*EBUSY/,
  );
});
