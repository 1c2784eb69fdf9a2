import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { rng, samplePages } from '../testing/index.js';
import { MAX_CODEC_BLOCK } from './block-codec.js';
import {
  availableCodecs,
  CODEC_NAMES,
  type CodecName,
  isCodecName,
  negotiateCodec,
  openCodec,
} from './codec.js';
import { LZ4_LIBRARY, openLz4 } from './lz4-codec.js';
import { WireError } from './wire-errors.js';
import { openZstd, ZSTD_LIBRARY } from './zstd-codec.js';

const BLOCK = 1 << 20;

/** Real page blocks: this process's own present pages, read as a dump reads them, cut in 1 MiB blocks. */
async function realBlocks(max: number): Promise<Buffer[]> {
  const { bytes } = await samplePages(process.pid, max * BLOCK);
  const out: Buffer[] = [];
  for (let o = 0; o + BLOCK <= bytes.length; o += BLOCK) out.push(Buffer.from(bytes.subarray(o, o + BLOCK)));
  return out;
}

const isWireError = (code: string) => (e: unknown) => e instanceof WireError && e.code === code;

describe('codecs: what loads here', () => {
  it('lists the loadable codecs best first, ending with none', (t) => {
    const have = availableCodecs();
    assert.equal(have[have.length - 1], 'none');
    assert.deepEqual(
      have,
      CODEC_NAMES.filter((c) => have.includes(c)),
    );
    if (have.length < 3) t.diagnostic(`only ${have.join(', ')} load here: the other codecs' tests skip`);
  });

  it('a missing library is one WireError UNSUPPORTED line naming the codec and what to install', () => {
    for (const [open, name, pkg] of [
      [openLz4, 'lz4', 'liblz4-1'],
      [openZstd, 'zstd', 'libzstd1'],
    ] as const) {
      assert.throws(
        () => open({}, 'libckpt-missing-codec.so.1'),
        (e: unknown) => {
          assert.ok(e instanceof WireError && e.code === 'UNSUPPORTED', String(e));
          assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
          assert.match(
            e.message,
            new RegExp(`^${name} compression is not available here: libckpt-missing-codec`),
          );
          assert.match(e.message, new RegExp(`install ${pkg} or use --compress none$`));
          return true;
        },
      );
    }
    assert.throws(() => openCodec('brotli' as CodecName), isWireError('UNSUPPORTED'));
    assert.equal(isCodecName('zstd'), true);
    assert.equal(isCodecName('gzip'), false);
  });

  it('the default library names are the ones the codecs load', () => {
    assert.equal(LZ4_LIBRARY, 'liblz4.so.1');
    assert.equal(ZSTD_LIBRARY, 'libzstd.so.1');
  });
});

describe('codecs: round trip', () => {
  for (const name of CODEC_NAMES) {
    it(`${name}: real page blocks, a 4 MiB block, random, zero and empty blocks, views`, async (t) => {
      if (!availableCodecs().includes(name)) return t.skip(`${name}'s library does not load here`);
      const blocks = await realBlocks(8);
      assert.ok(blocks.length >= 4, `only ${blocks.length} MiB of this process's pages were read`);
      const big = Buffer.concat(blocks.slice(0, 4));
      const offset = Buffer.concat([Buffer.alloc(7, 1), blocks[0]!]).subarray(7, 7 + 300_000);
      const cases = [...blocks, big, randomBytes(BLOCK), Buffer.alloc(BLOCK), Buffer.alloc(0), offset];
      using c = openCodec(name);
      let raw = 0;
      let wire = 0;
      for (const b of cases) {
        const z = Buffer.from(c.compress(b)); // a copy: compress() may return a view valid until its next call
        const back = c.decompress(z, b.length);
        assert.equal(back.length, b.length);
        assert.ok(back.equals(b), `${name}: a block of ${b.length} bytes did not round-trip`);
        if (b !== cases[cases.length - 2] && b.length === BLOCK) {
          raw += b.length;
          wire += z.length;
        }
      }
      if (name !== 'none')
        assert.ok(wire < raw, `${name} did not shrink real pages: ${wire} of ${raw} bytes`);
      t.diagnostic(
        `${name}: ${blocks.length} real blocks + random + zeros: ratio ${(raw / wire).toFixed(2)}`,
      );
    });
  }

  it('a block above MAX_CODEC_BLOCK is refused on both sides; close() twice is safe, use after close is a bug', () => {
    for (const name of availableCodecs()) {
      const c = openCodec(name);
      assert.throws(() => c.compress(Buffer.alloc(MAX_CODEC_BLOCK + 1)), RangeError);
      assert.throws(() => c.decompress(Buffer.alloc(16), MAX_CODEC_BLOCK + 1), isWireError('PROTOCOL'));
      c.close();
      c.close();
      assert.throws(() => c.compress(Buffer.alloc(16)), /after close/);
    }
  });
});

