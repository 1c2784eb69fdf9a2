/**
 * The index of an image set: per process, which pages its chain holds (`covered`: every range its pagemap
 * names, data or a PE_PARENT hole that resolves further up), and the size of every pagemap and pages file
 * as committed. Written beside the images (`ckpt-index.json`) right after the commit; read by the next
 * pre-dump of the chain instead of decoding every pagemap of every parent:
 *
 * ```
 * pre-dump k:    commit DIR/k -> DIR/k/ckpt-index.json  { files: sizes, tasks: covered ranges }
 * pre-dump k+1:  chainCoverage(DIR/k)  = DIR/k's index (cost: its entries; no pagemap decoded)
 *                checkImageChain(DIR/k) = per set of the chain: marker, inventory, files stat'ed against
 *                                         the index (cost: its files; the pagemaps are decoded only for
 *                                         a set without a valid index: CRIU's, or one of older ckpt)
 * ```
 * `covered` is exact for sets ckpt writes: a hole is only ever planned where the parent chain holds the
 * data (dump/page-plan.ts), so everything a pagemap names is held by the chain. A set without an index
 * gets its coverage from its pagemaps (PageChain.locate: data runs only), once per pre-dump, before any
 * freeze.
 *
 * The file is ckpt's own (ignored by CRIU, crit, `ckpt show`). It is written after the inventory: a set
 * whose index is missing (a crash in between) or does not parse is simply checked and read the slow way.
 * Ranges are page numbers as `[gap, length, ...]` deltas, as ckpt-sent.json.
 *
 * ```
 * { "format": "ckpt-index", "version": 1,
 *   "files": { "pagemap-42.img": 1234, "pages-1.img": 8192 }, "tasks": { "42": [1024, 16, 3, 512] } }
 * ```
 *
 * @example
 * writeChainIndex('/ckpt/2', new Map([[42, [{ start: 0x400000, end: 0x402000 }]]]));
 * chainCoverage(ImageDir.open('/ckpt/2')).get(42); // [{ start: 0x400000, end: 0x402000 }]
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type AddressRange, normalizeRanges } from '../mem/index.js';
import { PAGE_SIZE } from '../sys/constants.js';
import type { ImageDir } from './image-dir.js';
import { classifyImageName } from './magics.js';
import { PageChain } from './page-chain.js';
import { writeFileAtomic } from './temp-file.js';

/**
 * The file name in an image directory.
 *
 * @example
 * existsSync(join(dir, CHAIN_INDEX_FILE));
 */
export const CHAIN_INDEX_FILE = 'ckpt-index.json';

/** Per pid, the ranges the chain holds: ascending, disjoint. */
export type ChainCoverage = Map<number, AddressRange[]>;

/** A set's index as read back. */
export interface ChainIndex {
  /** Size of each pagemap and pages file at the commit. */
  readonly files: ReadonlyMap<string, number>;
  readonly covered: ChainCoverage;
}

/** Ranges -> `[gap, length, ...]` in pages. */
export function encodeRanges(ranges: readonly AddressRange[]): number[] {
  const enc: number[] = [];
  let at = 0;
  for (const r of ranges) {
    const s = r.start / PAGE_SIZE;
    enc.push(s - at, (r.end - r.start) / PAGE_SIZE);
    at = r.end / PAGE_SIZE;
  }
  return enc;
}

/** `[gap, length, ...]` -> ranges; undefined unless well formed (whole, positive lengths, in range). */
export function decodeRanges(enc: unknown): AddressRange[] | undefined {
  if (!Array.isArray(enc) || enc.length % 2 !== 0) return undefined;
  const out: AddressRange[] = [];
  let at = 0;
  for (let i = 0; i < enc.length; i += 2) {
    const gap = enc[i] as unknown;
    const len = enc[i + 1] as unknown;
    if (!Number.isSafeInteger(gap) || !Number.isSafeInteger(len)) return undefined;
    if ((gap as number) < 0 || (len as number) <= 0) return undefined;
    const start = at + (gap as number);
    const end = start + (len as number);
    if (end * PAGE_SIZE > Number.MAX_SAFE_INTEGER) return undefined;
    out.push({ start: start * PAGE_SIZE, end: end * PAGE_SIZE });
    at = end;
  }
  return out;
}

