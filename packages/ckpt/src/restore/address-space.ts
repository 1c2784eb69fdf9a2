/**
 * Rebuilding the address space of the restored process in place, from the trampoline:
 *
 * ```
 * 1. munmap everything but the trampoline, the special mappings and the kept VMAs (the helper's code,
 *    libs, stack; a pre-built process's VMAs that differ from the final mm's)
 * 2. move [vvar][vvar_vclock][vdso] to their dumped addresses (vdso.ts)
 * 3. each VMA not kept: mmap(start, len, prot (+PROT_WRITE while filling), flags | MAP_FIXED, fd, pgoff)
 *      anonymous: fd -1; private or shared file: the file opened in the process by its recorded path
 *      (every file and the exe in one batch with steps 1-2, once per file and flags), its size checked
 *      against the dump's, closed at the end
 * 4. pages from the image chain: process_vm_writev (page-fill.ts) or injected pread64 (page-fill-pread.ts);
 *    a kept VMA (pre-built, mapped writable, holding an older set's chain) gets only the newer pages, and
 *    pages gone since are zeroed (page-delta.ts)
 * 5. mprotect to the recorded protection where write was added; madvise the recorded advice
 * 6. PR_SET_MM_MAP: code/data/brk/stack/args/env, auxv, exe (the helper's exe is unmapped by then)
 * ```
 * Everything runs as injected calls in the stopped process (remote-task.ts), queued: steps 1-2 and the
 * opens are one batch, step 3 another (run before the fill), steps 5-6 join the next; a failure leaves a process
 * that never ran one of its own instructions, which the caller kills.
 *
 * @example
 * const stats = rebuildAddressSpace(task, images, { trampoline, special, park }, chain);
 */
import { statSync } from 'node:fs';
import { type PageChain, VMA_STATUS, type VmaEntry } from '../images/index.js';
import {
  MAP,
  O,
  PAGE_SIZE,
  PR_SET_MM,
  PR_SET_MM_MAP,
  PRCTL_MM_MAP_SIZE,
  PROT,
  prctlMmMap,
  RSYS,
} from '../sys/index.js';
import { RestoreError } from './errors.js';
import { type DataRun, dataRuns, MADV_DONTNEED, pageDelta } from './page-delta.js';
import { type FillStats, fillPages } from './page-fill.js';
import { fillPagesByPread } from './page-fill-pread.js';
import type { RemoteTask } from './remote-task.js';
import { queueOpen } from './task-args.js';
import type { TaskImages } from './task-images.js';
import { TRAMPOLINE_SIZE } from './trampoline.js';
import { moveSpecialMappings, type SpecialPlan } from './vdso.js';

/** The highest user address munmap is asked to clear (47-bit user space). */
const USER_END = 0x7ffffffff000;
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** The kernel's mappings ([vdso], [vvar], [vsyscall]): moved, never mapped. */
export const isSpecial = (v: VmaEntry) =>
  (v.status & (VMA_STATUS.VDSO | VMA_STATUS.VVAR | VMA_STATUS.VSYSCALL)) !== 0;

/** Step 1: unmap every range outside `keep` ([start, end) pairs). */
export function unmapAllBut(task: RemoteTask, keep: [number, number][]): void {
  keep.sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [s, e] of [...keep, [USER_END, USER_END] as [number, number]]) {
    if (s > pos) task.queue(`munmap ${hex(pos)}-${hex(s)}`, RSYS.munmap, [pos, s - pos]);
    pos = Math.max(pos, e);
  }
}

export interface AddressSpaceStats extends FillStats {
  readonly vmas: number;
}

export interface RebuildOptions {
  readonly trampoline: number;
  /** How pages get in: 'writev' (process_vm_writev from our buffer, default) or 'pread' (injected). */
  readonly pageFill?: 'writev' | 'pread';
  readonly special: SpecialPlan;
  /** Where the special mappings park while they move (free in both layouts). */
  readonly park: number;
  /** A pre-built process's VMAs that equal the image's (prebuilt-process.ts): kept, only their delta filled. */
  readonly kept?: KeptVmas;
}

export interface KeptVmas {
  /** The image's VMAs already mapped (writable) in the process. */
  readonly vmas: ReadonlySet<VmaEntry>;
  /** The chain they hold: the image set's parent's (page-delta.ts), open; the image's chain takes it over. */
  readonly old: PageChain;
}

