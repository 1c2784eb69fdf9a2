/**
 * A sample of a process's real memory: its present pages, read as a dump reads them (maps -> planVmas ->
 * findPages -> PageReader), concatenated up to a cap. For codec tests and bench/compress.js: real heaps
 * instead of random bytes.
 *
 * @example
 * const { bytes } = await samplePages(process.pid, 8 << 20); // up to 8 MiB of this process's pages
 */
import { findPages, PageReader, planVmas } from '../mem/index.js';
import { readMaps } from '../proc/index.js';
import { PAGE_SIZE } from '../sys/index.js';

/** Up to `maxBytes` of `pid`'s present pages, in address order; `presentBytes`: all of them. */
export async function samplePages(
  pid: number,
  maxBytes: number,
): Promise<{ bytes: Buffer; presentBytes: number }> {
  const found = findPages(pid, planVmas(readMaps(pid)));
  const all = Buffer.alloc(Math.min(maxBytes, found.ranges.pages * PAGE_SIZE));
  let filled = 0;
  using reader = new PageReader(pid, { bufferSize: 1 << 20, buffers: 1 });
  await reader.read(found.ranges, {
    pages: (_va, _n, bytes) => {
      const n = Math.min(bytes.length, all.length - filled);
      all.set(bytes.subarray(0, n), filled);
      filled += n;
    },
    flush: () => {},
  });
  return { bytes: all.subarray(0, filled), presentBytes: found.ranges.pages * PAGE_SIZE };
}
