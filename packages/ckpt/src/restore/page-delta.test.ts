/**
 * page-delta.ts over a chain of two image sets written here (no process): what a range holding set 1
 * needs to hold set 2 (its new pages filled, a page gone since zeroed, the rest left alone), and a chain
 * opened on its parent's open chain (PageChain's `below`) locating as the plain one does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImageDir, PageChain, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { dataRuns, pageDelta } from './page-delta.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-page-delta-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PID = 4242;
const BASE = 0x7f0000000000;
const va = (page: number) => BASE + page * PAGE_SIZE;
const data = (n: number) => Buffer.alloc(n * PAGE_SIZE, 7);

/**
 * set 1: pages 0-7 data.
 * set 2 (parent 1): 0 unchanged, 1 new, 2-3 gone (not present), 4-7 unchanged, 8 new; 9 never present.
 */
function buildChain(): [string, string] {
  const dirs = ['1', '2'].map((n) => join(root, n)) as [string, string];
  {
    using d = ImageDir.create(dirs[0]);
    d.pagemapWriter(PID).addPages(va(0), 8, data(8));
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 1));
    d.commit();
  }
  {
    using d = ImageDir.create(dirs[1], { parent: '../1' });
    const w = d.pagemapWriter(PID);
    w.addHole(va(0), 1);
    w.addPages(va(1), 1, data(1));
    w.addHole(va(4), 4);
    w.addPages(va(8), 1, data(1));
    d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ, 2));
    d.commit();
  }
  return dirs;
}

const [set1, set2] = buildChain();
const range = [{ start: va(0), end: va(10) }];

test('a range holding set 1: set 2 fills its own pages, zeroes the pages gone since, leaves the rest', () => {
  using old = new PageChain(ImageDir.open(set1), PID);
  using top = new PageChain(ImageDir.open(set2), PID);
  const { fill, drop } = pageDelta(top, range, old);
  assert.deepEqual(
    fill.map((r) => [r.vaddr, r.nrPages, r.depth]),
    [
      [va(1), 1, 0],
      [va(8), 1, 0],
    ],
  );
  assert.deepEqual(drop, [[va(2), 2 * PAGE_SIZE]]);
});

test('a chain opened on its parent chain (below) locates as the plain chain, and closes it', () => {
  using plain = new PageChain(ImageDir.open(set2), PID);
  const below = new PageChain(ImageDir.open(set1), PID);
  using stacked = new PageChain(ImageDir.open(set2), PID, below);
  const where = (c: PageChain) => dataRuns(c, range).map((r) => [r.vaddr, r.nrPages, r.depth, r.pagesPath]);
  assert.deepEqual(where(stacked), where(plain));
  assert.deepEqual(
    where(plain).map(([v, n, depth]) => [v, n, depth]),
    [
      [va(0), 1, 1],
      [va(1), 1, 0],
      [va(4), 4, 1],
      [va(8), 1, 0],
    ],
  );
  assert.ok(stacked.page(va(5)) instanceof Buffer);
  assert.equal(stacked.page(va(2)), 'absent');
  // given a chain that is not its parent's, a PE_PARENT range is refused
  using wrong = new PageChain(ImageDir.open(set2), PID, new PageChain(ImageDir.open(set2), PID));
  assert.throws(() => wrong.locate(va(0), 8), /BROKEN_CHAIN|its parent is not/);
});
