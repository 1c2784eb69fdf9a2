/**
 * Where an injection runs its first and last call (the site: the start of the first executable mapping
 * that is not a kernel special mapping) and the mappings it needs, read before freezing: injectionSite()
 * reads /proc/PID/maps and searches the libraries for the gadgets (once per file); the next
 * Injector.infect() of that process takes these maps (takeMaps) instead of reading them while frozen.
 *
 * @example
 * const site = injectionSite(pid);   // before freezing
 * using frozen = freeze(pid);
 * using inj = Injector.infect(frozen, pid, site);
 */
import { readMaps, type Vma } from '../proc/index.js';
import { findGadgets } from './gadgets.js';
import { STUB_SIZE } from './resume-stub.js';

/** Mappings read by injectionSite() before freezing, taken by the next infect() of that process. */
const preread = new Map<number, readonly Vma[]>();

/**
 * Where Injector runs its first and last call without gadgets: the start of the first executable mapping
 * that is not a kernel special mapping. Call it before freezing and pass the result to infect(): the
 * /proc/PID/maps read and the search of the libraries for the gadgets (read once per file) then stay out
 * of the stopped time.
 */
export function injectionSite(pid: number, maps: readonly Vma[] = readMaps(pid)): number | undefined {
  preread.set(pid, maps);
  findGadgets(maps);
  return firstExecutable(maps);
}

/** Whether injectionSite() read `pid`'s maps and no infect() took them yet (a caller may skip reading again). */
export function sitePreread(pid: number): boolean {
  return preread.has(pid);
}

/** @internal The maps injectionSite() read for `pid` (once: taken), or undefined. */
export function takeMaps(pid: number): readonly Vma[] | undefined {
  const maps = preread.get(pid);
  preread.delete(pid);
  return maps;
}

/** @internal The site of `maps`. */
export function firstExecutable(maps: readonly Vma[]): number | undefined {
  return maps.find((v) => v.exec && v.end - v.start >= STUB_SIZE && !v.path.startsWith('['))?.start;
}
