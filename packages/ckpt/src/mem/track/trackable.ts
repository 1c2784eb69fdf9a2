/**
 * Which VMAs a tracker follows: writable private mappings, i.e. where a process can change memory that a
 * pre-dump saves.
 *
 * - anonymous private ('' [heap] [stack] [anon:name]): yes;
 * - file-backed private and writable (a library's .data, a MAP_PRIVATE file): yes. With WP_ASYNC the
 *   kernel lets uffd-wp register any memory type, and only the copied-on-write pages of such a mapping
 *   are the process's own data, which is exactly what a write produces;
 * - shared mappings (files, memfd, /dev/zero shared, SysV): no, their contents are dumped elsewhere (or
 *   not at all for files);
 * - read-only, [vvar], [vdso], hugetlb: no; a later mprotect(PROT_WRITE) shows up as a VMA that a maps
 *   diff passes to add().
 *
 * @example
 * tracker.start(trackableRanges(readMaps(pid)));
 */
import type { Vma } from '../../proc/index.js';
import type { AddressRange } from './tracker.js';

/** True for a VMA a tracker should follow (see the module comment). */
export function isTrackable(v: Vma): boolean {
  if (!v.write || !v.private) return false;
  if (v.path.startsWith('/anon_hugepage') || v.path === '[vvar]' || v.path === '[vdso]') return false;
  return true;
}

/** The ranges of the trackable VMAs, in address order. */
export function trackableRanges(vmas: readonly Vma[]): AddressRange[] {
  return vmas.filter(isTrackable).map((v) => ({ start: v.start, end: v.end }));
}
