/**
 * Filling the rebuilt mappings with the dumped pages: each VMA's range is located along the image chain
 * (PE_PARENT holes resolved to the parent that holds the data; pages no image holds stay as mapped:
 * zero, or the file's content), read from the pages files into one page-aligned buffer and written into
 * the process with process_vm_writev, many runs per call. The mappings are writable at this point
 * (address-space.ts maps them so and protects them after).
 *
 * ```
 * vma -> chain.locate -> data runs (pages file, offset) -> pread into buf (4 MiB; runs adjacent in the
 *        file and the buffer read at once) -> process_vm_writev
 * ```
 * The runs come from page-delta.ts: every data run of a freshly mapped VMA (dataRuns), or only those a
 * pre-built process does not hold yet (pageDelta).
 *
 * @example
 * const { pages } = fillPages(pid, dataRuns(chain, vmas));
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { AlignedBuffer, IOV_MAX, IovecArray, PAGE_SIZE, processVmWritev } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { DataRun } from './page-delta.js';

const BUFFER = 4 << 20;

/**
 * One buffer and iovec set for every fill (fillPages is synchronous, so never re-entered): a pre-build
 * fills in slices of a few MiB, and a fresh 4 MiB buffer touched per call cost as much as the fill.
 */
let shared: { buf: AlignedBuffer; local: IovecArray; remote: IovecArray } | undefined;

export interface FillStats {
  /** Pages written into the process. */
  pages: number;
  /** process_vm_writev calls. */
  writes: number;
}

/** Write the pages of `runs` into process `pid`. */
export function fillPages(pid: number, runs: Iterable<DataRun>): FillStats {
  shared ??= { buf: new AlignedBuffer(BUFFER), local: new IovecArray(1), remote: new IovecArray(IOV_MAX) };
  const { buf, local, remote } = shared;
  remote.clear();
  const fds = new Map<string, number>();
  const stats: FillStats = { pages: 0, writes: 0 };
  let used = 0;
  /**
   * The read not issued yet: runs that follow each other in one pages file and in the buffer become one
   * pread (a chain of incremental sets locates mostly one-page runs: a pread each cost seconds at 4 GiB).
   */
  let rd: { fd: number; path: string; offset: number; at: number; len: number } | undefined;
  const readPending = () => {
    if (!rd) return;
    const got = readSync(rd.fd, buf.bytes, rd.at, rd.len, rd.offset);
    if (got !== rd.len)
      throw new RestoreError(
        'CORRUPT_IMAGE',
        `${rd.path}: ${rd.len} bytes wanted at ${rd.offset}, ${got} there`,
      );
    rd = undefined;
  };
  const flush = () => {
    readPending();
    if (used === 0) return;
    local.clear();
    local.push(buf.address, used);
    const n = processVmWritev(pid, local, remote);
    if (n !== used)
      throw new RestoreError('EIO', `process_vm_writev into process ${pid}: ${n} of ${used} bytes written`);
    stats.writes++;
    stats.pages += used / PAGE_SIZE;
    used = 0;
    remote.clear();
  };
  try {
    for (const loc of runs) {
      let fd = fds.get(loc.pagesPath);
      if (fd === undefined) {
        fd = openSync(loc.pagesPath, 'r');
        fds.set(loc.pagesPath, fd);
      }
      let done = 0;
      const total = loc.nrPages * PAGE_SIZE;
      while (done < total) {
        if (used === BUFFER || remote.full) flush();
        const len = Math.min(total - done, BUFFER - used);
        const off = loc.offset + done;
        if (rd && rd.fd === fd && rd.offset + rd.len === off && rd.at + rd.len === used) rd.len += len;
        else {
          readPending();
          rd = { fd, path: loc.pagesPath, offset: off, at: used, len };
        }
        remote.push(loc.vaddr + done, len);
        used += len;
        done += len;
      }
    }
    flush();
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  return stats;
}