/** Fill `runs` the way `o` says (the queued calls run first: the mappings must be there). */
export function fillRuns(
  task: RemoteTask,
  runs: readonly DataRun[],
  o: { pageFill?: 'writev' | 'pread'; trampoline: number },
): FillStats {
  task.flush();
  return o.pageFill === 'pread' ? fillPagesByPread(task, runs) : fillPages(task.pid, runs);
}

/** Steps 1-6 of the module comment. */
export function rebuildAddressSpace(
  task: RemoteTask,
  t: TaskImages,
  o: RebuildOptions,
  chain: PageChain,
): AddressSpaceStats {
  const kept = o.kept?.vmas ?? new Set<VmaEntry>();
  const keep: [number, number][] = [[o.trampoline, o.trampoline + TRAMPOLINE_SIZE]];
  for (const p of o.special.pieces) keep.push([p.from, p.from + p.size]);
  for (const v of kept) keep.push([Number(v.start), Number(v.end)]);
  unmapAllBut(task, keep);
  moveSpecialMappings(task, o.special, o.park);
  const vmas = t.mm.vmas.filter((v) => !isSpecial(v));
  // every file the mappings and PR_SET_MM_MAP need, opened in one batch with the unmaps above
  const opened = openMappedFiles(
    task,
    t,
    o.trampoline,
    vmas.filter((v) => !kept.has(v)),
  );
  /** VMAs mapped writable for their pages: every kept one, and the fresh ones with data. */
  const writable = new Set<VmaEntry>(kept);
  const fresh: VmaEntry[] = [];
  for (const v of vmas) {
    if (kept.has(v)) continue;
    const start = Number(v.start);
    const len = Number(v.end - v.start);
    if (chain.locate(start, len / PAGE_SIZE).some((l) => l.where !== 'absent')) {
      writable.add(v);
      fresh.push(v);
    }
    mapVma(task, t, v, writable.has(v) ? PROT.WRITE : 0, opened);
  }
  const runs = dataRuns(chain, fresh);
  if (o.kept) {
    const delta = pageDelta(chain, kept, o.kept.old);
    for (const [at, len] of delta.drop)
      task.queue(`madvise(DONTNEED) ${hex(at)}`, RSYS.madvise, [at, len, MADV_DONTNEED]);
    for (const r of delta.fill) runs.push(r); // no spread: a delta has 100k+ runs
  }
  const fill = fillRuns(task, runs, o);
  // a kept VMA may sit in a pre-built mapping of other protection (the pre-build maps what it holds
  // writable, by ranges, not VMA by VMA): each gets its own
  for (const v of writable)
    if ((v.prot & PROT.WRITE) === 0 || kept.has(v))
      task.queue(`mprotect ${hex(v.start)}`, RSYS.mprotect, [
        Number(v.start),
        Number(v.end - v.start),
        v.prot,
      ]);
  for (const v of vmas) adviseVma(task, v);
  setMmFields(task, t, opened.get(exeKey(t))!);
  for (const fd of opened.values()) task.queue(`close fd ${fd}`, RSYS.close, [fd], { mayFail: true });
  return { ...fill, vmas: vmas.length };
}

/** The key of `opened` for a file mapped (or the exe) with open flags `flags`. */
const fileKey = (name: string, flags: number | undefined) => `${flags ?? O.RDONLY}:${name}`;
const exeKey = (t: TaskImages) => fileKey(exeOf(t).name, O.RDONLY);

function exeOf(t: TaskImages): { readonly name: string } {
  const exe = t.files.get(t.mm.exe_file_id)?.reg;
  if (!exe)
    throw new RestoreError(
      'CORRUPT_IMAGE',
      `mm-${t.pid}.img: exe file ${t.mm.exe_file_id} is not in files.img`,
    );
  return exe;
}

/**
 * Open in the process, in one batch (after whatever is queued), every file `vmas` map and the exe: one
 * open per file and flags (a library has 4-5 mappings), each file's size checked against the dump's
 * first. Returns the fds by fileKey; the caller closes them.
 */
