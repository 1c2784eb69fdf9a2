/**
 * The uffd-wp tracker: async userfaultfd write-protection + PAGEMAP_SCAN, for kernels without soft-dirty.
 * The target is stopped only for the injected syscalls of start() (`userfaultfd()`, then `close()` unless
 * persisting); registration, arming and every collect() run while it runs.
 *
 * start(ranges):
 *  1. freeze (or use the caller's FrozenProcess), inject `userfaultfd(O_CLOEXEC|O_NONBLOCK|
 *     UFFD_USER_MODE_ONLY)`, take a copy with pidfd_getfd, inject `close()` (not with `persist`), cure, thaw;
 *  2. on our copy: UFFDIO_API(WP_ASYNC|WP_UNPOPULATED); UFFDIO_REGISTER(MODE_WP) per range (a range the
 *     kernel refuses is kept as "untracked": every collect reports all its present pages);
 *  3. arm: PAGEMAP_SCAN(WP_MATCHING|CHECK_WPASYNC) with no output vector write-protects every page (holes
 *     get markers). Before arming every page reads as written, so this first walk reports nothing.
 * Arming happens after thaw: a write between thaw and arming is not reported, but the dump layer reads
 * the pages after start() returns (see tracker.ts), so it sees the written data.
 *
 * collect(): PAGEMAP_SCAN(WP_MATCHING, category WRITTEN, return WRITTEN|PRESENT) over each registered
 * range: reports written pages and re-protects them in the same walk. PAGE_IS_FILE is in no mask (it makes
 * the walk 4-10x slower). Then a probe (category NOT WPALLOWED, which the kernel decides per VMA without
 * walking page tables) finds VMAs of the range that are not registered (munmap then mmap in the same
 * place, a VMA mremapped there): they are registered, reported in full and armed. CHECK_WPASYNC is not
 * used while collecting: its EPERM comes after the walk has already re-armed the pages before the
 * offending VMA, and those writes would be lost. A munmapped part is skipped by the walk; a VMA mremapped
 * elsewhere shows up as new in the maps diff.
 *
 * Persistence across runs (see README.md): with `persist`, the target keeps the userfaultfd open; save()
 * returns a JSON-able state; resume(state) takes it again (no injection) or returns why it cannot;
 * release() closes the target's fd by injection. What stays in the target is written down BEFORE the
 * injection (track-record.ts, /run/ckpt/track): start() first closes what an earlier run left in the same
 * process (leftover.ts), and until close() or release(), SIGINT/SIGTERM/SIGHUP and uncaught exceptions
 * release it (ptrace/registry.ts addCleanup). A SIGKILL leaves the record: the next run closes it.
 *
 * Huge pages (huge-pages.ts): write-protection splits a THP on its first write; release() collapses the
 * parts that were huge when armed, once the userfaultfd is gone.
 *
 * @example
 * using t = new UffdWpTracker(pid);
 * t.start(trackableRanges(readMaps(pid)));   // target stopped ~1 ms
 * // ... read all present pages ...
 * t.collect((start, end, present) => toRead.push([start, end, present]));
 */
import { fstatSync } from 'node:fs';
import { readMaps, readStartTimeMicros, type Vma } from '../../proc/index.js';
import {
  addCleanup,
  checkedBatch,
  type FrozenProcess,
  freeze,
  Injector,
  injectionSite,
  PtraceError,
} from '../../ptrace/index.js';
import {
  closeFd,
  KernelUnsupportedError,
  PAGE_IS,
  PagemapScanner,
  PM_SCAN_CHECK_WPASYNC,
  PM_SCAN_WP_MATCHING,
  pidfdGetfd,
  pidfdOpen,
  SYS,
  SysError,
} from '../../sys/index.js';
import { MemError } from '../errors.js';
import { collapseHuge, hugeRanges } from './huge-pages.js';
import { closeLeftovers } from './leftover.js';
import { intersectRanges, normalizeRanges, subtractRanges } from './range-list.js';
import { raiseThread } from './thread-priority.js';
import {
  findRecord,
  isSameUserfaultfd,
  recordIntent,
  recordOwner,
  recordTracking,
  removeRecord,
  type TrackRecord,
} from './track-record.js';
import { isTrackable } from './trackable.js';
import type {
  AddressRange,
  CollectOptions,
  CollectResult,
  DirtyTracker,
  WrittenRangeCallback,
} from './tracker.js';
import { stateMismatch, stateShapeProblem, type UffdWpState } from './uffd-wp-state.js';
import { type UnregisterFigures, unregisterPaced } from './unregister-pace.js';
import { UFFD_OPEN_FLAGS, Userfaultfd } from './userfaultfd.js';

