/** The special mappings' plan: pieces matched to the image's entries; another kernel's shapes refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VMA_STATUS, type VmaEntry } from '../images/index.js';
import type { Vma } from '../proc/index.js';
import { RestoreError } from './errors.js';
import { planSpecialMappings } from './vdso.js';

const vma = (start: number, end: number, path: string): Vma => ({
  start,
  end,
  read: true,
  write: false,
  exec: path === '[vdso]',
  private: true,
  offset: 0,
  dev: '00:00',
  inode: 0,
  path,
});
const entry = (start: number, end: number, status: number): VmaEntry => ({
  start: BigInt(start),
  end: BigInt(end),
  pgoff: 0n,
  shmid: 0n,
  prot: 1,
  flags: 0x22,
  status: VMA_STATUS.REGULAR | VMA_STATUS.ANON_PRIVATE | status,
  fd: -1n,
});
const live = [
  vma(0x7f00_0000_0000, 0x7f00_0000_4000, '[vvar]'),
  vma(0x7f00_0000_4000, 0x7f00_0000_6000, '[vvar_vclock]'),
  vma(0x7f00_0000_6000, 0x7f00_0000_8000, '[vdso]'),
];
const B = 0x7f11_2222_0000;

test('vvar, vvar_vclock and vdso move together by the dump offset', () => {
  const plan = planSpecialMappings(live, [
    entry(B, B + 0x6000, VMA_STATUS.VVAR),
    entry(B + 0x6000, B + 0x8000, VMA_STATUS.VDSO),
  ]);
  assert.deepEqual(
    plan.pieces.map((p) => [p.name, p.from, p.size, p.to]),
    [
      ['[vdso]', 0x7f00_0000_6000, 0x2000, B + 0x6000],
      ['[vvar]', 0x7f00_0000_0000, 0x4000, B],
      ['[vvar_vclock]', 0x7f00_0000_4000, 0x2000, B + 0x4000],
    ],
  );
});

const refused = (vmas: VmaEntry[]) =>
  assert.throws(
    () => planSpecialMappings(live, vmas),
    (e: unknown) => e instanceof RestoreError && e.code === 'ENOTSUP' && /vdso differs/.test(e.message),
  );

test('another vdso size, vvar size or arrangement is refused', () => {
  refused([entry(B, B + 0x6000, VMA_STATUS.VVAR), entry(B + 0x6000, B + 0x9000, VMA_STATUS.VDSO)]);
  refused([entry(B, B + 0x4000, VMA_STATUS.VVAR), entry(B + 0x4000, B + 0x6000, VMA_STATUS.VDSO)]);
  refused([entry(B + 0x2000, B + 0x8000, VMA_STATUS.VVAR), entry(B, B + 0x2000, VMA_STATUS.VDSO)]);
  refused([entry(B, B + 0x6000, VMA_STATUS.VVAR)]);
});