function openMappedFiles(
  task: RemoteTask,
  t: TaskImages,
  trampoline: number,
  vmas: readonly VmaEntry[],
): Map<string, number> {
  const want = new Map<string, { name: string; flags: number }>();
  for (const v of vmas) {
    if ((v.status & (VMA_STATUS.FILE_PRIVATE | VMA_STATUS.FILE_SHARED)) === 0) continue;
    const reg = t.files.get(Number(v.shmid))!.reg!;
    let size: number;
    try {
      size = statSync(reg.name).size;
    } catch {
      throw new RestoreError('ENOENT', `${reg.name}: gone (mapped at ${hex(v.start)} in the dump)`);
    }
    if (reg.size !== undefined && BigInt(size) !== reg.size)
      throw new RestoreError(
        'ENOTSUP',
        `${reg.name}: ${size} bytes, ${reg.size} when dumped (mapped at ${hex(v.start)})`,
      );
    want.set(fileKey(reg.name, v.fdflags), { name: reg.name, flags: v.fdflags ?? O.RDONLY });
  }
  want.set(exeKey(t), { name: exeOf(t).name, flags: O.RDONLY });
  const opened = new Map<string, number>();
  for (const [key, f] of want) queueOpen(task, f.name, f.flags, (fd) => opened.set(key, fd));
  task.flush();
  void trampoline;
  return opened;
}

/** Queue the mmap of `v` (its file opened by openMappedFiles). */
function mapVma(
  task: RemoteTask,
  t: TaskImages,
  v: VmaEntry,
  extraProt: number,
  opened: ReadonlyMap<string, number>,
): void {
  const start = Number(v.start);
  const len = Number(v.end - v.start);
  const prot = v.prot | extraProt;
  const flags = (v.flags & ~MAP.FIXED_NOREPLACE) | MAP.FIXED;
  const landed = (what: string) => (r: number) => {
    if (r !== start) throw new RestoreError('EIO', `${what} landed at ${hex(r)}`);
  };
  if (v.status & (VMA_STATUS.FILE_PRIVATE | VMA_STATUS.FILE_SHARED)) {
    const reg = t.files.get(Number(v.shmid))!.reg!;
    const fd = opened.get(fileKey(reg.name, v.fdflags))!;
    const what = `mmap ${reg.name} at ${hex(start)}`;
    task.queue(what, RSYS.mmap, [start, len, prot, flags, fd, Number(v.pgoff)], { onResult: landed(what) });
    return;
  }
  if (v.status & VMA_STATUS.ANON_SHARED)
    throw new RestoreError('ENOTSUP', `anonymous shared memory at ${hex(start)}: not restored yet`);
  const what = `mmap ${hex(start)}-${hex(v.end)}`;
  task.queue(what, RSYS.mmap, [start, len, prot, flags | MAP.ANONYMOUS, -1, 0], { onResult: landed(what) });
}

/** madvise for each recorded advice bit (MADV_DONTFORK, MADV_DONTDUMP, MADV_HUGEPAGE, ...). */
function adviseVma(task: RemoteTask, v: VmaEntry): void {
  const madv = v.madv ?? 0n;
  for (let bit = 0; bit < 64; bit++) {
    if ((madv & (1n << BigInt(bit))) === 0n) continue;
    task.queue(`madvise(${bit}) ${hex(v.start)}`, RSYS.madvise, [
      Number(v.start),
      Number(v.end - v.start),
      bit,
    ]);
  }
}

/** Step 6: PR_SET_MM_MAP with the recorded fields, auxv and exe (`exeFd`: opened by openMappedFiles). */
function setMmFields(task: RemoteTask, t: TaskImages, exeFd: number): void {
  const mm = t.mm;
  const auxv = Buffer.alloc(mm.mm_saved_auxv.length * 8);
  for (const [i, w] of mm.mm_saved_auxv.entries()) auxv.writeBigUInt64LE(w, i * 8);
  // the struct and the auxv after it, in the batch's data: the struct points at the auxv
  const bytes = (at: number) => {
    const map = prctlMmMap({
      startCode: mm.mm_start_code,
      endCode: mm.mm_end_code,
      startData: mm.mm_start_data,
      endData: mm.mm_end_data,
      startBrk: mm.mm_start_brk,
      brk: mm.mm_brk,
      startStack: mm.mm_start_stack,
      argStart: mm.mm_arg_start,
      argEnd: mm.mm_arg_end,
      envStart: mm.mm_env_start,
      envEnd: mm.mm_env_end,
      auxv: at + PRCTL_MM_MAP_SIZE,
      auxvSize: auxv.length,
      exeFd,
    });
    return Buffer.concat([map, auxv]);
  };
  task.queue(
    'prctl(PR_SET_MM_MAP)',
    RSYS.prctl,
    (at) => [PR_SET_MM, PR_SET_MM_MAP, at, PRCTL_MM_MAP_SIZE, 0],
    {
      data: { size: PRCTL_MM_MAP_SIZE + auxv.length, bytes },
    },
  );
}