export interface UffdWpOptions {
  /** Inject through this frozen process (the caller thaws it) instead of freezing briefly. */
  readonly frozen?: FrozenProcess;
  /** Keep the userfaultfd open in the target, so that save()/resume() can carry tracking to a later run. */
  readonly persist?: boolean;
}

/** Timings of start(), in microseconds. */
export interface UffdWpSetupStats {
  /** The target was stopped this long (0 when the caller froze it): freeze + injection + thaw. */
  stoppedMicros: number;
  /** Of which: until every thread was stopped. */
  freezeMicros: number;
  injectMicros: number;
  registerMicros: number;
  armMicros: number;
  /** Ranges registered / refused by the kernel. */
  registered: number;
  refused: number;
}

const WPM = PM_SCAN_WP_MATCHING;
const ARM = { flags: WPM | PM_SCAN_CHECK_WPASYNC };
/** No CHECK_WPASYNC: an unregistered VMA inside a range is skipped, not an EPERM after the walk already
 * re-armed (and so consumed) the written pages before it; a cheap VMA-level probe finds such VMAs. */
const COLLECT = {
  flags: WPM,
  categoryMask: PAGE_IS.WRITTEN,
  returnMask: PAGE_IS.WRITTEN | PAGE_IS.PRESENT,
};
/** The chain's last collect: the written pages, nothing write-protected again. */
const COLLECT_LAST = { categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN | PAGE_IS.PRESENT };
const PRESENT = { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT };
const UNREGISTERED = {
  categoryInverted: PAGE_IS.WPALLOWED,
  categoryMask: PAGE_IS.WPALLOWED,
  returnMask: PAGE_IS.WPALLOWED,
};

/**
 * The MemError for a failure of the tracker on `pid` (ESRCH and EPERM keep their meaning, from a SysError,
 * a ProcError or an fs error alike; the rest is EIO).
 */
export function memError(e: unknown, pid: number, what: string): Error {
  if (e instanceof MemError || e instanceof KernelUnsupportedError) return e;
  const code = (e as { code?: string }).code;
  if (code === 'ESRCH' || code === 'ECHILD')
    return new MemError('ESRCH', `process ${pid} is gone`, { cause: e });
  if (code === 'EPERM') return new MemError('EPERM', `not permitted to ${what} ${pid}`, { cause: e });
  return new MemError('EIO', `${what} ${pid}: ${(e as Error).message}`, { cause: e });
}

const isEperm = (e: unknown) => e instanceof SysError && e.code === 'EPERM';

/**
 * Run `f` once `frozen` (the caller's) is thawed: now if it is not frozen (or not given), else from a
 * timer polling its state (the dump thaws right after the images are committed; the timer keeps the
 * process alive until then).
 */
function afterThaw(frozen: FrozenProcess | undefined, f: () => void): void {
  if (frozen?.state !== 'frozen') {
    f();
    return;
  }
  const poll = () => {
    if (frozen.state === 'frozen') setTimeout(poll, 1);
    else f();
  };
  setTimeout(poll, 1);
}

/** Why UFFDIO_REGISTER refused a range, for the fallback message. */
function refusalReason(e: unknown): string {
  const code = e instanceof SysError ? e.code : (e as Error).message;
  return code === 'EBUSY'
    ? "EBUSY: another userfaultfd already tracks them (the target's own, a running ckpt's, or one left " +
        'without a record: `ckpt track --stop -t PID --force`)'
    : `the kernel refused to track them (${code})`;
}

