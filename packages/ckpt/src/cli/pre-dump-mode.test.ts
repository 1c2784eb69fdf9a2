/**
 * `ckpt pre-dump --pre-dump-mode splice|read` and `ckpt pre-dump --page-server` chains, through the real
 * CLI on real processes: a splice pre-dump that crit decodes and whose pages equal memory with the target
 * left running; the flag combinations splice cannot do (one line each); `--iterations` and a separate
 * `--prev-images-dir` run against a `--daemon` page server in this process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PreDumpResult } from '../dump/index.js';
import { ImageDir, PageChain } from '../images/index.js';
import { uffdWpUnsupportedReason } from '../mem/index.js';
import { addressOf, IovecArray, PAGE_SIZE, processVmReadv } from '../sys/index.js';
import { Fixture, runCkpt, runCkptAsync, Scratch, skipUnlessAvailable } from '../testing/index.js';
import { PageServer } from '../xfer/page-server.js';
import { verifyImages } from './verify.js';

const { root, fixtures } = new Scratch('ckpt-mode-test-');

const critProbe = spawnSync('crit', ['--help'], { encoding: 'utf8' });
const noCrit = skipUnlessAvailable('crit', critProbe.status === 0 ? false : 'crit is not installed');
const noUffd = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());

async function staticFixture(): Promise<Fixture> {
  const f = await Fixture.start('static', ['8']);
  fixtures.push(f);
  return f;
}

/** Pages of the fixture's static region: how many the chain holds, and how many differ from memory. */
function compareRegion(f: Fixture, dir: string): { pages: number; mismatched: number } {
  const base = f.num('base');
  const len = f.num('len');
  using chain = new PageChain(ImageDir.open(dir), f.pid);
  const mem = Buffer.alloc(PAGE_SIZE);
  const local = new IovecArray(1);
  const remote = new IovecArray(1);
  let pages = 0;
  let mismatched = 0;
  for (let va = base; va < base + len; va += PAGE_SIZE) {
    const img = chain.page(va);
    if (img === 'absent') continue;
    local.clear();
    remote.clear();
    local.push(addressOf(mem), PAGE_SIZE);
    remote.push(va, PAGE_SIZE);
    assert.equal(processVmReadv(f.pid, local, remote), PAGE_SIZE);
    pages++;
    if (!mem.equals(img)) mismatched++;
  }
  return { pages, mismatched };
}

