/**
 * A full dump saves the [vdso] whole, as CRIU does: a forked child has not faulted in its vdso pages
 * (fork does not copy the PTEs of special mappings), so "present pages only" leaves them out and the
 * restorer finds no ELF header there ("vdso: Invalid ELF magic"). Reading them with process_vm_readv
 * faults them in.
 *
 * @example
 * const ranges = withWholeVdso(findPages(pid, plan).ranges, readMaps(pid));
 */
import { PageRanges } from '../../mem/index.js';
import type { Vma } from '../../proc/index.js';

/** `ranges` (ascending) united with every page of the [vdso] mapping of `maps`. */
export function withWholeVdso(ranges: PageRanges, maps: readonly Vma[]): PageRanges {
  const vdso = maps.find((v) => v.path === '[vdso]');
  if (!vdso) return ranges;
  const spans: [number, number][] = ranges.starts.map((s, i) => [s, ranges.ends[i]!]);
  spans.push([vdso.start, vdso.end]);
  spans.sort((a, b) => a[0] - b[0]);
  const out = new PageRanges();
  let [cs, ce] = spans[0]!;
  for (const [s, e] of spans.slice(1)) {
    if (s <= ce) ce = Math.max(ce, e);
    else {
      out.push(cs, ce);
      [cs, ce] = [s, e];
    }
  }
  out.push(cs, ce);
  return out;
}
