/**
 * Huge pages and uffd-wp: async write-protection splits a transparent huge page on the first write to it
 * (the write-protected PMD is split so the fault can be resolved per 4 KiB page). Measured here (Linux
 * 6.18, THP `madvise`): 256 MiB of AnonHugePages fall to 0 kB within a second of a pre-dump of a process
 * that writes to them; 10 s after the chain's end only 16 MiB were huge again (khugepaged is slow).
 *
 * So the tracker notes which parts of its ranges were huge when it armed them (PAGEMAP_SCAN,
 * category PAGE_IS_HUGE), and when tracking ends (release(), once no userfaultfd is registered on them
 * any more: khugepaged and MADV_COLLAPSE both refuse uffd-wp VMAs) it asks the kernel to collapse them
 * again from outside: `process_madvise(pidfd, ranges, MADV_COLLAPSE)` (Linux 6.1+; CAP_SYS_ADMIN for
 * another process's memory, as for ptrace). The collapse is synchronous: ~27 ms for 256 MiB here, a copy
 * of each 2 MiB block into a fresh huge page; it may fail (no free huge page, a part unmapped since):
 * what fails stays split, which only costs the target TLB reach, never correctness.
 *
 * @example
 * const huge = hugeRanges(scanner, ranges);          // when arming
 * collapseHuge(pidfd, huge);                          // after the userfaultfd is gone
 */
import { AlignedBuffer, PAGE_IS, type PagemapScanner, SysError, syscall } from '../../sys/index.js';
import { normalizeRanges } from './range-list.js';
import type { AddressRange } from './tracker.js';

/** process_madvise(2), x86_64. */
const SYS_PROCESS_MADVISE = 440;
const MADV_COLLAPSE = 25;
const HUGE = { categoryMask: PAGE_IS.HUGE | PAGE_IS.PRESENT, returnMask: PAGE_IS.HUGE };

/** The parts of `ranges` backed by huge pages now. */
export function hugeRanges(scanner: PagemapScanner, ranges: readonly AddressRange[]): AddressRange[] {
  const out: AddressRange[] = [];
  for (const r of ranges) scanner.scan(r.start, r.end, HUGE, (start, end) => out.push({ start, end }));
  return normalizeRanges(out);
}

/** What collapseHuge did. */
export interface CollapseResult {
  /** Bytes the kernel collapsed into huge pages. */
  readonly bytes: number;
  /** Ranges it refused, with the errno of the first refusal. */
  readonly failed: number;
  readonly error?: string;
}

/**
 * Collapse `ranges` of the pidfd's process into huge pages (one process_madvise per range, so that a
 * range that fails does not stop the others). Never throws.
 */
export function collapseHuge(pidfd: number, ranges: readonly AddressRange[]): CollapseResult {
  if (ranges.length === 0) return { bytes: 0, failed: 0 };
  const iov = new AlignedBuffer(16, 16);
  const v = new DataView(iov.bytes.buffer, iov.bytes.byteOffset, 16);
  let bytes = 0;
  let failed = 0;
  let error: string | undefined;
  for (const r of ranges) {
    v.setBigUint64(0, BigInt(r.start), true);
    v.setBigUint64(8, BigInt(r.end - r.start), true);
    try {
      bytes += syscall(SYS_PROCESS_MADVISE, pidfd, iov.address, 1, MADV_COLLAPSE, 0);
    } catch (e) {
      failed++;
      error ??= e instanceof SysError ? e.code : (e as Error).message;
    }
  }
  return error === undefined ? { bytes, failed } : { bytes, failed, error };
}
