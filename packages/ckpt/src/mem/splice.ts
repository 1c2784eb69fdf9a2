/**
 * The "splice" mode of a pre-dump, CRIU's old default, kept to compare with read mode: while the target is
 * frozen and infected, every page to dump is vmspliced into pipes created in the target, whose read ends
 * this process takes; the target is thawed only afterwards, and the pipes are written out later
 * (splice-pipes.ts). The pipes hold references to the target's own pages: nothing is copied while frozen,
 * but every page stays pinned (unreclaimable, unswappable) until its pipe is drained, and a page the target
 * frees and re-faults meanwhile costs a second page.
 *
 * One round (up to `pipesPerRound` pipes; the target needs 2 free fds per pipe of a round):
 * ```
 * inject pipe2(scratch, O_NONBLOCK|O_CLOEXEC)      x k   -> read the k fd pairs from the scratch mapping
 * inject fcntl(w, F_SETPIPE_SZ, pipe-max-size)     x k   (EPERM: keep the size the pipe has)
 * per pipe: write <= size/4096 iovecs into the scratch mapping (/proc/PID/mem), inject
 *           vmsplice(w, iovecs, n, SPLICE_F_NONBLOCK) -> bytes; short or EFAULT: the page where it stopped
 *           cannot be read (left out, counted), the next pipe continues after it
 * pidfd_getfd(r) x k (our copies), inject close_range(lo, hi) when the 2k fds are contiguous (they
 * usually are: the lowest free fds), else close(r), close(w) x k
 * ```
 * Every injected call is a ptrace round trip (SETREGS, CONT, wait for the trap: two context switches), so
 * a pipe costs about three of them (pipe2, fcntl, vmsplice) and the frozen time grows with the number of
 * pipes as well as with the pages (CRIU's parasite instead runs a loop inside the target and gets its
 * pipes over a socket; its round trips are per batch, not per syscall).
 * On failure the fds of the current round are closed in the target (when it is still there), ours are
 * closed, and the error is thrown; the scratch mapping goes with the injector's cure.
 *
 * Limits: our side holds one fd per pipe (size/1 MiB here: 4096 fds for 4 GiB), so the caller raises
 * RLIMIT_NOFILE (sys/rlimit.ts); a target without CAP_SYS_ADMIN/CAP_SYS_RESOURCE is also limited by
 * /proc/sys/fs/pipe-user-pages-soft (64 MiB of pipes per user), after which F_SETPIPE_SZ fails and pipes
 * stay at their default size (more pipes, more fds). There is no chunking: all pages stay pinned until thaw.
 *
 * @example
 * using frozen = freeze(pid);
 * const found = findPages(pid, planVmas(readMaps(pid)));
 * const inj = Injector.infect(frozen);
 * const pages = spliceToPipes(inj, found.ranges);
 * inj.cure(); frozen.thaw();
 * await pages.drain(consumer); // pages.close() on failure
 */
import { readFileSync } from 'node:fs';
import type { Injector } from '../ptrace/index.js';
import { PtraceError } from '../ptrace/index.js';
import { closeFd, F, IOV_MAX, IovecArray, O, PAGE_SIZE, pidfdGetfd, pidfdOpen, SYS } from '../sys/index.js';
import { MemError, memErrorFrom } from './errors.js';
import type { PageRanges } from './pages.js';
import { SplicedPages } from './splice-pipes.js';

const SPLICE_F_NONBLOCK = 2;
const EFAULT = 14;
const EMFILE = 24;
const ENFILE = 23;
const FDS_AREA = PAGE_SIZE;
/** close_range(2) (x86-64): closes a round's pipes in one injected call when their fds are contiguous. */
const SYS_CLOSE_RANGE = 436;

/** Options of spliceToPipes. */
export interface SpliceOptions {
  /** Pipe size to ask for, bytes (default and maximum: /proc/sys/fs/pipe-max-size). */
  readonly pipeSize?: number;
  /** Pipes created per injected round (default 16; fewer when the target runs out of fds). */
  readonly pipesPerRound?: number;
  /** Test hook, while frozen: after each pipe was filled (index from 0). May throw, or kill the target. */
  readonly afterPipe?: (index: number) => void;
}

/** Counters of one spliceToPipes call. */
export interface SpliceStats {
  pipes: number;
  /** Size of the pipes (bytes; what F_SETPIPE_SZ gave). */
  pipeSize: number;
  rounds: number;
  vmspliceCalls: number;
  /** Most fds of ours held at once: one per pipe, plus the pidfd. */
  peakFds: number;
  /** Most extra fds the target held at once (2 per pipe of a round). */
  peakTargetFds: number;
  /** System calls injected, and the time in them (each is a ptrace round trip), µs. */
  injectedSyscalls: number;
  injectMicros: number;
  /** Of which vmsplice calls, µs. */
  vmspliceMicros: number;
}

