/**
 * A copy of a target's present pages, page by page, to compare images with (the target must be static
 * while it is taken and until the comparison).
 *
 * @example
 * const before = await snapshotPages(f.pid);
 * before.get(f.num('base')); // the page's 4096 bytes
 */
import { findPages, PageReader, planVmas } from '../mem/index.js';
import { readMaps } from '../proc/index.js';
import { PAGE_SIZE } from '../sys/index.js';

/** The present pages of `pid` now, keyed by address. */
export async function snapshotPages(pid: number): Promise<Map<number, Buffer>> {
  const pages = new Map<number, Buffer>();
  const found = findPages(pid, planVmas(readMaps(pid)));
  using reader = new PageReader(pid, { bufferSize: 1 << 20 });
  await reader.read(found.ranges, {
    pages: (va, nr, bytes) => {
      for (let i = 0; i < nr; i++) {
        pages.set(va + i * PAGE_SIZE, Buffer.from(bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)));
      }
    },
    flush: () => {},
  });
  return pages;
}
