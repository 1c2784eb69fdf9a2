import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PAGE_SIZE } from '../sys/constants.js';
import { ImageError } from './errors.js';
import { ImageDir } from './image-dir.js';
import { decodeImage } from './image-file.js';
import { decodeInventoryImage, encodeInventoryImage } from './inventory.js';
import { decodeIrmapCache, encodeIrmapCache } from './irmap-cache.js';
import { PE } from './magics.js';
import { resolvePage } from './page-chain.js';
import { decodePagemapImage, encodePagemapImage, pagemapEntry } from './pagemap.js';
import { PagemapReader } from './pagemap-reader.js';
import { decodeStatsImage, encodeStatsImage } from './stats.js';

const CODES = new Set(['TRUNCATED', 'BAD_MAGIC', 'CORRUPT_IMAGE', 'TRAILING_BYTES']);

/** xorshift32: a reproducible stream of random numbers. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const valid: Buffer[] = [
  encodeInventoryImage({
    img_version: 2,
    fdinfo_per_id: true,
    root_ids: { vm_id: 1, files_id: 2, fs_id: 3, sighand_id: 4, pid_ns_id: 5 },
    dump_uptime: 123_456_789,
    pre_dump_mode: 2,
    plugins_entry: { plugins: ['a'] },
    dump_criu_run_id: 'run',
  }),
  encodePagemapImage({
    head: { pages_id: 1 },
    entries: [
      pagemapEntry(0x7f0000000000, 3, PE.PRESENT),
      pagemapEntry(0x7f0000003000, 2, PE.PARENT),
      pagemapEntry(0x7f0000005000, 1, PE.LAZY | PE.PRESENT),
    ],
  }),
  encodeStatsImage({
    dump: {
      freezing_time: 1,
      frozen_time: 2,
      memdump_time: 3,
      memwrite_time: 4,
      pages_scanned: 5,
      pages_skipped_parent: 6,
      pages_written: 7,
      pages_lazy: 8,
      page_pipes: 9,
    },
  }),
  encodeIrmapCache(),
];

const decoders: ((b: Buffer) => unknown)[] = [
  decodeImage,
  decodeInventoryImage,
  decodePagemapImage,
  decodeStatsImage,
  decodeIrmapCache,
  (b) => PagemapReader.fromBytes(b, '/nonexistent'),
];

function mutate(src: Buffer, next: () => number): Buffer {
  const b = Buffer.from(src);
  switch (next() % 6) {
    case 0: // flip bits
      for (let i = next() % 4; i >= 0; i--) b[next() % b.length]! ^= 1 << (next() % 8);
      return b;
    case 1: // truncate
      return b.subarray(0, next() % b.length);
    case 2: // append junk
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + (next() % 9) }, () => next() & 0xff))]);
    case 3: // corrupt a length word or a header word
      b.writeUInt32LE(next(), 4 * (next() % Math.max(1, Math.floor(b.length / 4))));
      return b;
    case 4: // random byte values
      for (let i = next() % 8; i >= 0; i--) b[next() % b.length] = next() & 0xff;
      return b;
    default: // splice two images
      return Buffer.concat([
        b.subarray(0, next() % b.length),
        valid[next() % valid.length]!.subarray(next() % 8),
      ]);
  }
}

test('fuzz: random and mutated images only ever raise ImageError with a known code', {
  timeout: 120_000,
}, () => {
  const seed = Number(process.env.CKPT_FUZZ_SEED ?? 0x5eed1234);
  const next = rng(seed);
  let cases = 0;
  let rejected = 0;
  const codes = new Map<string, number>();
  for (let i = 0; i < 12_000; i++) {
    let input: Buffer;
    if (i % 4 === 0) {
      // random bytes, half of them behind a valid header
      const body = Buffer.from(Array.from({ length: next() % 64 }, () => next() & 0xff));
      input = i % 8 === 0 ? body : Buffer.concat([valid[next() % valid.length]!.subarray(0, 8), body]);
    } else {
      input = mutate(valid[next() % valid.length]!, next);
    }
    for (const decode of decoders) {
      cases++;
      try {
        decode(input);
      } catch (e) {
        rejected++;
        if (!(e instanceof ImageError) || !CODES.has(e.code)) {
          assert.fail(`seed ${seed} case ${i}: ${input.toString('hex')} raised ${String(e)}`);
        }
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
  }
  assert.ok(cases >= 10_000);
  // every kind of rejection showed up, and so did inputs that decode
  for (const code of ['TRUNCATED', 'BAD_MAGIC', 'CORRUPT_IMAGE', 'TRAILING_BYTES'])
    assert.ok(codes.get(code), code);
  assert.ok(rejected < cases);
});

test('fuzz: corrupt images inside a directory chain only ever raise ImageError', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-fuzz-dir-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const base = 0x7f0000000000;
  {
    using d = ImageDir.create(join(root, 'a'));
    d.pagemapWriter(1).addPages(base, 4, Buffer.alloc(4 * PAGE_SIZE, 1));
    d.setInventory({ img_version: 0, dump_uptime: 1 });
    d.commit();
  }
  const b = join(root, 'b');
  const goodPagemap = encodePagemapImage({
    head: { pages_id: 1 },
    entries: [pagemapEntry(base, 2, PE.PARENT), pagemapEntry(base + 2 * PAGE_SIZE, 2, PE.PRESENT)],
  });
  {
    using d = ImageDir.create(b, { parent: '../a' });
    d.pagemapWriter(1).addHole(base, 2);
    d.setInventory({ img_version: 0, dump_uptime: 2 });
    d.commit();
  }
  writeFileSync(join(b, 'pages-1.img'), Buffer.alloc(2 * PAGE_SIZE, 2));
  const next = rng(0xd1a5eed);
  let rejected = 0;
  for (let i = 0; i < 600; i++) {
    writeFileSync(join(b, 'pagemap-1.img'), mutate(goodPagemap, next));
    writeFileSync(join(b, 'inventory.img'), mutate(valid[0]!, next));
    writeFileSync(join(b, 'stats-dump'), mutate(valid[2]!, next));
    const dir = ImageDir.open(b);
    for (const op of [
      () => dir.inventory(),
      () => dir.stats(),
      () => dir.parentDumpUptime(),
      ...[0, 1, 2, 3, 4].map((p) => () => resolvePage(b, 1, base + p * PAGE_SIZE)),
    ]) {
      try {
        op();
      } catch (e) {
        rejected++;
        if (!(e instanceof ImageError)) assert.fail(`case ${i}: ${String(e)}`);
      }
    }
  }
  assert.ok(rejected > 0);
});