export class UffdWpTracker implements DirtyTracker {
  readonly kind = 'uffd-wp' as const;
  /** The caller need not freeze: start() stops the target itself, only for the injected syscalls. */
  readonly needsFreeze = false;
  readonly setup: UffdWpSetupStats = {
    stoppedMicros: 0,
    freezeMicros: 0,
    injectMicros: 0,
    registerMicros: 0,
    armMicros: 0,
    registered: 0,
    refused: 0,
  };
  private uffd: Userfaultfd | undefined;
  private pidfd = -1;
  private scanner: PagemapScanner | undefined;
  private registered: AddressRange[] = [];
  private untracked: AddressRange[] = [];
  private targetFd = -1;
  private inode = 0;
  private started = false;
  /** Parts of the registered ranges that were huge pages when armed (collapsed again by release()). */
  private huge: AddressRange[] = [];
  private refusal: string | undefined;
  /** What the target holds, on disk (persist only). */
  private record: TrackRecord | undefined;
  /** Forgets the release-on-signal hook. */
  private unhook: (() => void) | undefined;
  /** What release() gave back (huge pages collapsed); set after the caller's thaw when it passed `frozen`. */
  collapsed: ReturnType<typeof collapseHuge> | undefined;
  /** How release() unregistered the ranges (unregister-pace.ts); undefined before, or with nothing to do. */
  unregistered: UnregisterFigures | undefined;

  constructor(
    readonly pid: number,
    private readonly options: UffdWpOptions = {},
  ) {}

  start(ranges: readonly AddressRange[]): void {
    if (this.started) throw new MemError('EIO', 'tracker already started');
    this.started = true;
    try {
      this.pidfd = pidfdOpen(this.pid);
      this.scanner = PagemapScanner.open(this.pid);
      if (this.options.persist) {
        closeLeftovers(this.pid, { frozen: this.options.frozen });
        this.record = recordIntent(this.pid);
        this.unhook = addCleanup(() => this.releaseOnWayOut());
      }
      this.infect();
      this.inode = fstatSync(this.uffd!.fd).ino;
      if (this.record) this.record = recordTracking(this.record, { fd: this.targetFd, inode: this.inode });
      this.uffd!.enableAsyncWp();
    } catch (e) {
      try {
        this.release(); // closes the target's fd too, if persisting
      } catch {
        /* the original error matters more */
      }
      throw memError(e, this.pid, 'set up tracking in');
    }
    this.add(ranges);
    if (this.record && this.huge.length > 0 && this.record.uffd) {
      const huge = this.huge.map((r) => [r.start, r.end] as const);
      this.record = recordTracking(this.record, this.record.uffd, huge); // for a later `ckpt track --stop`
    }
  }

  /** Stop the target (or use the caller's frozen process) for the injected syscalls only. */
  private infect(): void {
    const site = injectionSite(this.pid);
    const frozen = this.options.frozen ?? freeze(this.pid);
    try {
      using inj = Injector.infect(frozen, this.pid, site);
      let tfd: number;
      try {
        tfd = inj.call('userfaultfd', SYS.userfaultfd, UFFD_OPEN_FLAGS);
      } catch (e) {
        if (e instanceof PtraceError && (e.errno === 'ENOSYS' || e.errno === 'EINVAL')) {
          throw new KernelUnsupportedError('userfaultfd() in the target', { cause: e });
        }
        throw e;
      }
      try {
        this.uffd = new Userfaultfd(pidfdGetfd(this.pidfd, tfd));
      } catch (e) {
        inj.syscall(SYS.close, tfd); // leave nothing behind in the target
        throw e;
      }
      if (this.options.persist) this.targetFd = tfd;
      else inj.call('close', SYS.close, tfd);
      this.setup.injectMicros = inj.stats.micros;
    } finally {
      if (!this.options.frozen) frozen.thaw();
    }
    if (!this.options.frozen) {
      this.setup.stoppedMicros = frozen.stats.stoppedMicros;
      this.setup.freezeMicros = frozen.stats.freezeMicros;
    }
  }

