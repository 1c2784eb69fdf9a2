/**
 * The destination's pre-build: the root process built from each received image set while the source
 * still runs (restore/prebuilt-process.ts), so that after the freeze the restore only reconciles and
 * fills the last delta. The pages of its anonymous memory go straight into that process as they arrive
 * (the set's session writes them through `HeldMemory`, PE_LAZY in the set's pagemap): nothing of them is
 * written to disk or read back on this side.
 *
 * ```
 * SET n {preview} -> prepare(preview): waits for the previous set's job; first: PrebuiltProcess.start;
 *                    the held ranges become the preview's -> the writer for set n's session, and the
 *                    chain it holds (set n-1's, decoded once: the session checks holes against it)
 * ... SET_DONE -> SET_OK, then push(DIR/n): advance(DIR/n) (pages gone since zeroed) behind the frame loop
 * DRAIN -> idle(): waits for the jobs (the source freezes only then)
 * RESTORE -> take(): waits for the jobs; the process, or undefined (none: the restore goes the plain way)
 * kill(): on any failure, ABORT, lost connection or cancellation (safe twice; nothing left)
 * ```
 * A pre-build that fails before any set's pages went into it only costs the downtime it would have saved
 * (the sets are files, the plain restore follows). Once pages are held only in the process, its loss
 * fails the migration (MigrateError PREBUILD): the source is thawed and runs on.
 *
 * @example
 * const pb = new Prebuild(log);
 * const p = await pb.prepare('/srv/mig/1', preview);   // SET n: the session's `held`, `parentChain`
 * pb.push('/srv/mig/1');                    // SET_DONE
 * const prebuilt = await pb.take();         // RESTORE
 */

import { type PageChain, rehearseCodecs } from '../images/index.js';
import { PrebuiltProcess, type VmaPreview, warmRestoreReads } from '../restore/index.js';
import type { HeldPages } from '../xfer/index.js';
import { MigrateError } from './errors.js';

/** The preview a SET frame carries (the source's root, read from /proc/PID/maps as the set starts). */
export interface SetPreview {
  readonly pid: number;
  readonly shellJob: boolean;
  readonly vmas: readonly VmaPreview[];
}

/** The SET frame's `preview` field, checked; undefined when absent or malformed (then no pre-build). */
export function parsePreview(v: unknown): SetPreview | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const p = v as Record<string, unknown>;
  if (!Number.isInteger(p.pid) || !Array.isArray(p.vmas)) return undefined;
  const vmas: VmaPreview[] = [];
  for (const x of p.vmas) {
    if (!Array.isArray(x) || x.length !== 3 || !x.every((n) => Number.isSafeInteger(n) && n >= 0))
      return undefined;
    const [start, end, prot] = x as [number, number, number];
    if (start % 4096 !== 0 || end % 4096 !== 0 || end <= start || prot > 7) return undefined;
    vmas.push({ start, end, prot });
  }
  return { pid: p.pid as number, shellJob: p.shellJob === true, vmas };
}

export class Prebuild {
  private process: PrebuiltProcess | undefined;
  private tail: Promise<void> = Promise.resolve();
  private failed: string | undefined;
  private ended = false;
  /** Sets whose pages went into the process (lost with it). */
  private heldSets = 0;
  private t0 = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly pageFill: 'writev' | 'pread' = 'writev',
  ) {}

  /**
   * Before set `dir`'s pages arrive: the writer its session puts the root's held pages through, or
   * undefined (no pre-build: the set is written as files). Throws MigrateError PREBUILD when the
   * pre-build failed with pages held.
   */
  async prepare(
    dir: string,
    preview: SetPreview,
  ): Promise<{ held: HeldPages; parentChain: PageChain | undefined } | undefined> {
    await this.tail;
    this.check();
    if (this.failed !== undefined || this.ended) return undefined;
    this.t0 = performance.now();
    try {
      if (!this.process) {
        this.process = PrebuiltProcess.start(preview.pid, preview.vmas, {
          shellJob: preview.shellJob,
          pageFill: this.pageFill,
        });
        // the restore's image decoders generated and run optimized, off the downtime (cold, the final
        // set's images took ~13 ms of it to decode: 3 cores, mm, ...); ~0.2 s while the first set comes
        rehearseCodecs();
        // and its first reads of a task's state (several times slower cold: restore-warmup.ts)
        warmRestoreReads(this.process.pid);
      }
      const held = this.process.prepare(preview.vmas);
      this.heldSets++;
      return { held, parentChain: this.process.chain };
    } catch (e) {
      this.stop(dir, e);
      this.check();
      return undefined;
    }
  }

  /**
   * The chain the pre-built process holds, once the jobs so far are done (the final set's session checks
   * its holes against it: not decoded again while the source is frozen); undefined without one.
   */
  async chain(): Promise<PageChain | undefined> {
    await this.tail;
    return this.failed === undefined && !this.ended ? this.process?.chain : undefined;
  }

  /** Queue the pre-build of the complete set `dir` (prepared before its pages came). */
  push(dir: string): void {
    this.tail = this.tail.then(async () => {
      if (this.failed !== undefined || this.ended || !this.process) return;
      try {
        const s = await this.process.advance(dir);
        this.log(
          `pre-built ${dir}: ${s.held} pages held as received, ${s.pages} filled from files, ${s.mapped} ranges mapped, ${s.unmapped} unmapped, ${s.dropped} zeroed (${(performance.now() - this.t0).toFixed(0)} ms)`,
        );
      } catch (e) {
        this.stop(dir, e);
      }
    });
  }

  private stop(dir: string, e: unknown): void {
    this.failed = `pre-build stopped at ${dir}: ${e instanceof Error ? e.message : String(e)}`;
    this.process?.kill();
    this.process = undefined;
    this.log(this.heldSets > 0 ? this.failed : `${this.failed}; the restore goes the plain way`);
  }

  /** Throws once the pre-build failed with pages held only in its process. */
  private check(): void {
    if (this.failed !== undefined && this.heldSets > 0)
      throw new MigrateError('PREBUILD', `${this.failed}: the pages held there are lost`);
  }

  /** Wait for the queued jobs; the pre-built process (now the caller's), or undefined. */
  /** Resolves once every set pushed so far is pre-built (or the pre-build stopped). */
  async idle(): Promise<void> {
    await this.tail;
  }

  async take(): Promise<PrebuiltProcess | undefined> {
    await this.tail;
    this.check();
    const p = this.process;
    this.process = undefined;
    this.ended = true;
    return p;
  }

  /** Kill the pre-built process, if any, and stop the queued jobs. Safe twice. */
  kill(): void {
    this.ended = true;
    this.process?.kill();
    this.process = undefined;
  }
}
