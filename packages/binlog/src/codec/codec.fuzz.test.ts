// Fuzz: random and mutated inputs into every decoder of the codec. Each must return or throw a CodecError,
// and finish (the loop bounds below would hang on a decoder that does not advance).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ArgKind } from '../format/index.js';
import { Cursor } from './cursor.js';
import { CodecError } from './errors.js';
import { FRAME_HEAD, scanFrame, sealFrame } from './frame.js';
import { decodeHeader, encodeHeader } from './header.js';
import { EV_PACKED, R_FMTDEF, readRecord, writeDef } from './record.js';
import { writePackedString, writeValue } from './value.js';
import { writeVarint, writeZigzag } from './varint.js';

const KINDS: readonly ArgKind[] = ['d', 's', 'j'];
const ALL_KINDS: readonly ArgKind[] = ['d', 's', 'f', 'j'];

let seed = 12345;
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
}

function sample(): Buffer {
  const b = Buffer.alloc(512);
  let p = FRAME_HEAD;
  b[p++] = 0x42;
  p = writeVarint(b, p, 1000);
  p = writeDef(b, p, R_FMTDEF, 0x100000, 'x %d %s %j');
  b[p++] = 3;
  p = writeVarint(b, p, 0x100000);
  p = writeVarint(b, p, 5);
  p = writeValue(b, p, 512, 42);
  p = writeValue(b, p, 512, 'héllo');
  p = writeValue(b, p, 512, { a: [1, 2] });
  // the same event, packed
  b[p++] = 3 | EV_PACKED;
  p = writeVarint(b, p, 0x100000);
  p = writeVarint(b, p, 5);
  p = writeZigzag(b, p, -42);
  p = writePackedString(b, p, 512, 'héllo');
  p = writeValue(b, p, 512, { a: [1, 2] });
  sealFrame(b, 0, p - FRAME_HEAD);
  return b.subarray(0, p);
}

function readAll(buf: Buffer): void {
  let pos = 0;
  let steps = 0;
  while (pos < buf.length) {
    assert.ok(++steps <= buf.length + 1, 'scanner advances');
    const s = scanFrame(buf, pos);
    if (s.kind === 'partial') break;
    if (s.kind === 'garbage') {
      assert.ok(s.next > pos);
      pos = s.next;
      continue;
    }
    const c = new Cursor(buf, s.payloadStart + 1, s.end);
    try {
      if (buf[s.payloadStart] === 0x48) decodeHeader(new Cursor(buf, s.payloadStart, s.end));
      else {
        const clock = { time: c.varint() };
        let n = 0;
        while (!c.done()) {
          const before = c.pos;
          readRecord(c, clock, (id) => (id === 0x100000 ? KINDS : undefined));
          assert.ok(c.pos > before && ++n < 10000);
        }
      }
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
    }
    pos = s.end;
  }
}

function decodeRaw(buf: Buffer): void {
  // decoders applied to arbitrary bytes, without the frame check
  for (const f of [
    () => decodeHeader(new Cursor(buf)),
    () => {
      const c = new Cursor(buf);
      const clock = { time: 0 };
      for (let i = 0; i < 10000 && !c.done(); i++) readRecord(c, clock, (id) => ALL_KINDS.slice(0, id % 5));
    },
  ]) {
    try {
      f();
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
    }
  }
}

test('random bytes: only CodecError, always terminates', () => {
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(rand(200));
    for (let j = 0; j < b.length; j++) b[j] = rand(256);
    if (i % 3 === 0 && b.length > 4) Buffer.from([0xf5, 0x7b, 0x10, 0x6c]).copy(b, rand(b.length - 3));
    decodeRaw(b);
    readAll(b);
  }
});

test('mutated valid frames: only CodecError, always terminates', () => {
  const good = sample();
  const header = encodeHeader({ version: 1, originMs: 1.7e12, startMs: 1.7e12, pid: 1, thread: 0 });
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(i % 2 ? good : Buffer.concat([header, good.subarray(FRAME_HEAD)]));
    for (let k = rand(4) + 1; k > 0; k--) b[rand(b.length)] = rand(256);
    const cut = b.subarray(0, b.length - rand(8));
    decodeRaw(cut.subarray(FRAME_HEAD));
    readAll(cut);
    // re-seal so that the record decoders (not just the CRC) see the mutation
    const resealed = Buffer.from(cut);
    if (resealed.length > FRAME_HEAD) sealFrame(resealed, 0, resealed.length - FRAME_HEAD);
    readAll(resealed);
  }
});

test('the sample itself decodes', () => {
  const s = scanFrame(sample(), 0);
  assert.equal(s.kind, 'frame');
});