describe('--pre-dump-mode', () => {
  it('splice: crit decodes the images, the pages equal memory, the target keeps running', {
    skip: noCrit,
  }, async () => {
    const f = await staticFixture();
    const dir = join(root, 'splice');
    const r = runCkpt(['pre-dump', '-t', String(f.pid), '-D', dir, '--pre-dump-mode', 'splice', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim()) as PreDumpResult & { splice?: { pipes: number } };
    assert.ok(res.splice && res.splice.pipes > 0, 'splice figures in --json');
    assert.equal(res.frozen, true);
    assert.ok(res.pagesWritten >= 2048, `${res.pagesWritten} pages`);
    const inv = spawnSync('crit', ['decode', '-i', join(dir, 'inventory.img')], { encoding: 'utf8' });
    assert.equal(inv.status, 0, inv.stderr);
    assert.equal(JSON.parse(inv.stdout).entries[0].pre_dump_mode, 1, 'pre_dump_mode splice');
    const pm = spawnSync('crit', ['decode', '-i', join(dir, `pagemap-${f.pid}.img`)], { encoding: 'utf8' });
    assert.equal(pm.status, 0, pm.stderr);
    const entries = JSON.parse(pm.stdout).entries as { nr_pages?: number }[];
    assert.equal(
      entries.reduce((n, e) => n + (e.nr_pages ?? 0), 0),
      res.pagesWritten,
    );
    assert.doesNotMatch(f.state(), /^[TtZ]$/);
    const cmp = compareRegion(f, dir);
    assert.equal(cmp.pages, 2048);
    assert.equal(cmp.mismatched, 0);
    assert.deepEqual(verifyImages(dir).problems, []);

    const text = runCkpt([
      'pre-dump',
      '-t',
      String(f.pid),
      '-D',
      join(root, 'splice2'),
      '--pre-dump-mode',
      'splice',
    ]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^pre-dump of \d+: .*\nsplice: \d+ pipes .*target frozen [\d.]+ ms\n$/);
  });

  it('read stays the default; splice refuses what it cannot do with one line', async () => {
    const f = await staticFixture();
    const read = runCkpt([
      'pre-dump',
      '-t',
      String(f.pid),
      '-D',
      join(root, 'read'),
      '--pre-dump-mode',
      'read',
    ]);
    assert.equal(read.status, 0, read.stderr);
    const inv = ImageDir.open(join(root, 'read')).inventory();
    assert.equal(inv.pre_dump_mode, 2, 'read mode');
    for (const extra of [
      ['--iterations', '2'],
      ['--prev-images-dir', '../read'],
      ['--track-mem', 'uffd-wp'],
    ]) {
      const r = runCkpt([
        'pre-dump',
        '-t',
        String(f.pid),
        '-D',
        join(root, 'bad'),
        '--pre-dump-mode',
        'splice',
        ...extra,
      ]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /^ckpt: --pre-dump-mode splice .*\n$/, r.stderr);
    }
    const bad = runCkpt([
      'pre-dump',
      '-t',
      String(f.pid),
      '-D',
      join(root, 'bad'),
      '--pre-dump-mode',
      'mmap',
    ]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /argument 'mmap' is invalid\. Allowed choices are read, splice/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(existsSync(join(root, 'bad', 'inventory.img')), false);
  });
});

describe('pre-dump --page-server chains through the CLI', () => {
  it('a process tree goes in one session (one OPEN2 per process, one CLOSE)', async () => {
    const f = await Fixture.start('mt', ['2', '1', '2']);
    fixtures.push(f);
    const srv = join(root, 'tree-srv');
    const server = await PageServer.listen({ dir: srv, address: '127.0.0.1', port: 0 });
    const ps = ['--page-server', '--address', '127.0.0.1', '--port', String(server.port)];
    const out = await runCkptAsync(['pre-dump', '-t', String(f.pid), '-D', join(root, 'tree'), ...ps]);
    assert.match(out.stdout, /^pre-dump of \d+ and 2 descendants: .* -> page server 127\.0\.0\.1:\d+ /);
    const [rep] = await server.finished;
    assert.equal(rep!.ok, true, rep!.error?.message);
    for (const pid of [f.pid, f.num('child0'), f.num('child1')]) {
      assert.ok(existsSync(join(srv, `pagemap-${pid}.img`)), `pagemap of ${pid}`);
    }
    assert.ok(existsSync(join(root, 'tree', 'inventory.img')));
    assert.deepEqual(verifyImages(srv).problems, []);
  });

  it('--iterations 3 then a --prev-images-dir run with --freeze, into a --daemon server', {
    skip: noUffd,
  }, async () => {
    const f = await staticFixture();
    const srv = join(root, 'srv');
    const server = await PageServer.listen({ dir: srv, address: '127.0.0.1', port: 0, daemon: true });
    const ps = ['--page-server', '--address', '127.0.0.1', '--port', String(server.port)];
    try {
      const it3 = await runCkptAsync([
        'pre-dump',
        '-t',
        String(f.pid),
        '-D',
        join(root, 'it'),
        ...ps,
        '--iterations',
        '3',
        '--interval',
        '50',
        '--json',
      ]);
      const rs = it3.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as PreDumpResult);
      assert.equal(rs.length, 3);
      assert.equal(rs[0]!.pagesSkippedParent, 0);
      assert.ok(rs[2]!.pagesSkippedParent! >= 2048, `${rs[2]!.pagesSkippedParent} hole pages`);
      const end = await runCkptAsync([
        'pre-dump',
        '-t',
        String(f.pid),
        '-D',
        join(root, 'it-end'),
        '--prev-images-dir',
        '../it/3',
        ...ps,
        '--freeze',
      ]);
      assert.match(
        end.stdout,
        /-> page server 127\.0\.0\.1:\d+ .*\ntracking: uffd-wp .*: incremental; \d+ pages left to the parent/,
      );
    } finally {
      await server.close();
    }
    const reports = await server.finished;
    assert.deepEqual(
      reports.map((r) => r.ok),
      [true, true, true, true],
    );
    assert.equal(readlinkSync(join(srv, '4', 'parent')), '../3');
    assert.ok(existsSync(join(root, 'it', '3', 'ckpt-sent.json')));
    assert.deepEqual(verifyImages(join(srv, '4')).problems, []);
    const cmp = compareRegion(f, join(srv, '4'));
    assert.equal(cmp.pages, 2048);
    assert.equal(cmp.mismatched, 0);
    assert.ok(readFileSync(join(root, 'it-end', 'ckpt-sent.json'), 'utf8').includes(String(f.pid)));
  });
});
