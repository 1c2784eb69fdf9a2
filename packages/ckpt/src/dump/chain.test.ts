/**
 * Chains of pre-dumps with memory tracking, end to end on the writer fixture (pseudo-random page writes
 * by several threads at a known rate): separate `ckpt pre-dump` runs chained with --prev-images-dir, and
 * `--iterations` in one run, then a final frozen pre-dump that ends the chain. Inside that frozen window
 * (afterCommit hook: the target cannot run) every page resolved through the chain must equal the target's
 * memory, and every present page must be in the chain. mmap, munmap, mremap and MADV_DONTNEED happen
 * between iterations. Rounds: 3 (CKPT_STRESS=1: 20). Last, the frozen path: the copy held in memory until
 * the thaw (and its cap), and the chain index (ckpt-index.json) against the pagemaps it replaces.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readlinkSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CHAIN_INDEX_FILE,
  chainCoverage,
  checkImageChain,
  ImageDir,
  INCOMPLETE_MARKER,
  PageChain,
  readChainIndex,
} from '../images/index.js';
import { softDirtyUnsupportedReason, uffdWpUnsupportedReason } from '../mem/index.js';
import { addressOf, IovecArray, PAGE_SIZE, processVmReadv } from '../sys/index.js';
import {
  CKPT_BIN,
  countUserfaultfds,
  runCkpt,
  Scratch,
  skipUnlessAvailable,
  Writer,
} from '../testing/index.js';
import { type ChainCheckResult, checkChain } from './chain-check.js';
import { DumpError } from './errors.js';
import { preDumpIterations } from './iterations.js';
import { preDump } from './pre-dump.js';
import type { PreDumpResult } from './stats.js';
import { TRACK_STATE_FILE } from './track-state.js';

const ROUNDS = process.env.CKPT_STRESS === '1' ? 20 : 3;
const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
const scratch = new Scratch('ckpt-chain-test-');
const { root } = scratch;

function cliJson(args: string[]): PreDumpResult {
  const r = runCkpt([...args, '--json']);
  assert.equal(r.status, 0, `ckpt ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PreDumpResult;
}

/** Memory changes between iterations: new, unmapped, moved mappings, dropped pages, writes. */
async function churn(w: Writer, k: number, maps: number[]): Promise<void> {
  maps.push(await w.addr('m 32'));
  if (maps.length > 2) await w.cmd(`u ${maps[0]! + 4 * PAGE_SIZE} 4`); // a hole in an older mapping
  if (maps.length > 3) maps[1] = await w.addr(`r ${maps[1]} 32`); // moved elsewhere
  await w.cmd(`d ${k * 100} 50`); // MADV_DONTNEED part of the region
  await w.cmd(`w 300`);
}

/** The chain's end, frozen, with the comparison inside the frozen window. */
async function endChain(
  pid: number,
  dir: string,
  prev: string,
  o: { holdCap?: number; bufferSize?: number; preCopyPasses?: number } = {},
) {
  let cmp: ChainCheckResult | undefined;
  const r = await preDump({
    ...o,
    pid,
    imagesDir: dir,
    prevImagesDir: prev,
    trackMem: 'auto',
    freeze: true,
    afterCommit: () => {
      cmp = checkChain(pid, dir);
    },
  });
  assert.ok(cmp);
  return { r, cmp };
}

function assertExact(cmp: ChainCheckResult, r: PreDumpResult): void {
  assert.equal(
    cmp.mismatched,
    0,
    `${cmp.mismatched} of ${cmp.pages} pages differ from the frozen memory: ${cmp.firstBad.map((va) => `0x${va.toString(16)}`).join(', ')}`,
  );
  assert.equal(cmp.missing, 0, `${cmp.missing} present pages are missing from the chain`);
  assert.ok(cmp.pages > 4096);
  assert.equal(r.tracking?.incremental, 1);
  assert.ok((r.pagesSkippedParent ?? 0) > 0, 'the final pre-dump left nothing to its parent');
}

