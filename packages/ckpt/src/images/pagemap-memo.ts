/**
 * Pagemaps this process wrote, kept decoded by file identity (device, inode, size, mtime): a reader of
 * the same file takes the entries instead of decoding them again. A migration's destination writes each
 * received set's pagemap and reads it back at once (the pre-build's chain, the final restore): decoding
 * the final set's ~10k entries took ~18 ms of a 4 GiB migration's downtime. A rename keeps the identity;
 * a file rewritten since does not match. The last MAX files are kept.
 *
 * @example
 * rememberPagemap('/srv/mig/3/.pagemap-42.img.tmp', 7, ranges); // by the writer, after its last write
 * recallPagemap('/srv/mig/3/pagemap-42.img');                   // { pagesId: 7, ranges } (renamed since)
 */
import { statSync } from 'node:fs';

/** One entry as PagemapReader holds it (pagemap-reader.ts's MemoRange: the same shape). */
interface MemoRange {
  readonly vaddr: number;
  readonly nrPages: number;
  readonly flags: number;
  readonly offset?: number;
}

interface Memo {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly pagesId: number;
  readonly ranges: MemoRange[];
}

const MAX = 8;
const memo = new Map<string, Memo>();

function identity(path: string): { key: string; size: number; mtimeNs: bigint } | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { key: `${st.dev}:${st.ino}`, size: Number(st.size), mtimeNs: st.mtimeNs };
  } catch {
    return undefined;
  }
}

/** Keep the decoded entries of the pagemap at `path` (complete: no write to it follows). */
export function rememberPagemap(path: string, pagesId: number, ranges: MemoRange[]): void {
  const id = identity(path);
  if (!id) return;
  memo.delete(id.key);
  memo.set(id.key, { size: id.size, mtimeNs: id.mtimeNs, pagesId, ranges });
  if (memo.size > MAX) memo.delete(memo.keys().next().value as string);
}

/** The entries kept for the file at `path`, if it is the one remembered, unchanged. */
export function recallPagemap(path: string): { pagesId: number; ranges: MemoRange[] } | undefined {
  if (memo.size === 0) return undefined;
  const id = identity(path);
  const m = id && memo.get(id.key);
  if (!m || m.size !== id.size || m.mtimeNs !== id.mtimeNs) return undefined;
  return { pagesId: m.pagesId, ranges: m.ranges };
}
