import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreDumpResult } from '../dump/index.js';
import { validateRun } from '../report/index.js';
import { DemoRun } from './demo-run.js';

/** The figures DemoRun reads from a pre-dump result (the rest as a real run leaves them). */
function result(pagesWritten: number, holes: number, totalUs: number, stoppedUs: number, frozen: boolean) {
  return {
    pid: 42,
    imagesDir: '/tmp/x',
    processes: 1,
    threads: 3,
    vmas: 28,
    pagesScanned: 70_000,
    pagesPresent: pagesWritten + holes,
    pagesWritten,
    pagesSkipped: 0,
    pagesSkippedParent: holes,
    bytesWritten: pagesWritten * 4096,
    deferred: [],
    guardVmas: 0,
    method: 'scan',
    bufferSize: 4 << 20,
    readCalls: 1,
    faults: 0,
    frozen,
    freezingTime: 0,
    frozenTime: frozen ? stoppedUs : 0,
    stoppedTime: stoppedUs,
    tracking: {
      kind: 'uffd-wp',
      reason: 'test',
      incremental: holes > 0 ? 1 : 0,
      full: holes > 0 ? 0 : 1,
      fallbacks: [],
    },
    memdumpTime: 0,
    memwriteTime: 0,
    totalTime: totalUs,
    tasks: [],
  } satisfies PreDumpResult;
}

function chain(): DemoRun {
  const run = new DemoRun();
  run.add(1, result(65_536, 0, 400_000, 2_000, false));
  run.add(2, result(8_192, 57_344, 100_000, 0, false));
  run.add(3, result(4_096, 61_440, 50_000, 50_000, true));
  return run;
}

test('the table: a header, one row per iteration, a total; columns aligned', () => {
  const t = chain().table();
  assert.equal(t.length, 5);
  assert.match(t[0]!, /^iteration +pages written +parent holes +time +stopped +throughput$/);
  assert.match(t[1]!, /^1 +65,536 +0 +400 ms +2 ms +640 MiB\/s$/);
  assert.match(t[3]!, /^3 frozen +4,096 +61,440 +50 ms +50 ms +320 MiB\/s$/);
  assert.match(t[4]!, /^all +77,824 +118,784 +550 ms +52 ms +553 MiB\/s$/);
  const ends = new Set(t.map((l) => l.length));
  assert.equal(ends.size, 1, `ragged table:\n${t.join('\n')}`);
});

test('RUN.json: valid for ckpt report; the chain check decides ok / failed / skipped', () => {
  const run = chain();
  const ok = validateRun(JSON.parse(JSON.stringify(run.toRun({ mismatched: 0, missing: 0 }, 'demo'))));
  assert.equal(ok.iterations?.length, 3);
  assert.deepEqual(
    ok.iterations?.map((i) => [i.index, i.frozen, i.pagesWritten, i.ms, i.stoppedMs, i.tracker]),
    [
      [1, false, 65_536, 400, 2, 'uffd-wp'],
      [2, false, 8_192, 100, 0, 'uffd-wp'],
      [3, true, 4_096, 50, 50, 'uffd-wp'],
    ],
  );
  assert.equal(ok.summary.chainCheck, 'ok');
  assert.equal(ok.summary.throughputBytesPerSec, (77_824 * 4096) / 0.55);
  assert.equal(run.toRun({ mismatched: 3, missing: 0 }, 'demo').summary.chainCheck, 'failed');
  assert.equal(run.toRun({ mismatched: 3, missing: 0 }, 'demo').summary.mismatchedPages, 3);
  assert.equal(run.toRun({ mismatched: 0, missing: 1 }, 'demo').summary.chainCheck, 'failed');
  assert.equal(run.toRun(undefined, 'demo').summary.chainCheck, 'skipped');
});
