import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { readMaps } from '../proc/index.js';
import { PAGE_SIZE } from '../sys/index.js';
import { Fixture } from '../testing/index.js';
import { findPages, PageRanges } from './pages.js';
import { type PageConsumer, PageReader } from './read.js';
import { planVmas } from './vma.js';

const fixtures: Fixture[] = [];
after(() => {
  // kill first (a failed assertion must not leave fixtures running), then check none was left stopped
  const states = fixtures.map((f) => f.state());
  for (const f of fixtures) f.kill();
  rmSync(`/tmp/ckpt-guard-r-${process.pid}`, { force: true }); // the guard fixture's file
  for (const s of states) assert.doesNotMatch(s, /^[Tt]$/, 'fixture left stopped');
});

const M64 = (1n << 64n) - 1n;

/** fixture.h's fill_page, recomputed: the expected bytes of the page at `addr` written with `seed`. */
export function expectedPage(addr: number, seed: number): Buffer {
  const out = Buffer.alloc(PAGE_SIZE);
  let x = (BigInt(addr) ^ ((BigInt(seed) * 0x9e3779b97f4a7c15n) & M64)) & M64;
  for (let i = 0; i < PAGE_SIZE / 8; i++) {
    x ^= (x << 13n) & M64;
    x ^= x >> 7n;
    x ^= (x << 17n) & M64;
    out.writeBigUInt64LE(x, i * 8);
  }
  out.writeBigUInt64LE(BigInt(addr), 0);
  out.writeBigUInt64LE(BigInt(seed), 8);
  return out;
}

/** Collects pieces: checks each page's first word (its address) and keeps a few pages for full checks. */
class Collector {
  pages = 0;
  flushes = 0;
  readonly seen = new Map<number, Buffer>();
  constructor(
    private readonly inside: (addr: number) => boolean,
    private readonly keepEvery = 97,
  ) {}
  private take(vaddr: number, n: number, bytes: Uint8Array): void {
    assert.equal(bytes.length, n * PAGE_SIZE);
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) {
      const addr = vaddr + i * PAGE_SIZE;
      if (this.inside(addr)) {
        assert.equal(Number(b.readBigUInt64LE(i * PAGE_SIZE)), addr, `page 0x${addr.toString(16)}`);
        if ((this.pages + i) % this.keepEvery === 0)
          this.seen.set(addr, Buffer.from(b.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)));
      }
    }
    this.pages += n;
  }
  get consumer(): PageConsumer {
    return {
      pages: (vaddr, n, bytes) => this.take(vaddr, n, bytes),
      flush: () => {
        this.flushes++;
      },
    };
  }
}

test('reads every present page of a static target, in buffers of the given size', async () => {
  const f = await Fixture.start('static', ['32']);
  fixtures.push(f);
  const base = f.num('base');
  const len = f.num('len');
  const found = findPages(f.pid, planVmas(readMaps(f.pid)));
  using reader = new PageReader(f.pid, { bufferSize: 256 * 1024 });
  const c = new Collector((a) => a >= base && a < base + len);
  const st = await reader.read(found.ranges, c.consumer);
  assert.equal(st.pagesRead, found.ranges.pages);
  assert.equal(st.pagesUnreadable, 0);
  assert.equal(c.pages, found.ranges.pages);
  assert.ok(c.flushes >= len / (256 * 1024), 'one flush per buffer');
  assert.ok(c.seen.size > 50);
  for (const [addr, page] of c.seen) assert.deepEqual(page, expectedPage(addr, 1));
});

test('a range that cannot be read is skipped, never delivered; the rest is read', async () => {
  const f = await Fixture.start('guard', [`/tmp/ckpt-guard-r-${process.pid}`]);
  fixtures.push(f);
  const P = PAGE_SIZE;
  const anon = f.num('anon');
  const hidden = f.num('hidden'); // present but PROT_NONE: process_vm_readv faults there
  const r = new PageRanges();
  const pieces: [number, number][] = [
    [anon, anon + 4 * P],
    [hidden, hidden + 16 * P],
    [anon + 8 * P, anon + 12 * P],
  ];
  pieces.sort((a, b) => a[0] - b[0]);
  for (const [a, b] of pieces) r.push(a, b);
  using reader = new PageReader(f.pid, { bufferSize: 1 << 20 });
  const got: number[] = [];
  const st = await reader.read(r, {
    pages: (va, n, bytes) => {
      for (let i = 0; i < n; i++) {
        got.push(va + i * P);
        assert.deepEqual(Buffer.from(bytes.subarray(i * P, (i + 1) * P)), expectedPage(va + i * P, 1));
      }
    },
    flush: () => {},
  });
  assert.equal(st.pagesRead, 8);
  assert.equal(st.pagesUnreadable, 16);
  assert.ok(st.faults >= 1);
  assert.ok(!got.some((a) => a >= hidden && a < hidden + 16 * P), 'no unreadable page delivered');
});