for (let round = 1; round <= ROUNDS; round++) {
  test(`chain of 5 CLI pre-dumps + frozen end equals the frozen memory (round ${round})`, {
    skip: noUffd ?? false,
  }, async () => {
    const w = await Writer.start(scratch, 32, 3, 4000, false);
    const base = join(root, `cli-${round}`);
    const first = cliJson(['pre-dump', '-t', String(w.pid), '-D', join(base, '1'), '--track-mem', 'auto']);
    assert.equal(first.tracking?.kind, 'uffd-wp');
    assert.equal(first.tracking?.full, 1);
    assert.ok(existsSync(join(base, '1', TRACK_STATE_FILE)));
    const maps: number[] = [];
    for (let k = 2; k <= 5; k++) {
      await churn(w, k, maps);
      const r = cliJson([
        'pre-dump',
        '-t',
        String(w.pid),
        '-D',
        join(base, String(k)),
        '--prev-images-dir',
        `../${k - 1}`,
      ]);
      assert.equal(r.tracking?.incremental, 1, JSON.stringify(r.tracking));
      assert.equal(r.stoppedTime, 0, 'a later iteration stopped the target');
      assert.ok(r.pagesWritten < first.pagesWritten, `iteration ${k} wrote ${r.pagesWritten} pages`);
      assert.ok((r.pagesSkippedParent ?? 0) > 0);
    }
    assert.equal(countUserfaultfds(w.pid), 1); // kept in the target between runs
    await churn(w, 6, maps);
    const { r, cmp } = await endChain(w.pid, join(base, '6'), '../5');
    assertExact(cmp, r);
    assert.equal(countUserfaultfds(w.pid), 0, 'the chain end left the userfaultfd in the target');
    assert.equal(existsSync(join(base, '6', TRACK_STATE_FILE)), false);
    assert.match(w.f.state(), /^[SR]$/);
    w.f.kill();
  });
}

test('--iterations in one run, then a frozen end: exact', { skip: noUffd ?? false }, async () => {
  for (let round = 1; round <= Math.max(1, ROUNDS / 3); round++) {
    const w = await Writer.start(scratch, 32, 2, 4000, false);
    const base = join(root, `iter-${round}`);
    const r = runCkpt([
      'pre-dump',
      '-t',
      String(w.pid),
      '-D',
      base,
      '--iterations',
      '4',
      '--interval',
      '150',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('tracking: uffd-wp')).length, 4, r.stdout);
    assert.match(lines[3]!, /: incremental;/);
    for (let k = 1; k <= 4; k++) assert.ok(existsSync(join(base, String(k), 'inventory.img')));
    assert.equal(readlinkSync(join(base, '3', 'parent')), '../2');
    assert.ok(existsSync(join(base, '4', TRACK_STATE_FILE)));
    assert.equal(existsSync(join(base, '3', TRACK_STATE_FILE)), false);
    await churn(w, 2, []);
    const { r: end, cmp } = await endChain(w.pid, join(base, '5'), '../4');
    assertExact(cmp, end);
    w.f.kill();
  }
});

test('the CLI --freeze pre-dump ends the chain: the paused writer region is exact', {
  skip: noUffd ?? false,
}, async () => {
  const w = await Writer.start(scratch, 16, 2, 4000, false);
  const base = join(root, 'cli-freeze');
  cliJson(['pre-dump', '-t', String(w.pid), '-D', join(base, '1')]);
  await w.cmd('w 500');
  cliJson(['pre-dump', '-t', String(w.pid), '-D', join(base, '2'), '--prev-images-dir', '../1']);
  await w.cmd('p 0'); // the writers stop writing the region (the heartbeat goes on)
  await w.cmd('w 200');
  const end = cliJson([
    'pre-dump',
    '-t',
    String(w.pid),
    '-D',
    join(base, '3'),
    '--prev-images-dir',
    '../2',
    '--freeze',
  ]);
  assert.equal(end.tracking?.incremental, 1);
  assert.equal(countUserfaultfds(w.pid), 0);
  const b = w.f.num('base');
  const n = w.f.num('len') / PAGE_SIZE;
  using chain = new PageChain(ImageDir.open(join(base, '3')), w.pid);
  const mem = Buffer.alloc(PAGE_SIZE);
  const local = new IovecArray(1);
  const remote = new IovecArray(1);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const page = chain.page(b + i * PAGE_SIZE);
    local.clear();
    remote.clear();
    local.push(addressOf(mem), PAGE_SIZE);
    remote.push(b + i * PAGE_SIZE, PAGE_SIZE);
    processVmReadv(w.pid, local, remote);
    if (page === 'absent' ? !mem.equals(Buffer.alloc(PAGE_SIZE)) : !page.equals(mem)) bad++;
  }
  assert.equal(bad, 0);

  // crit decodes every image of the chain; ckpt show --pages resolves through it
  const crit = spawnSync('crit', ['--help'], { encoding: 'utf8' });
  if (crit.error === undefined) {
    for (const k of ['1', '2', '3']) {
      for (const name of readdirSync(join(base, k))) {
        if (!/\.img$|^stats-dump$|^irmap-cache$/.test(name) || name.startsWith('pages-')) continue;
        const r = spawnSync('crit', ['decode', '-i', join(base, k, name)], { encoding: 'utf8' });
        assert.equal(r.status, 0, `crit decode ${k}/${name}: ${r.stderr}`);
      }
    }
  }
  const show = runCkpt(['show', join(base, '3'), '--pages', '--json']);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /"where":\s*"parent"/);
  const verify = runCkpt(['verify', join(base, '3')]);
  assert.equal(verify.status, 0, verify.stderr + verify.stdout);
  w.f.kill();
});

