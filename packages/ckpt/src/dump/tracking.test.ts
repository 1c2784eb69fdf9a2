/**
 * TrackingSession: where full vs incremental is decided, with a fake tracker (the decisions themselves
 * are tables in track-decision.test.ts) on a real sleeping process (findPages reads its pagemap), and the
 * accounting when the kernel refuses to track (another userfaultfd already holds the ranges).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AddressRange,
  type CollectResult,
  type DirtyTracker,
  planVmas,
  trackableRanges,
  UffdWpTracker,
  uffdWpUnsupportedReason,
  type WrittenRangeCallback,
} from '../mem/index.js';
import { readMaps } from '../proc/index.js';
import { type FrozenProcess, freeze } from '../ptrace/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { silentLogger } from './logger.js';
import { type TrackerFactory, TrackingSession } from './tracking.js';

class FakeTracker implements DirtyTracker {
  readonly kind = 'uffd-wp' as const;
  readonly needsFreeze = false;
  readonly calls: string[] = [];
  list: AddressRange[] = [];
  written: AddressRange[] = [];
  untrackedReason: string | undefined;
  readonly setupStoppedMicros = 123;
  constructor(private readonly refuseAll = false) {}
  start(r: readonly AddressRange[]) {
    this.calls.push('start');
    this.add(r);
  }
  add(r: readonly AddressRange[]) {
    if (this.refuseAll) {
      this.untrackedReason = 'EBUSY: fake';
      this.untracked.push(...r);
    } else this.list.push(...r);
  }
  private untracked: AddressRange[] = [];
  collect(cb: WrittenRangeCallback): CollectResult {
    this.calls.push('collect');
    for (const w of [...this.written, ...this.untracked]) cb(w.start, w.end, true);
    return { pages: this.written.reduce((n, w) => n + (w.end - w.start) / PAGE_SIZE, 0), scanMicros: 0 };
  }
  ranges() {
    return [...this.list];
  }
  untrackedRanges() {
    return [...this.untracked];
  }
  knownRanges() {
    return [...this.list];
  }
  endInTarget(_f: FrozenProcess) {
    this.calls.push('endInTarget');
  }
  save() {
    this.calls.push('save');
    return { fake: true };
  }
  release() {
    this.calls.push('release');
  }
  close() {
    this.calls.push('close');
  }
  [Symbol.dispose]() {
    this.close();
  }
}

function fakes(refuseAll = false): { made: FakeTracker[]; factory: TrackerFactory } {
  const made: FakeTracker[] = [];
  return {
    made,
    factory: () => {
      const t = new FakeTracker(refuseAll);
      made.push(t);
      return { tracker: t, reason: 'fake' };
    },
  };
}

const input = (pid: number) => {
  const maps = readMaps(pid);
  return { maps, plan: planVmas(maps) };
};

test('session: full with a new tracker, then incremental from what collect() reports', async () => {
  await using f = await Fixture.start('static', ['4']);
  const { made, factory } = fakes();
  using s = TrackingSession.create('auto', silentLogger, undefined, factory);
  const first = s.planTask(f.pid, input(f.pid));
  assert.equal(first.tracking.mode, 'full');
  assert.equal(first.tracking.fallback, undefined);
  assert.equal(first.tracking.stoppedMicros, 123, "the tracker's own setup stop");
  assert.equal(s.kind, 'uffd-wp');
  assert.deepEqual(made[0]!.calls, ['start']);
  assert.deepEqual(made[0]!.ranges(), trackableRanges(readMaps(f.pid)));

  const base = f.num('base');
  made[0]!.written = [{ start: base, end: base + 2 * PAGE_SIZE }];
  // the parent (as a page server's) covers everything: unwritten known pages become holes
  const second = s.planTask(f.pid, { ...input(f.pid), covered: [{ start: 0, end: 2 ** 47 }] });
  assert.equal(second.tracking.mode, 'incremental');
  assert.equal(second.tracking.pagesWritten, 2);
  assert.equal(made.length, 1, 'the same tracker');
  assert.ok(second.pages.holes.pages >= f.num('len') / PAGE_SIZE - 2, 'the unwritten region is holes');
  assert.ok(second.pages.data.pages >= 2, 'the written pages are data');

  assert.deepEqual(s.save(), {
    format: 'ckpt-track',
    version: 1,
    kind: 'uffd-wp',
    tasks: { [f.pid]: { fake: true } },
  });
  s.release();
  assert.deepEqual(made[0]!.calls.slice(-2), ['save', 'release']);
});

test('session: the chain end ends tracking in the target, and its walk of the pages is the last collect', async () => {
  await using f = await Fixture.start('static', ['4']);
  const { made, factory } = fakes();
  using s = TrackingSession.create('auto', silentLogger, undefined, factory);
  s.planTask(f.pid, input(f.pid));
  const fz = freeze(f.pid);
  try {
    const end = s.planTask(f.pid, { ...input(f.pid), frozen: fz, endTracking: true });
    assert.equal(end.tracking.mode, 'incremental');
    // nothing write-protected this fake's ranges: every present page reads as written, so all is data
    assert.equal(end.tracking.pagesWritten, end.found.ranges.pages);
    assert.equal(end.pages.holes.pages, 0);
  } finally {
    fz.thaw();
  }
  // a uffd-wp chain's end: no collect() of its own (the walk that finds the present pages tells which
  // were written, one walk instead of two)
  assert.deepEqual(made[0]!.calls, ['start', 'endInTarget']);
});

test('session: a tracker that tracks nothing is a full dump, said so every time', async () => {
  await using f = await Fixture.start('static', ['4']);
  const { factory } = fakes(true);
  using s = TrackingSession.create('auto', silentLogger, undefined, factory);
  const first = s.planTask(f.pid, input(f.pid));
  assert.equal(first.tracking.mode, 'full');
  assert.match(first.tracking.fallback ?? '', /tracking could not start.*EBUSY: fake/);
  const second = s.planTask(f.pid, input(f.pid));
  assert.equal(second.tracking.mode, 'full');
  assert.match(second.tracking.fallback ?? '', /no range could be tracked: EBUSY: fake/);
  assert.equal(second.pages.holes.pages, 0);
});

const noUffd = uffdWpUnsupportedReason();

test('session: ranges another userfaultfd holds are reported as full copies, not incremental', {
  skip: noUffd ?? false,
}, async () => {
  await using f = await Fixture.start('static', ['4']);
  // a userfaultfd registered on every range, that no record names (only our copy holds it)
  using other = new UffdWpTracker(f.pid);
  other.start(trackableRanges(readMaps(f.pid)));
  using s = TrackingSession.create('auto', silentLogger);
  try {
    const first = s.planTask(f.pid, input(f.pid));
    assert.equal(first.tracking.mode, 'full');
    assert.match(first.tracking.fallback ?? '', /EBUSY/);
    const second = s.planTask(f.pid, input(f.pid));
    assert.equal(second.tracking.mode, 'full', 'every page was copied');
    assert.match(second.tracking.fallback ?? '', /no range could be tracked: EBUSY/);
  } finally {
    s.release();
  }
});