  add(ranges: readonly AddressRange[]): void {
    if (!this.uffd || this.uffd.fd < 0) throw new MemError('EIO', 'tracker not started or closed');
    const fresh = subtractRanges(ranges, [...this.registered, ...this.untracked]);
    const t0 = performance.now();
    const ok: AddressRange[] = [];
    for (const r of fresh) {
      try {
        this.uffd.register(r.start, r.end - r.start);
        ok.push(r);
        this.setup.registered++;
      } catch (e) {
        if (e instanceof SysError && e.code === 'ESRCH') throw memError(e, this.pid, 'register ranges of');
        this.refusal ??= refusalReason(e);
        this.untracked.push(r);
        this.setup.refused++;
      }
    }
    const t1 = performance.now();
    this.huge = normalizeRanges([...this.huge, ...hugeRanges(this.scanner!, ok)]);
    for (const r of ok) this.arm(r);
    this.setup.registerMicros += Math.round((t1 - t0) * 1000);
    this.setup.armMicros += Math.round((performance.now() - t1) * 1000);
    this.registered = normalizeRanges([...this.registered, ...ok]);
    this.untracked = normalizeRanges(this.untracked);
  }

  /** Write-protect every page of a registered range (parts that are no longer registered are skipped). */
  private arm(r: AddressRange): void {
    const s = this.scanner!;
    try {
      s.scan(r.start, r.end, ARM, null);
    } catch (e) {
      if (!isEperm(e)) throw memError(e, this.pid, 'arm tracking in');
      s.scan(r.start, r.end, { flags: WPM }, null); // collect() reconciles the unregistered part
    }
  }

  collect(onRange: WrittenRangeCallback, o: CollectOptions = {}): CollectResult {
    if (!this.scanner || !this.uffd || this.uffd.fd < 0)
      throw new MemError('EIO', 'tracker not started or closed');
    const t0 = performance.now();
    const s = this.scanner;
    let pages = 0;
    const written = (start: number, end: number, cat: number) =>
      onRange(start, end, (cat & PAGE_IS.PRESENT) !== 0);
    const present = (start: number, end: number) => onRange(start, end, true);
    let maps: Vma[] | undefined;
    try {
      for (const r of [...this.registered]) {
        pages += s.scan(r.start, r.end, o.last ? COLLECT_LAST : COLLECT, written);
        const holes: AddressRange[] = [];
        s.scan(r.start, r.end, UNREGISTERED, (start, end) => holes.push({ start, end }));
        if (holes.length === 0) continue;
        if (o.last) {
          // nothing to adopt for later collects: every present page of what is no longer registered
          for (const h of holes) pages += s.scan(h.start, h.end, PRESENT, present);
          continue;
        }
        maps ??= readMaps(this.pid);
        pages += this.reconcile(r, holes, maps, present);
      }
      for (const r of this.untracked) pages += s.scan(r.start, r.end, PRESENT, present);
    } catch (e) {
      throw memError(e, this.pid, 'scan');
    }
    return { pages, scanMicros: Math.round((performance.now() - t0) * 1000) };
  }

  /**
   * Part of a registered range holds VMAs that are not registered (the target unmapped it and mapped
   * something else there, or mremapped a VMA into it). Register the trackable ones, report all their
   * present pages (we know nothing of their history) and arm them; forget the rest (not trackable).
   */
  private reconcile(
    r: AddressRange,
    holes: readonly AddressRange[],
    maps: readonly Vma[],
    present: (s: number, e: number) => void,
  ): number {
    const s = this.scanner!;
    const trackable = maps.filter(isTrackable).map((v) => ({ start: v.start, end: v.end }));
    const adopt: AddressRange[] = [];
    for (const h of intersectRanges(holes, trackable)) {
      try {
        this.uffd!.register(h.start, h.end - h.start);
        adopt.push(h);
      } catch {
        this.untracked.push(h);
      }
    }
    let pages = 0;
    for (const h of adopt) {
      pages += s.scan(h.start, h.end, PRESENT, present);
      this.arm(h);
    }
    const kept = subtractRanges([r], holes);
    this.registered = normalizeRanges([...subtractRanges(this.registered, [r]), ...kept, ...adopt]);
    this.untracked = normalizeRanges(this.untracked);
    return pages;
  }

  ranges(): readonly AddressRange[] {
    return this.registered.map((r) => ({ ...r }));
  }

