/**
 * The one-line summary of a pre-dump, and its JSON form for `--json`.
 *
 * @example
 * summaryLine(result); // "pre-dump of 1234: 1.0 GiB in 262144 pages -> /ckpt/pre1 in 0.62 s (1.73 GB/s); ..."
 */
import type { PreDumpResult } from '../dump/index.js';

/**
 * Human size: B, KiB, MiB, GiB.
 *
 * @example
 * formatBytes(3 << 20); // '3.0 MiB'
 */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/**
 * The one-line summary; `to` names where the pages went when not to r.imagesDir (e.g. a page server).
 *
 * @example
 * summaryLine(result, 'page server 10.0.0.2:27000');
 */
export function summaryLine(r: PreDumpResult, to?: string): string {
  const secs = r.totalTime / 1e6;
  const rate = secs > 0 ? `${(r.bytesWritten / secs / 1e9).toFixed(2)} GB/s` : '-';
  const dest = to ?? r.imagesDir ?? 'nowhere (dry run)';
  const parts = [
    `pre-dump of ${r.pid}${r.processes > 1 ? ` and ${r.processes - 1} descendants` : ''}: ${formatBytes(r.bytesWritten)} in ${r.pagesWritten} pages -> ${dest} in ${secs.toFixed(2)} s (${rate})`,
  ];
  if (r.pagesSkipped) parts.push(`${r.pagesSkipped} pages vanished while read`);
  const deferredPages = r.deferred.reduce((a, d) => a + d.pages, 0);
  if (r.deferred.length) parts.push(`${r.deferred.length} VMAs deferred (${deferredPages} pages)`);
  return parts.join('; ');
}

/**
 * The `--json` document: the result plus the peak RSS (VmHWM) of this process.
 *
 * @example
 * JSON.parse(summaryJson(result, readStatus(process.pid).hwm)).ckptPeakRss;
 */
export function summaryJson(r: PreDumpResult, peakRss: number): string {
  return JSON.stringify({ ...r, ckptPeakRss: peakRss });
}