test('a target that exits between iterations: one clean line, the iteration marked incomplete', {
  skip: noUffd ?? false,
}, async () => {
  const w = await Writer.start(scratch, 8, 1, 1000, false);
  const base = join(root, 'exit');
  cliJson(['pre-dump', '-t', String(w.pid), '-D', join(base, '1')]);
  w.f.kill();
  const r = runCkpt(['pre-dump', '-t', String(w.pid), '-D', join(base, '2'), '--prev-images-dir', '../1']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^ckpt: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  const w2 = await Writer.start(scratch, 8, 1, 1000, false);
  const base2 = join(root, 'exit-iter');
  const killer = setInterval(() => {
    if (existsSync(join(base2, '1', 'inventory.img'))) {
      w2.f.kill();
      clearInterval(killer);
    }
  }, 20);
  const r2 = await new Promise<{ status: number | null; stderr: string }>((res) => {
    const c = spawn(process.execPath, [
      CKPT_BIN,
      'pre-dump',
      '-t',
      String(w2.pid),
      '-D',
      base2,
      '--iterations',
      '5',
      '--interval',
      '400',
    ]);
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    c.on('close', (status) => res({ status, stderr }));
  });
  clearInterval(killer);
  assert.equal(r2.status, 1, r2.stderr);
  assert.equal(r2.stderr.trim().split('\n').length, 1, r2.stderr);
  assert.doesNotMatch(r2.stderr, /internal error|\n\s+at /);
  assert.ok(existsSync(join(base2, '2', INCOMPLETE_MARKER)), 'iteration 2 not marked incomplete');
});

test('--track-mem soft-dirty on a kernel without it is one clean line', {
  skip: softDirtyUnsupportedReason() === null ? 'this kernel has soft-dirty' : false,
}, async () => {
  const w = await Writer.start(scratch, 4, 1, 0, false);
  const r = runCkpt(['pre-dump', '-t', String(w.pid), '-D', join(root, 'sd'), '--track-mem', 'soft-dirty']);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^ckpt: .*soft-dirty/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.equal(existsSync(join(root, 'sd', 'inventory.img')), false, 'no complete image set');
});

test('tracking state: used once; a missing or foreign state means a full dump that says why', {
  skip: noUffd ?? false,
}, async () => {
  const w = await Writer.start(scratch, 8, 1, 500, false);
  const base = join(root, 'state');
  const pid = String(w.pid);
  cliJson(['pre-dump', '-t', pid, '-D', join(base, '1')]);
  const two = cliJson(['pre-dump', '-t', pid, '-D', join(base, '2'), '--prev-images-dir', '../1']);
  assert.equal(two.tracking?.incremental, 1);
  // a retry from the same parent must not resume the state a second time
  const again = runCkpt(['pre-dump', '-t', pid, '-D', join(base, '2b'), '--prev-images-dir', '../1']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /tracking: uffd-wp .*: full;.*already used/);
  // a state that is not ours
  appendFileSync(join(base, '2', TRACK_STATE_FILE), 'garbage');
  const bad = cliJson(['pre-dump', '-t', pid, '-D', join(base, '3'), '--prev-images-dir', '../2']);
  assert.equal(bad.tracking?.full, 1);
  assert.match(bad.tracking?.fallbacks.join() ?? '', /not ours/);
  // every image of the chain still verifies (crit and ckpt ignore ckpt-track*.json)
  for (const k of ['1', '2', '3']) {
    const v = runCkpt(['verify', join(base, k)]);
    assert.equal(v.status, 0, v.stderr + v.stdout);
  }
  w.f.kill();
});

// The frozen path: the copy held in memory until the thaw (its cap), and the chain index.

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
    const { r, cmp } = await endChain(w.pid, join(base, '2'), '../1', {
      holdCap: cap,
      bufferSize: 64 << 10,
      preCopyPasses: 0, // the window copies all that was written (pre-copy.test.ts: with passes)
    });
    assert.equal(cmp.mismatched + cmp.missing, 0, name);
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
  const { r, cmp } = await endChain(w.pid, join(base, '9'), '../8');
  assert.equal(cmp.mismatched + cmp.missing, 0);
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
