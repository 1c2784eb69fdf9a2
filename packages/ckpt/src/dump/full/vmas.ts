/**
 * /proc/PID/maps + smaps VmFlags -> CRIU's `vma_entry` list, as `criu dump` writes it:
 *
 * ```
 * maps path          status (VMA_AREA_*, VMA_*)              flags
 * [heap]             REGULAR | ANON_PRIVATE | HEAP           MAP_PRIVATE | MAP_ANONYMOUS
 * [stack], ''        REGULAR | ANON_PRIVATE                  MAP_PRIVATE | MAP_ANONYMOUS (| MAP_GROWSDOWN: VmFlags gd)
 * [vdso]             REGULAR | ANON_PRIVATE | VDSO           MAP_PRIVATE | MAP_ANONYMOUS
 * [vvar][vvar_vclock] REGULAR | ANON_PRIVATE | VVAR (one entry, as CRIU merges them)
 * /file, private     REGULAR | FILE_PRIVATE, shmid = reg id   MAP_PRIVATE, fdflags O_RDONLY
 * /file, shared      REGULAR | FILE_SHARED,  shmid = reg id   MAP_SHARED,  fdflags O_RDWR when writable
 * ```
 * madv: 1 << MADV_DONTDUMP (dd), MADV_HUGEPAGE (hg), MADV_NOHUGEPAGE (nh), MADV_MERGEABLE (mg),
 * MADV_DONTFORK (dc) from VmFlags. [vsyscall] is left out (restore skips it). What cannot be restored
 * (anonymous shared memory, hugetlb, deleted or memfd files, SysV shm, AIO rings) is refused before this
 * runs (refuse.ts).
 *
 * @example
 * const vmas = vmaEntries(pid, readMaps(pid), readVmFlags(pid), files);
 */
import { statSync } from 'node:fs';
import { VMA_STATUS, type VmaEntry } from '../../images/index.js';
import type { Vma } from '../../proc/index.js';
import type { FileTable } from './file-table.js';

const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_GROWSDOWN = 0x100;
const MAP_NORESERVE = 0x4000;
const O_RDWR = 2;

const MADV_BY_FLAG: Readonly<Record<string, number>> = { dd: 16, hg: 14, nh: 15, mg: 12, dc: 10 };

const hex = (n: number) => n.toString(16);

function prot(v: Vma): number {
  return (v.read ? 1 : 0) | (v.write ? 2 : 0) | (v.exec ? 4 : 0);
}

function madv(flags: ReadonlySet<string> | undefined): bigint | undefined {
  if (!flags) return undefined;
  let m = 0n;
  for (const f of flags) {
    const bit = MADV_BY_FLAG[f];
    if (bit !== undefined) m |= 1n << BigInt(bit);
  }
  return m === 0n ? undefined : m;
}

/** The vma_entry list of process `pid`; file mappings get REG ids from `files`. */
export function vmaEntries(
  pid: number,
  maps: readonly Vma[],
  vmFlags: ReadonlyMap<number, ReadonlySet<string>>,
  files: FileTable,
): VmaEntry[] {
  const out: VmaEntry[] = [];
  for (const v of maps) {
    const flags = vmFlags.get(v.start);
    const extra = (flags?.has('gd') ? MAP_GROWSDOWN : 0) | (flags?.has('nr') ? MAP_NORESERVE : 0);
    const base = {
      start: BigInt(v.start),
      end: BigInt(v.end),
      pgoff: 0n,
      shmid: 0n,
      prot: prot(v),
      fd: -1n,
    };
    const m = madv(flags);
    if (v.path === '[vvar_vclock]' || v.path === '[vvar]') {
      const last = out[out.length - 1];
      if (v.path === '[vvar_vclock]' && last && last.status & VMA_STATUS.VVAR && last.end === base.start) {
        last.end = base.end;
        continue;
      }
      out.push({
        ...base,
        flags: MAP_PRIVATE | MAP_ANONYMOUS,
        status: VMA_STATUS.REGULAR | VMA_STATUS.ANON_PRIVATE | VMA_STATUS.VVAR,
        ...(m !== undefined ? { madv: m } : {}),
      });
      continue;
    }
    const anon = v.inode === 0 || v.path === '' || v.path.startsWith('[');
    if (anon) {
      let status = VMA_STATUS.REGULAR | VMA_STATUS.ANON_PRIVATE;
      if (v.path === '[heap]') status |= VMA_STATUS.HEAP;
      if (v.path === '[vdso]') status |= VMA_STATUS.VDSO;
      out.push({
        ...base,
        flags: MAP_PRIVATE | MAP_ANONYMOUS | extra,
        status,
        ...(m !== undefined && v.path !== '[vdso]' ? { madv: m } : {}),
      });
      continue;
    }
    const st = statSync(`/proc/${pid}/map_files/${hex(v.start)}-${hex(v.end)}`);
    const id = files.regFile(
      { path: v.path, flags: 0, pos: 0, mode: Number(st.mode), size: Number(st.size) },
      `map:${st.dev}:${st.ino}`,
    );
    out.push({
      ...base,
      pgoff: BigInt(v.offset),
      shmid: BigInt(id),
      flags: (v.private ? MAP_PRIVATE : MAP_SHARED) | extra,
      status: VMA_STATUS.REGULAR | (v.private ? VMA_STATUS.FILE_PRIVATE : VMA_STATUS.FILE_SHARED),
      ...(m !== undefined ? { madv: m } : {}),
      fdflags: !v.private && v.write ? O_RDWR : 0,
    });
  }
  return out;
}