  /** Ranges the kernel refused to register: reported in full by every collect(). */
  untrackedRanges(): readonly AddressRange[] {
    return this.untracked.map((r) => ({ ...r }));
  }

  get untrackedReason(): string | undefined {
    return this.untracked.length > 0 ? (this.refusal ?? 'refused by the kernel') : undefined;
  }

  /** The registered ranges minus the VMAs in them that are not registered any more (replaced in place). */
  knownRanges(): readonly AddressRange[] {
    if (!this.scanner) throw new MemError('EIO', 'tracker not started or closed');
    const gone: AddressRange[] = [];
    try {
      for (const r of this.registered) {
        this.scanner.scan(r.start, r.end, UNREGISTERED, (start, end) => gone.push({ start, end }));
      }
    } catch (e) {
      throw memError(e, this.pid, 'scan');
    }
    return subtractRanges(this.registered, gone);
  }

  get setupStoppedMicros(): number {
    return this.setup.stoppedMicros;
  }

  /**
   * State for a later run (needs `persist`). The target keeps the userfaultfd at fd `state.fd`. Call it
   * after the run's last add()/collect(): a range registered after save() would be unknown to the next run.
   */
  save(): UffdWpState {
    if (this.targetFd < 0) throw new MemError('EIO', 'save() needs a tracker started with persist: true');
    return {
      version: 1,
      pid: this.pid,
      fd: this.targetFd,
      startTimeMicros: readStartTimeMicros(this.pid),
      inode: this.inode,
      ranges: this.registered.map((r) => [r.start, r.end] as const),
      untracked: this.untracked.map((r) => [r.start, r.end] as const),
      huge: this.huge.map((r) => [r.start, r.end] as const),
    };
  }

  /**
   * Take tracking over from a previous run's save(), without stopping the target. Returns the tracker, or
   * null with the reason (the process or its userfaultfd changed): then start a new tracker and dump all.
   */
  static resume(
    state: unknown,
  ): { tracker: UffdWpTracker; reason?: undefined } | { tracker: null; reason: string } {
    const bad = stateShapeProblem(state);
    if (bad) return { tracker: null, reason: `unusable tracker state: ${bad}` };
    const st = state as UffdWpState;
    const why = stateMismatch(st);
    if (why) return { tracker: null, reason: why };
    const t = new UffdWpTracker(st.pid, { persist: true });
    try {
      t.pidfd = pidfdOpen(st.pid);
      t.uffd = new Userfaultfd(pidfdGetfd(t.pidfd, st.fd));
      if (fstatSync(t.uffd.fd).ino !== st.inode) throw new Error('the userfaultfd changed meanwhile');
      t.scanner = PagemapScanner.open(st.pid);
    } catch (e) {
      t.close();
      return { tracker: null, reason: `cannot take the userfaultfd: ${(e as Error).message}` };
    }
    t.started = true;
    t.targetFd = st.fd;
    t.inode = st.inode;
    t.registered = st.ranges.map(([start, end]) => ({ start, end }));
    t.untracked = st.untracked.map(([start, end]) => ({ start, end }));
    t.huge = (st.huge ?? []).map(([start, end]) => ({ start, end }));
    try {
      const uffd = { fd: st.fd, inode: st.inode };
      const rec = findRecord(st.pid);
      t.record = rec?.uffd?.fd === st.fd && rec.uffd.inode === st.inode ? recordOwner(rec) : undefined;
      t.record ??= recordTracking(recordIntent(st.pid), uffd);
    } catch (e) {
      t.close();
      return { tracker: null, reason: `cannot write the track record: ${(e as Error).message}` };
    }
    t.unhook = addCleanup(() => t.releaseOnWayOut());
    return { tracker: t };
  }

