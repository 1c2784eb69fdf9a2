import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { decodePng, pixelStats } from './png.js';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An RGB PNG whose rows use the filters given, cycling. */
function encode(
  width: number,
  height: number,
  rgb: (x: number, y: number) => number[],
  filters: number[],
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const stride = width * 3;
  const rows: number[][] = [];
  for (let y = 0; y < height; y++) rows.push(Array.from({ length: width }, (_, x) => rgb(x, y)).flat());
  const raw: number[] = [];
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length]!;
    raw.push(f);
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? rows[y]![i - 3]! : 0;
      const b = y > 0 ? rows[y - 1]![i]! : 0;
      const c = i >= 3 && y > 0 ? rows[y - 1]![i - 3]! : 0;
      const p = a + b - c;
      const pred = [
        0,
        a,
        b,
        (a + b) >> 1,
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c,
      ][f]!;
      raw.push((rows[y]![i]! - pred) & 0xff);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(raw))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('decodes every row filter back to the pixels', () => {
  const colour = (x: number, y: number) => [(x * 37 + y) & 0xff, (y * 11) & 0xff, (x * y) & 0xff];
  const img = decodePng(encode(9, 10, colour, [0, 1, 2, 3, 4]));
  assert.equal(img.width, 9);
  assert.equal(img.height, 10);
  assert.equal(img.channels, 3);
  for (let y = 0; y < 10; y++) {
    for (let x = 0; x < 9; x++) {
      assert.deepEqual([...img.pixels.subarray((y * 9 + x) * 3, (y * 9 + x) * 3 + 3)], colour(x, y));
    }
  }
  const stats = pixelStats(img);
  assert.ok(stats.lumaStdDev > 5);
  assert.ok(stats.distinctColours > 50);
});

test('a one-colour image has no variance', () => {
  const stats = pixelStats(decodePng(encode(16, 16, () => [255, 255, 255], [0, 2])));
  assert.equal(stats.lumaStdDev, 0);
  assert.equal(stats.distinctColours, 1);
  assert.equal(stats.nonBackground, 0);
});

test('broken files are refused', () => {
  const good = encode(2, 2, () => [1, 2, 3], [0]);
  assert.throws(() => decodePng(good.subarray(1)), /signature/);
  const bad = Buffer.from(good);
  bad[bad.length - 20] ^= 0xff;
  assert.throws(() => decodePng(bad), /CRC|cut short|IEND/);
  assert.throws(() => decodePng(good.subarray(0, 40)), /cut short|IEND/);
});
