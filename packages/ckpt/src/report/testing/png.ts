/**
 * A PNG reader for the report's browser test: enough of the format to check that a screenshot shows a
 * picture (chunks, IHDR, the IDAT stream inflated with node:zlib, the five row filters; 8-bit grey, RGB,
 * grey+alpha and RGBA, not interlaced), and a measure of how much its pixels vary.
 *
 * ```
 * PNG   = signature(8) chunk*            chunk = length(u32 BE) type(4) data(length) crc(4)
 * IHDR  = width(u32) height(u32) depth(u8) colourType(u8) compression(u8) filter(u8) interlace(u8)
 * IDAT* = one zlib stream of rows: filterType(u8) then width * channels bytes
 * ```
 *
 * @example
 * const img = decodePng(readFileSync('shot.png'));
 * pixelStats(img).distinctColours > 10;
 */
import { crc32, inflateSync } from 'node:zlib';

/** A decoded image: `channels` bytes per pixel, rows top to bottom. */
export interface PngImage {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decode a PNG; throws an Error saying what it does not support or what is broken (bad CRC included).
 *
 * @example
 * decodePng(bytes).width;
 */
export function decodePng(bytes: Uint8Array): PngImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || SIGNATURE.some((b, i) => buf[i] !== b)) throw new Error('not a PNG: bad signature');
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let ended = false;
  while (at + 12 <= buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (at + 12 + len > buf.length) throw new Error(`PNG chunk ${type} is cut short`);
    const data = buf.subarray(at + 8, at + 8 + len);
    if (crc32(buf.subarray(at + 4, at + 8 + len)) !== buf.readUInt32BE(at + 8 + len)) {
      throw new Error(`PNG chunk ${type}: bad CRC`);
    }
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8]!;
      const colour = data[9]!;
      if (depth !== 8 || CHANNELS[colour] === undefined || data[12] !== 0) {
        throw new Error(
          `PNG kind not supported: depth ${depth}, colour type ${colour}, interlace ${data[12]}`,
        );
      }
      channels = CHANNELS[colour]!;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    at += 12 + len;
  }
  if (channels === 0 || !ended) throw new Error('PNG without IHDR or IEND');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1))
    throw new Error(`PNG data is ${raw.length} bytes, not ${height * (stride + 1)}`);
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[row + x - channels]! : 0;
      const b = y > 0 ? px[row - stride + x]! : 0;
      const c = x >= channels && y > 0 ? px[row - stride + x - channels]! : 0;
      const v = raw[src + x]!;
      let out: number;
      if (filter === 0) out = v;
      else if (filter === 1) out = v + a;
      else if (filter === 2) out = v + b;
      else if (filter === 3) out = v + ((a + b) >> 1);
      else if (filter === 4) out = v + paeth(a, b, c);
      else throw new Error(`PNG row ${y}: unknown filter ${filter}`);
      px[row + x] = out & 0xff;
    }
  }
  return { width, height, channels, pixels: px };
}

/** How much the pixels of an image vary. */
export interface PixelStats {
  /** Standard deviation of the luma (0..255). */
  lumaStdDev: number;
  /** Distinct colours, counted up to 10,000. */
  distinctColours: number;
  /** Share of pixels that are not the most common colour. */
  nonBackground: number;
}

/**
 * Measure an image's variety: a one-colour picture has a standard deviation of 0 and one colour.
 *
 * @example
 * pixelStats(decodePng(bytes)).lumaStdDev > 5;
 */
export function pixelStats(img: PngImage): PixelStats {
  const n = img.width * img.height;
  const colours = new Map<number, number>();
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const o = i * img.channels;
    const grey = img.channels < 3;
    const r = img.pixels[o]!;
    const g = grey ? r : img.pixels[o + 1]!;
    const b = grey ? r : img.pixels[o + 2]!;
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma;
    sumSq += luma * luma;
    const key = (r << 16) | (g << 8) | b;
    if (colours.size < 10_000 || colours.has(key)) colours.set(key, (colours.get(key) ?? 0) + 1);
  }
  const mean = n === 0 ? 0 : sum / n;
  const top = Math.max(0, ...colours.values());
  return {
    lumaStdDev: n === 0 ? 0 : Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
    distinctColours: colours.size,
    nonBackground: n === 0 ? 0 : 1 - top / n,
  };
}
