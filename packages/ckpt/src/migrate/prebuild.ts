/**
 * The destination's pre-build: the root process built from each received image set while the source
 * still runs (restore/prebuilt-process.ts), so that after the freeze the restore only reconciles and
 * fills the last delta. Jobs run one after the other, behind the frame loop (each fill yields between
 * slices, so the next set keeps coming in meanwhile).
 *
 * ```
 * SET n {preview} ... SET_DONE -> SET_OK, then push(DIR/n, preview):
 *   first: PrebuiltProcess.start(pid, preview) -> advance(DIR/n)      later: advance(DIR/n)
 * DRAIN -> idle(): waits for the jobs (the source freezes only then: a restore waiting for a pre-build
 *          would wait with the source frozen)
 * RESTORE -> take(): waits for the jobs; the process, or undefined (none, or a job failed: it is killed,
 *            the reason logged, and the restore goes the plain way)
 * kill(): on any failure, ABORT, lost connection or cancellation (safe twice; nothing left)
 * ```
 * A failed pre-build never fails the migration: it only costs the downtime it would have saved.
 *
 * @example
 * const pb = new Prebuild(log);
 * pb.push('/srv/mig/1', preview);
 * const prebuilt = await pb.take(); // at RESTORE
 */
import { PrebuiltProcess, type VmaPreview, warmDecoders } from '../restore/index.js';

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
  private failed = false;
  private ended = false;

  constructor(
    private readonly log: (line: string) => void,
    private readonly pageFill: 'writev' | 'pread' = 'writev',
  ) {}

  /** Queue the pre-build of the complete set `dir`. */
  push(dir: string, preview: SetPreview): void {
    this.tail = this.tail.then(async () => {
      if (this.failed || this.ended) return;
      try {
        const t0 = performance.now();
        if (!this.process) {
          this.process = PrebuiltProcess.start(preview.pid, preview.vmas, {
            shellJob: preview.shellJob,
            pageFill: this.pageFill,
          });
          warmDecoders(); // the restore's image decoders, off the downtime
        }
        const s = await this.process.advance(dir, preview.vmas);
        this.log(
          `pre-built ${dir}: ${s.pages} pages filled, ${s.mapped} mappings mapped, ${s.unmapped} unmapped, ${s.dropped} ranges zeroed (${(performance.now() - t0).toFixed(0)} ms)`,
        );
      } catch (e) {
        this.failed = true;
        this.process?.kill();
        this.process = undefined;
        this.log(
          `pre-build stopped at ${dir}: ${e instanceof Error ? e.message : String(e)}; the restore goes the plain way`,
        );
      }
    });
  }

  /** Wait for the queued jobs; the pre-built process (now the caller's), or undefined. */
  /** Resolves once every set pushed so far is pre-built (or the pre-build stopped). */
  async idle(): Promise<void> {
    await this.tail;
  }

  async take(): Promise<PrebuiltProcess | undefined> {
    await this.tail;
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
