import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { rng } from '../testing/index.js';
import {
  checkRange,
  decodeDstId,
  decodeHasParent,
  decodeI32Reply,
  decodePsHeader,
  encodeDstId,
  encodeHasParent,
  encodeI32Reply,
  encodePsHeader,
  PE_WIRE,
  PS,
  type PsEvent,
  type PsHeader,
  PsParser,
} from './wire.js';
import { decodeChecksums, encodeChecksums } from './wire-checksums.js';
import { WireError } from './wire-errors.js';

const h = (cmd: number, flags: number, nrPages: number, vaddr: number, dstId: number): PsHeader => ({
  cmd,
  flags,
  nrPages,
  vaddr,
  dstId,
});

describe('page-server header codec', () => {
  it('matches the bytes CRIU sends (ADD_F PE_PRESENT, pid 16162)', () => {
    const bytes = encodePsHeader(
      h(PS.IOV_ADD_F, PE_WIRE.PRESENT, 254, 0x55d0c0000000, encodeDstId('pid', 16162)),
    );
    assert.equal(bytes.length, 32);
    assert.equal(bytes.readUInt32LE(0), 0x00040006);
    assert.equal(bytes.readBigUInt64LE(24), 0x3f2201n);
    assert.deepEqual(decodePsHeader(bytes), h(6, 4, 254, 0x55d0c0000000, 0x3f2201));
  });

  it('ignores the padding word (CRIU leaves garbage there)', () => {
    const bytes = encodePsHeader(h(PS.IOV_OPEN2, 0, 0, 0, 0x101));
    bytes.writeUInt32LE(0x00007ffe, 4);
    assert.deepEqual(decodePsHeader(bytes), h(4, 0, 0, 0, 0x101));
  });

  it('rejects short input, trailing bytes and u64s beyond 2^53', () => {
    const bytes = encodePsHeader(h(PS.IOV_CLOSE, 0, 0, 0, 0));
    assert.throws(() => decodePsHeader(bytes.subarray(0, 31)), { code: 'TRUNCATED' });
    assert.throws(() => decodePsHeader(Buffer.concat([bytes, Buffer.alloc(1)])), { code: 'TRAILING_BYTES' });
    const big = Buffer.from(bytes);
    big.writeBigUInt64LE(1n << 60n, 8);
    assert.throws(() => decodePsHeader(big), { code: 'BAD_HEADER' });
  });

  it('dst_id: (id << 8) | type, legacy types as CRIU accepts them, unknown types refused', () => {
    assert.equal(encodeDstId('shmem', 3), 0x302);
    assert.deepEqual(decodeDstId(0x3f2201), { kind: 'pid', id: 16162 });
    assert.deepEqual(decodeDstId((7 << 8) | 17), { kind: 'pid', id: 7 });
    assert.deepEqual(decodeDstId((7 << 8) | 33), { kind: 'shmem', id: 7 });
    assert.throws(() => decodeDstId((7 << 8) | 3), { code: 'BAD_DST_ID' });
  });

  it('range checks: absurd nr_pages, unaligned vaddr, past user space', () => {
    assert.throws(() => checkRange(h(PS.IOV_ADD_F, 4, 2 ** 32 + 1, 0, 0x101)), { code: 'TOO_MANY_PAGES' });
    assert.throws(() => checkRange(h(PS.IOV_ADD_F, 1, 0, 0, 0x101)), { code: 'TOO_MANY_PAGES' });
    assert.throws(() => checkRange(h(PS.IOV_HOLE, 0, 1, 0x1001, 0x101)), { code: 'BAD_HEADER' });
    assert.throws(() => checkRange(h(PS.IOV_ADD, 0, 2, 2 ** 56 - 4096, 0x101)), { code: 'TOO_MANY_PAGES' });
    checkRange(h(PS.IOV_CLOSE, 0, 2 ** 40, 3, 0)); // not a range: fields unused
  });

  it('replies', () => {
    assert.equal(decodeHasParent(encodeHasParent(true)), true);
    assert.throws(() => decodeHasParent(Buffer.from([2])), { code: 'BAD_REPLY' });
    assert.equal(decodeI32Reply(encodeI32Reply(-5)), -5);
    assert.throws(() => decodeI32Reply(Buffer.alloc(3)), { code: 'TRUNCATED' });
    assert.throws(() => decodeI32Reply(Buffer.alloc(5)), { code: 'TRAILING_BYTES' });
  });
});

