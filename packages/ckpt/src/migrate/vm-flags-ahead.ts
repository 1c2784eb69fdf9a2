/**
 * The root's VmFlags, read while a migration's iterations run, for its final dump. smaps walks every
 * page table (~15 ms a GiB, 57 ms at 4 GiB here); read just before the freeze it delays the freeze, and
 * everything the process writes meanwhile is copied frozen. Read on a libuv thread (the event loop and
 * the copy go on), kept while the VMAs stay the same, read again when they change.
 *
 * ```
 * each iteration:  refresh(): nothing in flight and (none yet, or the VMAs changed) -> start a read
 * the final dump:  take(): the last read if it still matches the VMAs, else one more read, awaited
 * ```
 * A failed read (the process is exiting, ...) leaves nothing: the final dump reads smaps itself.
 *
 * @example
 * const ahead = new VmFlagsAhead(pid);
 * ahead.refresh(); // at each iteration
 * await finalDump({ ..., early: await ahead.take() });
 */
import { type EarlyVmFlags, earlyMatches, readEarlyVmFlagsAsync } from '../dump/full/index.js';
import { readMaps } from '../proc/index.js';

export class VmFlagsAhead {
  private read: Promise<EarlyVmFlags | undefined> | undefined;
  private last: EarlyVmFlags | undefined;
  private inFlight = false;

  constructor(readonly pid: number) {}

  /** Start a read when none is in flight and the last one is missing or stale. Never throws. */
  refresh(): void {
    if (this.inFlight || (this.last && this.fresh(this.last))) return;
    this.start();
  }

  /** The flags by pid for finalDump's `early`: the last read if fresh, else a new one, awaited. */
  async take(): Promise<ReadonlyMap<number, EarlyVmFlags>> {
    let e = await this.read;
    if (!e || !this.fresh(e)) e = await this.start();
    return e ? new Map([[this.pid, e]]) : new Map();
  }

  private start(): Promise<EarlyVmFlags | undefined> {
    this.inFlight = true;
    this.read = readEarlyVmFlagsAsync(this.pid).then(
      (e) => {
        this.inFlight = false;
        this.last = e;
        return e;
      },
      () => {
        this.inFlight = false;
        return undefined;
      },
    );
    return this.read;
  }

  private fresh(e: EarlyVmFlags): boolean {
    try {
      return earlyMatches(e, readMaps(this.pid));
    } catch {
      return false;
    }
  }
}