/** The pagemap and pages files of `dir` with their sizes. */
function pageFiles(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const name of readdirSync(dir).sort()) {
    const k = classifyImageName(name).kind;
    if (k === 'pagemap' || k === 'pages' || k === 'shmem-pagemap')
      files.set(name, statSync(join(dir, name)).size);
  }
  return files;
}

/**
 * Write the index of the committed set `dir`: `covered` (what each process's pagemap names) and the sizes
 * of its pagemap and pages files as they are now. After the commit (see the module comment).
 *
 * @example
 * writeChainIndex(dir.path, recorder.sent);
 */
export function writeChainIndex(dir: string, covered: ReadonlyMap<number, readonly AddressRange[]>): void {
  const tasks: Record<string, number[]> = {};
  for (const [pid, ranges] of covered) tasks[String(pid)] = encodeRanges(ranges);
  const doc = { format: 'ckpt-index', version: 1, files: Object.fromEntries(pageFiles(dir)), tasks };
  writeFileAtomic(join(dir, CHAIN_INDEX_FILE), Buffer.from(`${JSON.stringify(doc)}\n`));
}

/**
 * The index of `dir`, or undefined when it has none or it does not parse (then nothing is assumed).
 *
 * @example
 * readChainIndex('/ckpt/2')?.covered.get(42);
 */
export function readChainIndex(dir: string): ChainIndex | undefined {
  const p = join(dir, CHAIN_INDEX_FILE);
  if (!existsSync(p)) return undefined;
  let doc: { format?: unknown; version?: unknown; files?: unknown; tasks?: unknown };
  try {
    doc = JSON.parse(readFileSync(p, 'utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  if (doc?.format !== 'ckpt-index' || doc.version !== 1) return undefined;
  if (typeof doc.files !== 'object' || !doc.files || typeof doc.tasks !== 'object' || !doc.tasks)
    return undefined;
  const files = new Map<string, number>();
  for (const [name, size] of Object.entries(doc.files as Record<string, unknown>)) {
    if (!Number.isSafeInteger(size) || (size as number) < 0) return undefined;
    files.set(name, size as number);
  }
  const covered: ChainCoverage = new Map();
  for (const [pid, enc] of Object.entries(doc.tasks as Record<string, unknown>)) {
    const ranges = /^\d+$/.test(pid) ? decodeRanges(enc) : undefined;
    if (ranges === undefined) return undefined;
    covered.set(Number(pid), ranges);
  }
  return { files, covered };
}

/**
 * Why the files of `dir` do not match its index (an empty list when they do): a file missing, one of
 * another size, a pagemap the index does not know. Stats only: nothing is decoded.
 *
 * @example
 * indexProblems('/ckpt/2', readChainIndex('/ckpt/2')!); // ['pages-1.img is 4096 bytes, its index says 8192']
 */
export function indexProblems(dir: string, index: ChainIndex): string[] {
  const problems: string[] = [];
  const now = pageFiles(dir);
  for (const [name, size] of index.files) {
    const got = now.get(name);
    if (got === undefined) problems.push(`${join(dir, name)} is missing (its index lists it)`);
    else if (got !== size) problems.push(`${join(dir, name)} is ${got} bytes, its index says ${size}`);
  }
  for (const name of now.keys()) {
    if (!index.files.has(name)) problems.push(`${join(dir, name)} is not in its index`);
  }
  return problems;
}

/**
 * Per process of `top`, the ranges its chain holds: from its index when it has a valid one (cost: the
 * index's entries), else from its pagemaps (PageChain.locate through the parents: data runs only). Before
 * any freeze: this is what a pre-dump plans its holes inside.
 *
 * @example
 * const covered = chainCoverage(parentDir); // Map<pid, AddressRange[]>
 */
export function chainCoverage(top: ImageDir): ChainCoverage {
  const index = readChainIndex(top.path);
  if (index && indexProblems(top.path, index).length === 0) return index.covered;
  const out: ChainCoverage = new Map();
  for (const pid of top.pids()) {
    using chain = new PageChain(top, pid);
    const ranges: AddressRange[] = [];
    for (const r of chain.ranges) {
      for (const loc of chain.locate(r.vaddr, r.nrPages)) {
        if (loc.where === 'data') ranges.push({ start: loc.vaddr, end: loc.vaddr + loc.nrPages * PAGE_SIZE });
      }
    }
    out.set(pid, normalizeRanges(ranges));
  }
  return out;
}
