/**
 * The kernel's special mappings ([vvar], [vvar_vclock], [vdso]) of the process being rebuilt, moved with
 * mremap to where the dump recorded them. Only the same kernel's vdso can take the place of the dumped
 * one (its code is the dumped code's data): the check compares the dumped [vdso] pages with the live ones
 * and refuses otherwise (ENOTSUP), as it refuses a different arrangement of the three.
 *
 * ```
 * live:   [vvar 4p][vvar_vclock 2p][vdso 2p]        image: one VVAR entry (vvar + vvar_vclock), VDSO
 *   1. check sizes and offsets, compare the vdso bytes
 *   2. mremap each piece to the parking area (the targets may overlap the sources)
 *   3. mremap each piece from there to image start + its offset
 * ```
 *
 * @example
 * const plan = planSpecialMappings(readMaps(pid), images.mm.vmas);
 * checkVdso(plan, task, chain); moveSpecialMappings(task, plan, park);
 */
import type { PageChain, VmaEntry } from '../images/index.js';
import { VMA_STATUS } from '../images/index.js';
import type { Vma } from '../proc/index.js';
import { MREMAP, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';

export interface SpecialPiece {
  readonly name: string;
  /** Live address and size in the process being rebuilt. */
  readonly from: number;
  readonly size: number;
  /** Where the dump had it. */
  readonly to: number;
}

export interface SpecialPlan {
  readonly pieces: readonly SpecialPiece[];
  /** The live [vdso], the image's [vdso] address. */
  readonly vdso?: { readonly from: number; readonly to: number; readonly size: number };
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Match the live special mappings with the image's; refuses (ENOTSUP) when they differ in shape. */
export function planSpecialMappings(live: readonly Vma[], vmas: readonly VmaEntry[]): SpecialPlan {
  const liveVvar = live.filter((v) => v.path === '[vvar]' || v.path === '[vvar_vclock]');
  const liveVdso = live.find((v) => v.path === '[vdso]');
  const imgVvar = vmas.find((v) => v.status & VMA_STATUS.VVAR);
  const imgVdso = vmas.find((v) => v.status & VMA_STATUS.VDSO);
  const differ = (why: string) =>
    new RestoreError(
      'ENOTSUP',
      `the kernel's vdso differs from the dump's (${why}): restore on the kernel that dumped`,
    );
  if (!imgVdso || !liveVdso) {
    if (imgVdso || liveVdso) throw differ(imgVdso ? 'no vdso here' : 'the dump has no vdso');
    return { pieces: [] };
  }
  const vdsoTo = Number(imgVdso.start);
  const vdsoSize = Number(imgVdso.end - imgVdso.start);
  if (vdsoSize !== liveVdso.end - liveVdso.start)
    throw differ(`vdso of ${vdsoSize} bytes, here ${liveVdso.end - liveVdso.start}`);
  const pieces: SpecialPiece[] = [{ name: '[vdso]', from: liveVdso.start, size: vdsoSize, to: vdsoTo }];
  if (imgVvar) {
    const liveStart = liveVvar[0]?.start ?? 0;
    const liveSize = liveVvar.reduce((n, v) => n + v.end - v.start, 0);
    const imgSize = Number(imgVvar.end - imgVvar.start);
    if (liveSize !== imgSize) throw differ(`vvar of ${imgSize} bytes, here ${liveSize}`);
    if (Number(imgVvar.start) - vdsoTo !== liveStart - liveVdso.start)
      throw differ(`vvar at ${hex(Number(imgVvar.start))} and vdso at ${hex(vdsoTo)}: another arrangement`);
    for (const v of liveVvar)
      pieces.push({
        name: v.path,
        from: v.start,
        size: v.end - v.start,
        to: Number(imgVvar.start) + (v.start - liveStart),
      });
  }
  return { pieces, vdso: { from: liveVdso.start, to: vdsoTo, size: vdsoSize } };
}

/** Refuse (ENOTSUP) when the dumped vdso pages are not the live vdso's bytes. */
export function checkVdso(plan: SpecialPlan, task: RemoteTask, chain: PageChain): void {
  const v = plan.vdso;
  if (!v) return;
  const live = task.peek(v.from, v.size); // the queued calls leave the vdso alone: no stop for them
  for (let off = 0; off < v.size; off += 4096) {
    const page = chain.page(v.to + off);
    if (page === 'absent') continue;
    if (!page.equals(live.subarray(off, off + 4096)))
      throw new RestoreError(
        'ENOTSUP',
        `the kernel's vdso differs from the dump's (page ${off / 4096} of [vdso]): restore on the kernel that dumped`,
      );
  }
}

/** Total bytes of the pieces (the parking area needed). */
export function parkingSize(plan: SpecialPlan): number {
  return plan.pieces.reduce((n, p) => n + p.size, 0);
}

/** Move every piece to the parking area at `park`, then to its recorded address. */
export function moveSpecialMappings(task: RemoteTask, plan: SpecialPlan, park: number): void {
  const flags = MREMAP.MAYMOVE | MREMAP.FIXED;
  const parked: number[] = [];
  let at = park;
  for (const p of plan.pieces) {
    task.queue(`mremap ${p.name} to the parking area`, RSYS.mremap, [p.from, p.size, p.size, flags, at]);
    parked.push(at);
    at += p.size;
  }
  plan.pieces.forEach((p, i) => {
    task.queue(`mremap ${p.name} to ${hex(p.to)}`, RSYS.mremap, [parked[i]!, p.size, p.size, flags, p.to]);
  });
}
