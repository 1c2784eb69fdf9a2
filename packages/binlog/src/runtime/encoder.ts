/**
 * Per-format argument encoders. For a format with n <= MAX_FAST_ARGS specifiers, buildEncoder() generates
 * (with `new Function`, once per format) a function that writes exactly those n arguments, with the
 * fast path of each specifier inlined: numbers for `%d %i %u %x %f`, strings for `%s`, and the generic
 * tagged writer for anything else. This is what a pre-compiled call site costs at run time.
 *
 * @example
 * const enc = buildEncoder(['d', 's']);
 * const b = Buffer.alloc(64);
 * enc(b, 0, 64, 5, 'hi'); // 5: [0x85, 0x03, 2, 'h', 'i']
 */
import { writeNumber, writeString, writeValue } from '../codec/index.js';
import type { ArgKind } from '../format/index.js';

/** Arguments a generated encoder (and a log method's fast path) takes as named parameters. */
export const MAX_FAST_ARGS = 6;

/** Writes the format's arguments at `p`; returns the new offset, or -1 when `end` was reached. */
export type Encoder = (
  buf: Buffer,
  p: number,
  end: number,
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
  e: unknown,
  f: unknown,
) => number;

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'];

/** An encoder for these specifiers; formats with more than MAX_FAST_ARGS use writeArgs instead. */
export function buildEncoder(specs: readonly ArgKind[]): Encoder {
  if (specs.length > MAX_FAST_ARGS) {
    return (buf, p, end, a, b, c, d, e, f) => writeArgs(buf, p, end, [a, b, c, d, e, f]);
  }
  const lines: string[] = [];
  specs.forEach((k, i) => {
    const v = NAMES[i];
    if (k === 's') lines.push(`p = typeof ${v} === 'string' ? S(buf, p, end, ${v}) : V(buf, p, end, ${v});`);
    else if (k === 'o' || k === 'j') lines.push(`p = V(buf, p, end, ${v});`);
    else lines.push(`p = typeof ${v} === 'number' ? N(buf, p, end, ${v}) : V(buf, p, end, ${v});`);
    lines.push('if (p < 0) return -1;');
  });
  const body = `'use strict';\nreturn function encode(buf, p, end, ${NAMES.join(', ')}) {\n${lines.join('\n')}\nreturn p;\n};`;
  return new Function('N', 'S', 'V', body)(writeNumber, writeString, writeValue) as Encoder;
}

/** Write any number of arguments with the generic tagged writer; -1 when `end` was reached. */
export function writeArgs(buf: Buffer, p: number, end: number, args: readonly unknown[]): number {
  for (let i = 0; i < args.length && p >= 0; i++) p = writeValue(buf, p, end, args[i]);
  return p;
}
