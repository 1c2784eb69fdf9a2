import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { freeze, Injector } from '../ptrace/index.js';
import { nofileLimit, PAGE_SIZE, raiseNofileLimit } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { PageRanges } from './pages.js';
import { pipeMaxSize, spliceToPipes } from './splice.js';

const guardFile = `/tmp/ckpt-guard-m-${process.pid}`;
const fixtures: Fixture[] = [];
after(() => {
  for (const f of fixtures) f.kill();
  rmSync(guardFile, { force: true });
});

const fdCount = (pid: number | 'self') => readdirSync(`/proc/${pid}/fd`).length;

test('pipe-max-size and RLIMIT_NOFILE', () => {
  assert.equal(pipeMaxSize(), Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8')));
  const l = raiseNofileLimit();
  assert.equal(l.soft, l.hard);
  assert.deepEqual(nofileLimit(), l);
});

test('unreadable pages in the ranges are left out one by one; the rest is spliced in order', async () => {
  const f = await Fixture.start('guard', [guardFile]);
  fixtures.push(f);
  const anon = f.num('anon');
  const hidden = f.num('hidden');
  const file = f.num('file');
  const spans = [
    [anon, anon + 64 * PAGE_SIZE],
    [hidden, hidden + 16 * PAGE_SIZE], // PROT_NONE: vmsplice faults
    [file, file + 8 * PAGE_SIZE],
  ].sort((a, b) => a[0]! - b[0]!);
  const ranges = new PageRanges();
  for (const [a, b] of spans) ranges.push(a!, b!);
  const fds = fdCount(f.pid);
  const ours = fdCount('self');
  const frozen = freeze(f.pid);
  let result: ReturnType<typeof spliceToPipes>;
  try {
    const inj = Injector.infect(frozen);
    try {
      result = spliceToPipes(inj, ranges, { pipeSize: 4 * PAGE_SIZE, pipesPerRound: 3 });
    } finally {
      inj.cure();
    }
  } finally {
    frozen.thaw();
  }
  const { pages, stats } = result;
  assert.equal(fdCount(f.pid), fds, 'no fd left in the target');
  assert.equal(pages.pagesSkipped, 16);
  assert.equal(pages.pages, 72);
  assert.equal(stats.pipes, 18);
  assert.equal(stats.pipeSize, 4 * PAGE_SIZE);
  assert.equal(pages.openPipes, 18);
  const seen: number[] = [];
  await pages.drain({
    pages: (va, n, bytes) => {
      for (let i = 0; i < n; i++) {
        const page = bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
        const w = Buffer.from(page.buffer, page.byteOffset, 16);
        assert.equal(Number(w.readBigUInt64LE(0)), va + i * PAGE_SIZE, 'word 0 is the page address');
        assert.equal(Number(w.readBigUInt64LE(8)), 1, 'seed');
        seen.push(va + i * PAGE_SIZE);
      }
    },
    flush: () => {},
  });
  assert.equal(seen.length, 72);
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'ascending',
  );
  assert.ok(seen.every((va) => va < hidden || va >= hidden + 16 * PAGE_SIZE));
  assert.equal(pages.openPipes, 0);
  assert.equal(pages.heldBytes, 0);
  assert.equal(pages.peakBytes, 72 * PAGE_SIZE);
  pages.close(); // twice is fine
  assert.equal(fdCount('self'), ours, 'every pipe closed on our side');
});