describe('codecs: corrupt input is a WireError, never a crash', () => {
  for (const name of CODEC_NAMES) {
    it(`${name}: truncated, extended, wrong length, garbage, fuzzed`, async (t) => {
      if (!availableCodecs().includes(name)) return t.skip(`${name}'s library does not load here`);
      const [block] = await realBlocks(1);
      assert.ok(block);
      using c = openCodec(name);
      const z = Buffer.from(c.compress(block));
      const bad: [string, Buffer, number][] = [
        ['truncated', z.subarray(0, z.length - 1), block.length],
        ['half', z.subarray(0, z.length >> 1), block.length],
        ['extended', Buffer.concat([z, Buffer.from([0, 1, 2])]), block.length],
        ['length - 1', z, block.length - 1],
        ['length + 1', z, block.length + 1],
        ['length 0', z, 0],
        ['negative length', z, -1],
        ['fractional length', z, 1.5],
        ['garbage', randomBytes(5000), block.length],
        ['empty', Buffer.alloc(0), block.length],
      ];
      for (const [what, bytes, n] of bad) {
        assert.throws(() => c.decompress(bytes, n), isWireError('PROTOCOL'), `${name}: ${what}`);
      }
      // fuzz: flip 1-8 bytes of the block; each result decodes to the announced length or is a WireError
      const r = rng(15);
      let errors = 0;
      for (let i = 0; i < 300; i++) {
        const m = Buffer.from(z);
        for (let k = 1 + Math.floor(r() * 8); k > 0; k--)
          m[Math.floor(r() * m.length)] ^= 1 + Math.floor(r() * 255);
        try {
          assert.equal(c.decompress(m, block.length).length, block.length);
        } catch (e) {
          assert.ok(e instanceof WireError && e.code === 'PROTOCOL', `${name}: fuzz case ${i}: ${e}`);
          errors++;
        }
      }
      t.diagnostic(
        `${name}: ${errors} of 300 fuzzed blocks were refused (the others decode to the right length)`,
      );
    });
  }

  it('zstd: a frame that expands past the announced length fails without allocating it', (t) => {
    if (!availableCodecs().includes('zstd')) return t.skip("zstd's library does not load here");
    using c = openCodec('zstd');
    const bomb = Buffer.from(c.compress(Buffer.alloc(MAX_CODEC_BLOCK)));
    assert.ok(bomb.length < 1024);
    assert.throws(
      () => c.decompress(bomb, 4096),
      (e: unknown) => {
        assert.ok(e instanceof WireError && e.code === 'PROTOCOL');
        assert.match(e.message, /Destination buffer is too small/);
        return true;
      },
    );
  });
});

describe('codecs: negotiation', () => {
  it('the wish when shared, else the sender next choice, else none', (t) => {
    const have = availableCodecs();
    if (!have.includes('lz4') || !have.includes('zstd')) return t.skip('needs both lz4 and zstd here');
    const cases: [CodecName, string[], CodecName][] = [
      ['zstd', ['zstd', 'lz4', 'none'], 'zstd'],
      ['lz4', ['zstd', 'lz4', 'none'], 'lz4'],
      ['zstd', ['lz4', 'none'], 'lz4'],
      ['lz4', ['zstd', 'none'], 'zstd'],
      ['zstd', ['none'], 'none'],
      ['zstd', [], 'none'],
      ['none', ['zstd', 'lz4', 'none'], 'none'],
      ['zstd', ['snappy', 'lz4'], 'lz4'],
      ['lz4', ['brotli'], 'none'],
    ];
    for (const [wanted, peer, want] of cases) {
      assert.equal(negotiateCodec(wanted, peer), want, `${wanted} with a peer of [${peer}]`);
    }
  });
});