/**
 * /proc/sys/fs/pipe-max-size: the largest pipe an unprivileged (no CAP_SYS_RESOURCE) process can ask for.
 *
 * @example
 * pipeMaxSize(); // 1048576
 */
export function pipeMaxSize(): number {
  try {
    const n = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim());
    return Number.isSafeInteger(n) && n >= PAGE_SIZE ? n : 1 << 20;
  } catch {
    return 1 << 20;
  }
}

/** Walks the ranges page-run by page-run. */
class Cursor {
  private i = 0;
  private at: number;
  constructor(private readonly r: PageRanges) {
    this.at = r.length > 0 ? r.starts[0]! : 0;
  }
  get done(): boolean {
    return this.i >= this.r.length;
  }
  /** Bytes left from the cursor on. */
  remaining(): number {
    if (this.done) return 0;
    let n = this.r.ends[this.i]! - this.at;
    for (let k = this.i + 1; k < this.r.length; k++) n += this.r.ends[k]! - this.r.starts[k]!;
    return n;
  }
  /** Fill `iov` with up to `bytes` from the cursor (not advancing). */
  peek(iov: IovecArray, bytes: number): void {
    iov.clear();
    let i = this.i;
    let at = this.at;
    while (i < this.r.length && iov.bytes < bytes && !iov.full) {
      const len = Math.min(this.r.ends[i]! - at, bytes - iov.bytes);
      iov.push(at, len);
      at += len;
      if (at >= this.r.ends[i]!) {
        i++;
        at = this.r.starts[i] ?? 0;
      }
    }
  }
  /** Move on by `bytes`. */
  advance(bytes: number): void {
    while (bytes > 0 && !this.done) {
      const len = Math.min(this.r.ends[this.i]! - this.at, bytes);
      this.at += len;
      bytes -= len;
      if (this.at >= this.r.ends[this.i]!) {
        this.i++;
        this.at = this.r.starts[this.i] ?? 0;
      }
    }
  }
}

interface TargetPipe {
  r: number;
  w: number;
  size: number;
}

/**
 * Splice every page of `ranges` into pipes created in the infected, frozen target and return our read ends
 * (the caller owns them: drain() or close()). Throws MemError (ESRCH when the target died, EIO when it or
 * we ran out of fds, or a syscall failed); nothing is left open on either side.
 */
export function spliceToPipes(
  inj: Injector,
  ranges: PageRanges,
  o: SpliceOptions = {},
): { pages: SplicedPages; stats: SpliceStats } {
  const pid = inj.frozen.pid;
  const want = Math.min(o.pipeSize ?? pipeMaxSize(), pipeMaxSize());
  const slots = Math.max(1, Math.floor(want / PAGE_SIZE));
  const perRound = Math.max(1, o.pipesPerRound ?? 16);
  const iov = new IovecArray(Math.min(slots, IOV_MAX));
  const stats: SpliceStats = {
    pipes: 0,
    pipeSize: 0,
    rounds: 0,
    vmspliceCalls: 0,
    peakFds: 1,
    peakTargetFds: 0,
    injectedSyscalls: 0,
    injectMicros: 0,
    vmspliceMicros: 0,
  };
  const injected0 = { n: inj.stats.syscalls, us: inj.stats.micros };
  const out = new SplicedPages();
  const cursor = new Cursor(ranges);
  let pidfd = -1;
  let open: TargetPipe[] = [];
  const scratchLen = FDS_AREA + iov.capacity * 16;
  try {
    pidfd = pidfdOpen(pid);
    const scratch = inj.mmap(scratchLen);
    const iovAddr = scratch + FDS_AREA;
    while (!cursor.done) {
      stats.rounds++;
      const k = Math.min(perRound, Math.ceil(cursor.remaining() / (slots * PAGE_SIZE)));
      open = createPipes(inj, scratch, k);
      stats.peakTargetFds = Math.max(stats.peakTargetFds, open.length * 2);
      for (const p of open) {
        const got = inj.syscall(SYS.fcntl, p.w, F.SETPIPE_SZ, slots * PAGE_SIZE);
        p.size = got > 0 ? got : inj.call('fcntl', SYS.fcntl, p.w, F.GETPIPE_SZ);
        stats.pipeSize = Math.max(stats.pipeSize, p.size);
      }
      for (const p of open) {
        if (cursor.done) break;
        const vaddrs: number[] = [];
        const lens: number[] = [];
        let bytes = 0;
        // one pipe: vmsplice until it is full or the ranges end; a fault skips one page
        while (!cursor.done && bytes < p.size) {
          cursor.peek(iov, p.size - bytes);
          inj.write(iovAddr, iov.buf.subarray(0, iov.length * 16));
          const before = inj.stats.micros;
          const n = inj.syscall(SYS.vmsplice, p.w, iovAddr, iov.length, SPLICE_F_NONBLOCK);
          stats.vmspliceMicros += inj.stats.micros - before;
          stats.vmspliceCalls++;
          if (n < 0 && n !== -EFAULT) throw injectFailure('vmsplice', pid, -n);
          const spliced = Math.max(n, 0);
          let left = spliced;
          for (let j = 0; j < iov.length && left > 0; j++) {
            const len = Math.min(iov.len(j), left);
            vaddrs.push(iov.base(j));
            lens.push(len);
            left -= len;
          }
          bytes += spliced;
          cursor.advance(spliced);
          if (spliced < iov.bytes && bytes < p.size) {
            cursor.advance(PAGE_SIZE); // the page where vmsplice stopped cannot be read
            out.pagesSkipped++;
          }
        }
        const fd = pidfdGetfd(pidfd, p.r);
        out.add({ fd, bytes, vaddrs, lens });
        stats.pipes++;
        stats.peakFds = Math.max(stats.peakFds, out.openPipes + 1);
        o.afterPipe?.(stats.pipes - 1);
      }
      closeTargetPipes(inj, open);
      open = [];
    }
    inj.munmap(scratch);
  } catch (e) {
    if (open.length > 0 && inj.frozen.state === 'frozen') {
      try {
        closeTargetPipes(inj, open);
      } catch {
        /* the target is gone or broken: its fds go with it */
      }
    }
    out.close();
    throw spliceError(e, pid);
  } finally {
    if (pidfd >= 0) closeFd(pidfd);
    stats.injectedSyscalls = inj.stats.syscalls - injected0.n;
    stats.injectMicros = inj.stats.micros - injected0.us;
  }
  return { pages: out, stats };
}

