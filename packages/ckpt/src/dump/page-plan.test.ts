import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImageDir, PageChain, PRE_DUMP_MODE, preDumpInventory } from '../images/index.js';
import { type PageConsumer, PageRanges, type PageReader } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { NullSink } from '../xfer/index.js';
import { planPages, writePlannedPages } from './page-plan.js';

const P = PAGE_SIZE;
const root = mkdtempSync(join(tmpdir(), 'ckpt-page-plan-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ranges = (...pairs: [number, number][]) => {
  const r = new PageRanges();
  for (const [a, b] of pairs) r.push(a * P, b * P);
  return r;
};
const list = (r: PageRanges) => r.starts.map((s, i) => [s / P, r.ends[i]! / P]);

/** A parent image set holding pages 1..3 (data) of pid 7. */
function parentDir(): ImageDir {
  const path = join(root, 'parent');
  const d = ImageDir.create(path);
  d.pagemapWriter(7).addPages(1 * P, 3, Buffer.alloc(3 * P, 1));
  d.setInventory(preDumpInventory(PRE_DUMP_MODE.READ));
  d.commit();
  return ImageDir.open(path);
}

test('planPages: written, unknown and uncovered pages are data; the rest are holes; absent pages nothing', () => {
  using chain = new PageChain(parentDir(), 7);
  const plan = planPages({
    present: ranges([1, 5], [8, 9]),
    known: [{ start: 0, end: 6 * P }],
    written: [
      { start: 2 * P, end: 3 * P },
      { start: 5 * P, end: 7 * P },
    ],
    parent: chain,
  });
  // 2 written; 4 not in the parent; 8 outside the known ranges; 5-6 written but not present: nothing
  assert.deepEqual(list(plan.data), [
    [2, 3],
    [4, 5],
    [8, 9],
  ]);
  assert.deepEqual(list(plan.holes), [
    [1, 2],
    [3, 4],
  ]);
  // without a parent everything present is data
  const full = planPages({ present: ranges([1, 5]), known: [{ start: 0, end: 6 * P }], written: [] });
  assert.deepEqual(list(full.data), [[1, 5]]);
  assert.equal(full.holes.pages, 0);
});

test('writePlannedPages interleaves holes with data in ascending order', async () => {
  const calls: string[] = [];
  const sink = new NullSink();
  sink.addPages = (va: number, n: number) => void calls.push(`data ${va / P}+${n}`);
  sink.addHole = (va: number, n: number) => void calls.push(`hole ${va / P}+${n}`);
  const reader = {
    async read(r: PageRanges, out: PageConsumer) {
      for (let i = 0; i < r.length; i++) {
        const n = (r.ends[i]! - r.starts[i]!) / P;
        out.pages(r.starts[i]!, n, new Uint8Array(n * P));
      }
      await out.flush();
      return { pagesRead: r.pages, pagesUnreadable: 0, calls: 1, faults: 0, readNs: 0, writeNs: 0 };
    },
  } as unknown as PageReader;
  const st = await writePlannedPages(reader, sink, {
    data: ranges([2, 3], [6, 7]),
    holes: ranges([0, 2], [3, 5], [9, 10]),
  });
  assert.deepEqual(calls, ['hole 0+2', 'data 2+1', 'hole 3+2', 'data 6+1', 'hole 9+1']);
  assert.equal(st.holePages, 5);
  assert.equal(st.pagesRead, 2);
});

test('planPages: random lists give, page by page, what the rule says (data, hole or nothing)', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const N = 400;
  const randomSet = (density: number) => {
    const pages: boolean[] = [];
    for (let p = 0; p < N; p++) pages.push(rand(100) < density);
    return pages;
  };
  const toList = (set: boolean[]) => {
    const out: { start: number; end: number }[] = [];
    for (let p = 0; p < N; p++) {
      if (!set[p]) continue;
      const last = out[out.length - 1];
      if (last && last.end === p * P) last.end = (p + 1) * P;
      else out.push({ start: p * P, end: (p + 1) * P });
    }
    return out;
  };
  for (let round = 0; round < 30; round++) {
    const present = randomSet(80);
    const known = randomSet(70);
    const written = randomSet(20);
    const covered = randomSet(85);
    const pr = new PageRanges();
    for (const r of toList(present)) pr.push(r.start, r.end);
    const plan = planPages({
      present: pr,
      known: toList(known),
      written: toList(written),
      covered: toList(covered),
    });
    const inList = (r: PageRanges, p: number) => r.starts.some((s, i) => s <= p * P && p * P < r.ends[i]!);
    for (let p = 0; p < N; p++) {
      const want = !present[p] ? 'none' : known[p] && !written[p] && covered[p] ? 'hole' : 'data';
      const got = inList(plan.data, p) ? 'data' : inList(plan.holes, p) ? 'hole' : 'none';
      assert.equal(got, want, `round ${round}, page ${p}`);
    }
  }
});
