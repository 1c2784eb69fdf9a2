/**
 * What a pre-dump takes from each VMA, as CRIU decides it in read mode:
 *
 * ```
 * VMA (from /proc/PID/maps)
 *  |- [vvar] [vvar_vclock]                      -> skipped (kernel data, re-created on restore)
 *  |- shared, backed by a file                  -> skipped (the contents live in the file)
 *  |- shared, anonymous (/dev/zero, SYSV, memfd) -> deferred: anonymous shared memory
 *  |- hugetlb (/anon_hugepage)                  -> deferred: hugetlb is not pre-dumped
 *  |- no PROT_READ                              -> guard if nothing is present there, else deferred
 *  |- private, anonymous ('' [heap] [stack] [anon:x] [vdso])  -> 'anon': every present page
 *  '- private, backed by a file                 -> 'file': only its copied-on-write (anonymous) pages
 * ```
 * `[vsyscall]` never gets here: proc/readMaps drops it (its address does not fit a double).
 *
 * @example
 * const plan = planVmas(readMaps(pid));
 * for (const d of plan.dump) console.log(d.kind, d.vma.start.toString(16));
 */
import type { Vma } from '../proc/index.js';
import { PAGE_SIZE } from '../sys/index.js';

/** 'anon': every present page is dumped; 'file': only the pages that are no longer the file's. */
export type DumpKind = 'anon' | 'file';

/** A VMA whose pages are dumped, and how. */
export interface DumpVma {
  readonly vma: Vma;
  readonly kind: DumpKind;
}

/** Why a VMA with possibly present pages is left to a later (frozen) dump. */
export type DeferReason = 'no-prot-read' | 'anon-shared' | 'hugetlb';

/** Why a VMA holds nothing a pre-dump must save. */
export type SkipReason = 'vvar' | 'file-shared';

/** planVmas' answer: what to dump, what to leave for later and why, what holds nothing to save. */
export interface VmaPlan {
  /** VMAs whose pages are dumped, in ascending address order. */
  readonly dump: readonly DumpVma[];
  /** VMAs left out on purpose, with the reason (their present pages are counted by mem/pages). */
  readonly deferred: readonly { readonly vma: Vma; readonly reason: DeferReason }[];
  /** VMAs with nothing to save. */
  readonly skipped: readonly { readonly vma: Vma; readonly reason: SkipReason }[];
}

/**
 * Human words for a DeferReason or SkipReason (for stats and logs).
 *
 * @example
 * REASON_TEXT['no-prot-read']; // 'no PROT_READ (read mode cannot read it; left to the final dump)'
 */
export const REASON_TEXT: Readonly<Record<DeferReason | SkipReason | 'guard', string>> = {
  'no-prot-read': 'no PROT_READ (read mode cannot read it; left to the final dump)',
  'anon-shared': 'anonymous shared memory (pagemap-shmem is not written by a pre-dump yet)',
  hugetlb: 'hugetlb mapping (not pre-dumped, as CRIU)',
  vvar: 'kernel vvar page',
  'file-shared': 'shared file mapping (the contents live in the file)',
  guard: 'guard pages (no access, nothing present)',
};

function isAnonShared(v: Vma): boolean {
  const p = v.path;
  return p === '' || p.startsWith('/dev/zero') || p.startsWith('/SYSV') || p.startsWith('/memfd:');
}

function isAnonPrivate(v: Vma): boolean {
  if (v.inode === 0) return v.path === '' || v.path.startsWith('[');
  return v.path.startsWith('/dev/zero'); // a private /dev/zero mapping is anonymous memory
}

/**
 * Classify VMAs (ascending, as /proc/PID/maps lists them) for a read-mode pre-dump.
 *
 * @example
 * planVmas(readMaps(pid)).deferred.map((d) => d.reason); // e.g. ['no-prot-read']
 */
export function planVmas(vmas: readonly Vma[]): VmaPlan {
  const dump: DumpVma[] = [];
  const deferred: { vma: Vma; reason: DeferReason }[] = [];
  const skipped: { vma: Vma; reason: SkipReason }[] = [];
  for (const v of vmas) {
    if (v.path === '[vvar]' || v.path === '[vvar_vclock]' || v.path === '[vsyscall]') {
      skipped.push({ vma: v, reason: 'vvar' });
    } else if (v.path.startsWith('/anon_hugepage')) {
      deferred.push({ vma: v, reason: 'hugetlb' });
    } else if (!v.private) {
      if (isAnonShared(v)) deferred.push({ vma: v, reason: 'anon-shared' });
      else skipped.push({ vma: v, reason: 'file-shared' });
    } else if (!v.read) {
      deferred.push({ vma: v, reason: 'no-prot-read' });
    } else {
      dump.push({ vma: v, kind: isAnonPrivate(v) ? 'anon' : 'file' });
    }
  }
  return { dump, deferred, skipped };
}

/**
 * Pages spanned by a VMA.
 *
 * @example
 * vmaPages({ ...vma, start: 0x1000, end: 0x5000 }); // 4
 */
export function vmaPages(v: Vma): number {
  return (v.end - v.start) / PAGE_SIZE;
}