  /**
   * Close the target's userfaultfd (if it still is ours: checked while frozen, the target cannot swap the
   * fd under us) by injection through `frozen`; our copy keeps tracking alive until release()/close().
   * The infection is left standing (Injector.hold) for the next injection of the window (the dump's
   * state collection) and cured by it or by the thaw: the process's mappings must be read after that.
   */
  endInTarget(frozen: FrozenProcess): void {
    if (this.targetFd < 0) return;
    const fd = this.targetFd;
    this.targetFd = -1;
    // our copy keeps the inode alive: fd `fd` with this inode can only be the one we injected
    if (isSameUserfaultfd(this.pid, { fd, inode: this.inode })) {
      const prio = raiseThread(this.pid); // the close runs in its thread: no wait for a CPU
      try {
        const inj = Injector.infect(frozen);
        try {
          // a batch of one: one stop, and it ends in the signal path, where hold() needs no interrupt
          checkedBatch((c) => inj.batch(c), this.pid, [{ name: 'close', nr: SYS.close, args: [fd] }]);
          // left standing where the dump's state collection goes on in this infection (one per process
          // and window: FrozenProcess.keepInfection); cured by it, or by the thaw
          inj.hold();
        } catch (e) {
          inj.cure();
          throw e;
        }
      } finally {
        prio.restore();
      }
    }
    removeRecord(this.record);
    this.record = undefined;
  }

  /**
   * End tracking for good: close the target's userfaultfd by injection (through `frozen`, the dump's own
   * frozen process, or a brief freeze), close our side, then collapse the huge pages write-protection
   * split (nothing holds the ranges registered any more). For the chain's end and for failures.
   */
  release(frozen?: FrozenProcess): void {
    try {
      if (this.targetFd >= 0) {
        const f = frozen ?? freeze(this.pid);
        try {
          this.endInTarget(f);
        } finally {
          if (!frozen) f.thaw();
        }
      }
      removeRecord(this.record); // nothing of ours is left in the target
      this.record = undefined;
      // paced steps only for a running target: frozen (a dump that kills the tree after its commit, a
      // migration's final dump) nothing can fault, and the close does it all in one hold (~25 ms a GiB
      // quiet) instead of ~2 s of paced steps at 4 GiB inside the window
      if (!frozen) this.unregisterInSteps();
      this.uffd?.close(); // the last reference: the kernel unregisters what is left
      if (this.pidfd >= 0 && this.huge.length > 0) {
        // the pidfd goes with the collapse, which waits for the caller's thaw (it takes ~0.4 s per fully
        // split 256 MiB here: never inside the frozen window)
        const pidfd = this.pidfd;
        const huge = this.huge;
        this.pidfd = -1;
        this.huge = [];
        afterThaw(frozen, () => {
          this.collapsed = collapseHuge(pidfd, huge);
          closeFd(pidfd);
        });
      }
    } finally {
      this.close();
    }
  }

  /**
   * Unregister every range in paced steps (unregister-pace.ts), before the last close. The kernel clears
   * the write-protection of a range's pages while it holds the target's mmap_lock for writing (~25 ms a
   * GiB quiet, 100-400 ms a GiB at load 8 on 2 cores); the close of the last reference does the whole
   * address space in one hold, and every target thread that faults meanwhile waits for all of it. In
   * 16 MiB steps a fault waits for one step at most, and the rest after each step (3x the step) gives
   * the target's threads a CPU: back to back, the steps stopped its heartbeat for up to ~0.5 s at 4 GiB. Only once the
   * target's own fd is closed (else the target's tracking would lose ranges); a failure leaves the rest
   * to the close.
   */
  private unregisterInSteps(): void {
    const u = this.uffd;
    if (!u || u.fd < 0 || this.targetFd >= 0) return;
    this.unregistered = unregisterPaced(u, this.registered);
    this.registered = [];
  }

  /**
   * release() on a way out (signal, exception, exit): quiet when it cannot (the target is gone or being
   * killed); the record then stays for a later run.
   */
  private releaseOnWayOut(): void {
    try {
      this.release();
    } catch {
      this.close();
    }
  }

  /**
   * Close our side (our userfaultfd copy, pidfd, pagemap); a persisting tracker stays in the target (and
   * in its record) for a later run. Safe to call twice.
   */
  close(): void {
    this.unhook?.();
    this.unhook = undefined;
    this.uffd?.close();
    if (this.pidfd >= 0) {
      closeFd(this.pidfd);
      this.pidfd = -1;
    }
    this.scanner?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
