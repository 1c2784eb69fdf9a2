/**
 * fullDumpProcess: the first interface of the full dump (kept for its callers), now finalDump
 * (final-dump.ts, the one tree driver on DumpPipeline) with its defaults: the whole tree, every page as
 * data (no parent), killed after the complete dump unless `leaveRunning`.
 *
 * @example
 * await fullDumpProcess({ pid, imagesDir: '/ckpt/final' }); // the process is gone; criu restore -D /ckpt/final
 */
import { finalDump } from './final-dump.js';
import type { TaskState } from './task-state.js';

export interface FullDumpOptions {
  readonly pid: number;
  readonly imagesDir: string;
  /** Thaw the process after the dump instead of killing it. */
  readonly leaveRunning?: boolean;
}

export interface FullDumpResult {
  /** Root first. */
  readonly states: readonly TaskState[];
  readonly pagesWritten: number;
}

/** Dump process `pid` and its descendants in full. Throws DumpError (ENOTSUP lists the refusals). */
export async function fullDumpProcess(o: FullDumpOptions): Promise<FullDumpResult> {
  const r = await finalDump(o);
  return { states: r.states, pagesWritten: r.pagesWritten };
}