test('a target that unmaps and remaps memory while being read: every page delivered is a real page', async () => {
  const f = await Fixture.start('munmapper', ['64', '16']);
  fixtures.push(f);
  const base = f.num('base');
  const len = f.num('len');
  let totalFaults = 0;
  for (let round = 0; round < 5; round++) {
    const found = findPages(f.pid, planVmas(readMaps(f.pid)));
    using reader = new PageReader(f.pid, { bufferSize: 64 * 1024 });
    let delivered = 0;
    const st = await reader.read(found.ranges, {
      pages: (va, n, bytes) => {
        const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
        for (let i = 0; i < n; i++) {
          const addr = va + i * PAGE_SIZE;
          if (addr < base || addr >= base + len) continue;
          const w0 = Number(b.readBigUInt64LE(i * PAGE_SIZE));
          // a page being refilled may still be zero-filled or half written; never another page's data
          assert.ok(w0 === addr || w0 === 0, `page 0x${addr.toString(16)} holds word0 0x${w0.toString(16)}`);
        }
        delivered += n;
      },
      flush: () => {},
    });
    assert.equal(delivered, st.pagesRead);
    assert.equal(st.pagesRead + st.pagesUnreadable, found.ranges.pages);
    totalFaults += st.faults;
  }
  assert.equal(f.state() === '' ? 'gone' : 'alive', 'alive');
  void totalFaults; // how often the race is hit depends on timing: not asserted
});

test('ESRCH when the target is gone', async () => {
  const f = await Fixture.start('static', ['4']);
  const found = findPages(f.pid, planVmas(readMaps(f.pid)));
  f.kill();
  using reader = new PageReader(f.pid);
  await assert.rejects(reader.read(found.ranges, { pages: () => {}, flush: () => {} }), { code: 'ESRCH' });
});

test('an asynchronous consumer gets the buffers in rotation; each stays intact until its flush settles', async () => {
  const f = await Fixture.start('static', ['8']);
  fixtures.push(f);
  const base = f.num('base');
  const len = f.num('len');
  const found = findPages(f.pid, planVmas(readMaps(f.pid)));
  using reader = new PageReader(f.pid, { bufferSize: 64 * 1024, buffers: 2 });
  let batch: { va: number; n: number; bytes: Uint8Array }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let pages = 0;
  let checked = 0;
  const st = await reader.read(found.ranges, {
    pages: (va, n, bytes) => {
      batch.push({ va, n, bytes });
      pages += n;
    },
    flush: () => {
      const mine = batch;
      batch = [];
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // "written" a turn later: the bytes must still be the pages they were handed as
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          for (const p of mine) {
            const b = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.length);
            for (let i = 0; i < p.n; i++) {
              const addr = p.va + i * PAGE_SIZE;
              if (addr < base || addr >= base + len) continue;
              assert.equal(Number(b.readBigUInt64LE(i * PAGE_SIZE)), addr);
              checked++;
            }
          }
          inFlight--;
          resolve();
        }),
      );
    },
  });
  assert.equal(st.pagesRead, found.ranges.pages);
  assert.equal(pages, found.ranges.pages);
  assert.equal(checked, len / PAGE_SIZE);
  assert.equal(inFlight, 0, 'read() returns once every flush settled');
  assert.equal(maxInFlight, 2, 'the next buffer is read while the previous one is written');
  assert.equal(reader.buffersInUse, 2);
});

test('a failing flush fails read() (once nothing is in flight); a synchronous consumer uses one buffer', async () => {
  const f = await Fixture.start('static', ['4']);
  fixtures.push(f);
  const found = findPages(f.pid, planVmas(readMaps(f.pid)));
  using reader = new PageReader(f.pid, { bufferSize: 64 * 1024, buffers: 3 });
  let settled = 0;
  let flushes = 0;
  await assert.rejects(
    reader.read(found.ranges, {
      pages: () => {},
      flush: () => {
        const k = flushes++;
        return new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            settled++;
            if (k === 2) reject(new Error('disk full'));
            else resolve();
          }),
        );
      },
    }),
    /disk full/,
  );
  assert.equal(settled, flushes, 'no flush left in flight');
  using one = new PageReader(f.pid, { bufferSize: 64 * 1024, buffers: 3 });
  await one.read(found.ranges, { pages: () => {}, flush: () => {} });
  assert.equal(one.buffersInUse, 1);
});
