/**
 * The pre-copy passes (pre-copy.ts) on the writer fixture: its threads write pages at a steady rate during
 * the passes, and between the passes and the freeze the test rewrites pages (many of them held by a pass)
 * and drops some (MADV_DONTNEED). The chain's end must still equal the frozen memory page for page
 * (chain-check.ts, read while the target is frozen): a page rewritten after its pass carries the frozen
 * content, a page dropped after it is not resurrected. Also the held pages' index on its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { Scratch, skipUnlessAvailable, Writer } from '../testing/index.js';
import { type ChainCheckResult, checkChain } from './chain-check.js';
import { finalDump } from './full/index.js';
import { HeldPageIndex } from './held-page-index.js';
import { preDump } from './pre-dump.js';

const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
const scratch = new Scratch('ckpt-pre-copy-test-');

test('HeldPageIndex: a pass drops what was written or read again and merges what it read; views join adjacent pages of one chunk', () => {
  const P = PAGE_SIZE;
  const chunks = [new Uint8Array(4 * P), new Uint8Array(4 * P)];
  for (let c = 0; c < 2; c++) for (let i = 0; i < 4; i++) chunks[c]!.fill(c * 4 + i, i * P, (i + 1) * P);
  const idx = new HeldPageIndex();
  // pass 1: 4 pages at 0x10000 (chunk 0), 2 at 0x20000 (chunk 1, pages 0-1)
  let add = idx.adder();
  add(0x10000, 4, 0, 0);
  add(0x20000, 2, 1, 0);
  idx.update([], add.done());
  assert.equal(idx.pages, 6);
  // adjacent in memory and in the chunk: one run
  const whole = idx.views([{ start: 0x10000, end: 0x14000 }], [], chunks);
  assert.deepEqual(
    whole.map((r) => [r.va, r.n, r.bytes.length / P]),
    [[0x10000, 4, 4]],
  );
  // pass 2: 0x11000 written and read again (chunk 1, page 2); 0x13000 written, not read
  add = idx.adder();
  add(0x11000, 1, 1, 2);
  idx.update(
    [
      { start: 0x11000, end: 0x12000 },
      { start: 0x13000, end: 0x14000 },
    ],
    add.done(),
  );
  assert.equal(idx.pages, 5);
  assert.deepEqual(idx.minus([{ start: 0x10000, end: 0x15000 }]), [{ start: 0x13000, end: 0x15000 }]);
  const v = idx.views([{ start: 0x10000, end: 0x30000 }], [{ start: 0x20000, end: 0x21000 }], chunks);
  assert.deepEqual(
    v.map((r) => [r.va, r.n, r.bytes[0], r.bytes.length / P]),
    [
      [0x10000, 1, 0, 1],
      [0x11000, 1, 6, 1],
      [0x12000, 1, 2, 1],
      [0x21000, 1, 5, 1],
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

test('finalDump with preCopyPasses and no --leave-running: the passes run, the images equal the frozen memory, the tree is killed', {
  skip: noUffd ?? false,
}, async () => {
  // 64 MiB, 2000 pages/s written at random (heartbeat.c: no FIFO, so a full dump takes it)
  const f = await scratch.start('heartbeat', ['64', '2000']);
  const base = scratch.newDir();
  await preDump({ pid: f.pid, imagesDir: join(base, '1'), trackMem: 'auto' });
  let cmp: ChainCheckResult | undefined;
  const r = await finalDump({
    pid: f.pid,
    imagesDir: join(base, '2'),
    prevImagesDir: '../1',
    preCopyPasses: 2,
    release: async () => {
      cmp = checkChain(f.pid, join(base, '2')); // still frozen: the set is complete
      return 'kill';
    },
  });
  assert.ok(cmp);
  assert.equal(cmp.mismatched, 0, `${cmp.mismatched} pages differ from the frozen memory`);
  assert.equal(cmp.missing, 0, `${cmp.missing} present pages are missing from the chain`);
  assert.ok(r.preCopy && r.preCopy.passes.length >= 1, 'the passes ran');
  assert.ok((r.hold?.precopiedBytes ?? 0) > 0, 'pages held by the passes went into the images');
  assert.equal(r.killed, true);
});