describe('incremental parser', () => {
  const stream = Buffer.concat([
    encodePsHeader(h(PS.IOV_OPEN2, 0, 0, 0, 0x101)),
    encodePsHeader(h(PS.IOV_ADD_F, PE_WIRE.PRESENT, 2, 0x1000, 0x101)),
    Buffer.alloc(8192, 0xab),
    encodePsHeader(h(PS.IOV_ADD_F, PE_WIRE.PARENT, 5, 0x3000, 0x101)),
    encodePsHeader(h(PS.IOV_ADD, 0, 1, 0x9000, 0x101)),
    Buffer.alloc(4096, 0xcd),
    encodePsHeader(h(PS.IOV_CLOSE, 0, 0, 0, 0)),
  ]);

  function parse(chunks: Buffer[]): { cmds: number[]; payload: Buffer } {
    const p = new PsParser();
    const cmds: number[] = [];
    const data: Buffer[] = [];
    for (const c of chunks) {
      for (const ev of p.feed(c) as Iterable<PsEvent>) {
        if (ev.kind === 'message') cmds.push(ev.header.cmd);
        else data.push(Buffer.from(ev.bytes));
      }
    }
    p.end();
    return { cmds, payload: Buffer.concat(data) };
  }

  it('gives the same messages and payload for every split of the stream in two', () => {
    const whole = parse([stream]);
    assert.deepEqual(whole.cmds, [4, 6, 6, 1, 0x1023]);
    assert.equal(whole.payload.length, 3 * 4096);
    for (let cut = 0; cut <= stream.length; cut += 7) {
      const r = parse([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(r, whole, `cut at ${cut}`);
    }
  });

  it('gives the same result fed one byte at a time', () => {
    const chunks = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(parse(chunks), parse([stream]));
  });

  it('payload slices are views into the input, not copies', () => {
    const p = new PsParser();
    const evs = [...p.feed(stream)];
    const data = evs.find((e) => e.kind === 'data');
    assert.ok(data && data.kind === 'data');
    assert.equal(data.bytes.buffer, stream.buffer);
  });

  it('end() in the middle of a header or a payload is TRUNCATED', () => {
    for (const cut of [10, 32 + 32 + 100]) {
      const p = new PsParser();
      for (const _ of p.feed(stream.subarray(0, cut))) {
      }
      assert.throws(() => p.end(), { code: 'TRUNCATED' });
    }
  });

  it('fuzz: 20,000 random and mutated streams only ever fail with WireError', () => {
    const rand = rng(12345);
    let failures = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Buffer;
      if (i % 2 === 0) {
        input = Buffer.from(stream);
        const flips = 1 + Math.floor(rand() * 4);
        for (let f = 0; f < flips; f++) input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
        input = input.subarray(0, Math.floor(rand() * (input.length + 1)));
      } else {
        input = randomBytes(Math.floor(rand() * 200));
      }
      const p = new PsParser();
      try {
        let off = 0;
        while (off < input.length) {
          const n = 1 + Math.floor(rand() * 64);
          for (const _ of p.feed(input.subarray(off, off + n))) {
          }
          off += n;
        }
        p.end();
      } catch (e) {
        assert.ok(e instanceof WireError, `not a WireError: ${e}`);
        failures++;
      }
    }
    assert.ok(failures > 0);
  });
});

describe('checksum file codec', () => {
  it('round-trips and rejects broken files', () => {
    const recs = [
      { vaddr: 0x1000, nrPages: 1, crc: 0 },
      { vaddr: 0x7fff00000000, nrPages: 0xffffffff, crc: 0xffffffff },
    ];
    const bytes = encodeChecksums(recs);
    assert.deepEqual(decodeChecksums(bytes), recs);
    assert.throws(() => decodeChecksums(bytes.subarray(0, bytes.length - 1)), { code: 'TRUNCATED' });
    assert.throws(() => decodeChecksums(Buffer.from('nope1234')), { code: 'BAD_HEADER' });
    const rand = rng(7);
    for (let i = 0; i < 5000; i++) {
      const m = Buffer.from(bytes.subarray(0, Math.floor(rand() * (bytes.length + 1))));
      if (m.length > 0) m[Math.floor(rand() * m.length)] ^= 1 << Math.floor(rand() * 8);
      try {
        decodeChecksums(m);
      } catch (e) {
        assert.ok(e instanceof WireError);
      }
    }
  });
});
