/**
 * The pre-copy passes (pre-copy.ts) on the writer fixture: its threads write pages at a steady rate during
 * the passes, and between the passes and the freeze the test rewrites pages (many of them held by a pass)
 * and drops some (MADV_DONTNEED). The chain's end must still equal the frozen memory page for page
 * (chain-check.ts, read while the target is frozen): a page rewritten after its pass carries the frozen
 * content, a page dropped after it is not resurrected. Also the run-cutting sweep on its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { Scratch, skipUnlessAvailable, Writer } from '../testing/index.js';
import { type ChainCheckResult, checkChain } from './chain-check.js';
import { cutRuns, type HeldRun } from './pre-copy.js';
import { preDump } from './pre-dump.js';

const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
const scratch = new Scratch('ckpt-pre-copy-test-');

test('cutRuns keeps the parts of held runs inside, or outside, sorted ranges (views of the same bytes)', () => {
  const bytes = new Uint8Array(8 * PAGE_SIZE);
  for (let i = 0; i < 8; i++) bytes.fill(i, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
  const P = PAGE_SIZE;
  const runs: HeldRun[] = [
    { va: 0x10000, n: 4, bytes: bytes.subarray(0, 4 * P) },
    { va: 0x20000, n: 4, bytes: bytes.subarray(4 * P) },
  ];
  const cut = [
    { start: 0x10000 + P, end: 0x10000 + 2 * P },
    { start: 0x10000 + 3 * P, end: 0x20000 + P },
  ];
  const out = cutRuns(runs, cut, false);
  assert.deepEqual(
    out.map((r) => [r.va, r.n, r.bytes[0]]),
    [
      [0x10000, 1, 0],
      [0x10000 + 2 * P, 1, 2],
      [0x20000 + P, 3, 5],
    ],
  );
  const inside = cutRuns(runs, cut, true);
  assert.deepEqual(
    inside.map((r) => [r.va, r.n, r.bytes[0]]),
    [
      [0x10000 + P, 1, 1],
      [0x10000 + 3 * P, 1, 3],
      [0x20000, 1, 4],
    ],
  );
});

test('pre-copy: pages written during and after the passes carry the frozen content; dropped ones stay out', {
  skip: noUffd ?? false,
}, async () => {
  // 64 MiB, 2 threads writing 2000 pages/s (during the passes too)
  const w = await Writer.start(scratch, 64, 2, 2000, true);
  try {
    const base = scratch.newDir();
    await preDump({ pid: w.pid, imagesDir: join(base, '1'), trackMem: 'auto' });
    await w.cmd('w 3000'); // written since the parent: the first pass copies them
    let cmp: ChainCheckResult | undefined;
    const r = await preDump({
      pid: w.pid,
      imagesDir: join(base, '2'),
      prevImagesDir: '../1',
      trackMem: 'auto',
      freeze: true,
      preCopyPasses: 2,
      afterPrecopyPass: async () => {
        await w.cmd('w 3000'); // rewrites many pages a pass holds: the window must copy them again
        await w.cmd('d 100 64'); // drops pages a pass may hold: they must not come back
      },
      afterCommit: () => {
        cmp = checkChain(w.pid, join(base, '2'));
      },
    });
    assert.ok(cmp);
    assert.equal(
      cmp.mismatched,
      0,
      `${cmp.mismatched} pages differ from the frozen memory: ${cmp.firstBad.map((va) => `0x${va.toString(16)}`).join(', ')}`,
    );
    assert.equal(cmp.missing, 0, `${cmp.missing} present pages are missing from the chain`);
    assert.equal(r.tracking?.incremental, 1);
    assert.ok(r.preCopy, 'the passes ran');
    assert.ok(r.preCopy.passes.length >= 1);
    assert.ok(
      (r.preCopy.passes[0]?.copied ?? 0) >= 1000,
      `pass 1 copied ${r.preCopy.passes[0]?.copied} pages`,
    );
    const pre = r.hold?.precopiedBytes ?? 0;
    assert.ok(pre > 0, 'pages held by the passes went into the images');
    assert.ok((r.heldBytes ?? 0) > 0, 'the window copied what was rewritten after the passes');
    assert.equal(
      pre + (r.heldBytes ?? 0),
      r.pagesWritten * PAGE_SIZE,
      'every page written: a pass or the window',
    );
  } finally {
    w.f.kill();
  }
});