/** Up to `k` pipes in the target; fewer when it runs out of fds (none at all: MemError EIO). */
function createPipes(inj: Injector, scratch: number, k: number): TargetPipe[] {
  let made = 0;
  for (; made < k; made++) {
    const r = inj.syscall(SYS.pipe2, scratch + made * 8, O.NONBLOCK | O.CLOEXEC);
    if (r === -EMFILE || r === -ENFILE) break;
    if (r < 0) {
      const pipes = readPipes(inj, scratch, made);
      closeTargetPipes(inj, pipes);
      throw injectFailure('pipe2', inj.frozen.pid, -r);
    }
  }
  if (made === 0) {
    throw new MemError(
      'EIO',
      `process ${inj.frozen.pid} has no free file descriptor for a pipe (RLIMIT_NOFILE): splice mode needs 2`,
    );
  }
  return readPipes(inj, scratch, made);
}

function readPipes(inj: Injector, scratch: number, n: number): TargetPipe[] {
  if (n === 0) return [];
  const b = inj.read(scratch, n * 8);
  const out: TargetPipe[] = [];
  for (let i = 0; i < n; i++) out.push({ r: b.readInt32LE(i * 8), w: b.readInt32LE(i * 8 + 4), size: 0 });
  return out;
}

function closeTargetPipes(inj: Injector, pipes: readonly TargetPipe[]): void {
  const fds = pipes.flatMap((p) => [p.r, p.w]);
  const lo = Math.min(...fds);
  const hi = Math.max(...fds);
  if (fds.length > 2 && hi - lo + 1 === fds.length && inj.syscall(SYS_CLOSE_RANGE, lo, hi, 0) === 0) return;
  for (const p of pipes) {
    inj.syscall(SYS.close, p.r);
    inj.syscall(SYS.close, p.w);
  }
}

function injectFailure(name: string, pid: number, errno: number): MemError {
  return new MemError('EIO', `${name} in process ${pid} failed: errno ${errno}`);
}

function spliceError(e: unknown, pid: number): unknown {
  if (e instanceof MemError) return e;
  if (e instanceof PtraceError) {
    if (e.code === 'ESRCH')
      return new MemError('ESRCH', `process ${pid} exited during the splice`, { cause: e });
    return new MemError('EIO', `splicing the pages of process ${pid}: ${e.message}`, { cause: e });
  }
  const err = memErrorFrom(e, pid, 'splicing its pages');
  if (err instanceof MemError && err.code === 'EIO' && /EMFILE/.test(err.message)) {
    return new MemError('EIO', `${err.message}: too many pipes for our RLIMIT_NOFILE`, { cause: e });
  }
  return err;
}
