/**
 * A full dump saves the [vdso] whole, as CRIU does: a forked child has not faulted in its vdso pages
 * (fork does not copy the PTEs of special mappings), so "present pages only" leaves them out and the
 * restorer finds no ELF header there ("vdso: Invalid ELF magic"). Reading them once with
 * process_vm_readv, before the freeze, faults them in: the dump's page scan then finds them present.
 *
 * @example
 * using reader = new PageReader(pid, { bufferSize: 1 << 16, buffers: 1 });
 * await faultInVdso(reader, pid);
 */
import { PageRanges, type PageReader } from '../../mem/index.js';
import { readMaps } from '../../proc/index.js';

/** Read the [vdso] of `pid` once, discarding the bytes (see the module comment). */
export async function faultInVdso(reader: PageReader, pid: number): Promise<void> {
  const vdso = readMaps(pid).find((v) => v.path === '[vdso]');
  if (!vdso) return;
  const r = new PageRanges();
  r.push(vdso.start, vdso.end);
  await reader.read(r, { pages: () => {}, flush: () => {} }, { pid });
}
