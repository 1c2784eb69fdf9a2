/**
 * The frozen path: a frozen copy held in memory and written after the thaw (up to its cap, past it written
 * while frozen, and the result says so), and the chain index that replaces decoding every parent's
 * pagemaps (the same coverage, a check that still catches a damaged parent). On the writer fixture, each
 * chain's end compared with the frozen memory inside the frozen window (afterCommit).
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CHAIN_INDEX_FILE,
  chainCoverage,
  checkImageChain,
  ImageDir,
  readChainIndex,
} from '../images/index.js';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { Scratch, skipUnlessAvailable, Writer } from '../testing/index.js';
import { type ChainCheckResult, checkChain } from './chain-check.js';
import { DumpError } from './errors.js';
import { preDumpIterations } from './iterations.js';
import { preDump } from './pre-dump.js';
import type { PreDumpResult } from './stats.js';

const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
const scratch = new Scratch('ckpt-held-pages-test-');

/** A frozen pre-dump ending the chain at `dir`, compared with the memory while still frozen. */
async function frozenEnd(pid: number, dir: string, prev: string, holdCap?: number, bufferSize?: number) {
  let cmp: ChainCheckResult | undefined;
  const r = await preDump({
    pid,
    imagesDir: dir,
    prevImagesDir: prev,
    trackMem: 'auto',
    freeze: true,
    holdCap,
    bufferSize,
    afterCommit: () => {
      cmp = checkChain(pid, dir);
    },
  });
  assert.ok(cmp);
  assert.equal(cmp.mismatched, 0, `${cmp.mismatched} of ${cmp.pages} pages differ from the frozen memory`);
  assert.equal(cmp.missing, 0, `${cmp.missing} present pages are missing from the chain`);
  return r;
}

test('frozen: the copy is held in memory and written after the thaw; a small cap writes the rest frozen and says so', {
  skip: noUffd ?? false,
}, async () => {
  const w = await Writer.start(scratch, 32, 1, 0, true);
  const runs: PreDumpResult[] = [];
  for (const [name, cap] of [
    ['held', undefined],
    ['capped', 256 << 10],
  ] as const) {
    const base = scratch.newDir();
    await preDump({ pid: w.pid, imagesDir: join(base, '1'), trackMem: 'auto' });
    await w.cmd('w 1500'); // ~6 MiB written since: more than the small cap
    const r = await frozenEnd(w.pid, join(base, '2'), '../1', cap, 64 << 10);
    assert.equal(r.tracking?.incremental, 1, name);
    runs.push(r);
  }
  const [held, capped] = runs as [PreDumpResult, PreDumpResult];
  assert.ok(held.hold, 'a frozen read copy reports its hold');
  assert.equal(held.spilledBytes, 0, 'the default cap held everything');
  assert.equal(held.heldBytes, held.pagesWritten * PAGE_SIZE, 'every page written was held until the thaw');
  assert.ok((capped.spilledBytes ?? 0) > 0, 'past the cap pages were written while frozen');
  assert.ok((capped.heldBytes ?? 0) <= 256 << 10, `${capped.heldBytes} bytes held over a 256 KiB cap`);
  assert.equal((capped.heldBytes ?? 0) + (capped.spilledBytes ?? 0), capped.pagesWritten * PAGE_SIZE);
  w.f.kill();
});

test('a chain of 8 iterations: the index gives the coverage the pagemaps give, and the check still finds a damaged parent', {
  skip: noUffd ?? false,
}, async () => {
  const w = await Writer.start(scratch, 16, 2, 3000, true);
  const base = scratch.newDir();
  await preDumpIterations({ pid: w.pid, imagesDir: base, iterations: 8, intervalMs: 30, trackMem: 'auto' });
  for (let k = 1; k <= 8; k++)
    assert.ok(readChainIndex(join(base, String(k))), `iteration ${k} has its index`);
  const top = ImageDir.open(join(base, '8'));
  const indexed = chainCoverage(top);
  // the same, the slow way: every pagemap of the chain decoded and located (no index anywhere)
  for (let k = 1; k <= 8; k++) rmSync(join(base, String(k), CHAIN_INDEX_FILE));
  const located = chainCoverage(top);
  assert.deepEqual([...indexed.keys()], [w.pid]);
  assert.deepEqual(indexed.get(w.pid), located.get(w.pid));
  assert.ok((indexed.get(w.pid)?.length ?? 0) > 0);

  // a chain end on top of the indexed chain is exact (its parent's holes planned from the index)
  const r = await frozenEnd(w.pid, join(base, '9'), '../8');
  assert.ok((r.pagesSkippedParent ?? 0) > 0);
  assert.ok(existsSync(join(base, '9', CHAIN_INDEX_FILE)));

  // a damaged grandparent is caught by the index check (a pages file shorter than committed)
  const again = scratch.newDir();
  await preDumpIterations({ pid: w.pid, imagesDir: again, iterations: 3, intervalMs: 30, trackMem: 'none' });
  checkImageChain(join(again, '3'));
  const pages = ImageDir.open(join(again, '1'))
    .list()
    .find((f) => f.kind === 'pages' && f.size > 0);
  assert.ok(pages);
  truncateSync(join(again, '1', pages.name), pages.size - PAGE_SIZE);
  assert.throws(() => checkImageChain(join(again, '3')), /index says/);
  await assert.rejects(
    preDump({ pid: w.pid, imagesDir: join(again, '4'), prevImagesDir: '../3' }),
    (e: unknown) => e instanceof DumpError && e.code === 'EINVAL' && /index says/.test(e.message),
  );
  w.f.kill();
});
