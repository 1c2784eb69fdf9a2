/**
 * A second thread for long PAGEMAP_SCAN walks (pagemap-scan.ts `shareWalks`): a frozen window's walk of a
 * 4 GiB target reads ~1M page-table entries on one core while the other idles (the target is stopped);
 * split in two, each core walks half. The thread is a worker_threads Worker that runs the same ioctl
 * through koffi (scan-helper-worker.ts) on the caller's pagemap fd (one fd table for the process).
 *
 * ```
 * main                                   helper thread (scan-helper-worker.ts)
 * post(fd, mid, end)  state IDLE -> POSTED ---> wakes (Atomics.wait), walks [mid, end) into `regions`
 * walks [start, mid)                            (up to ROOM regions: then stops, resumeAt = where)
 * wait()              Atomics.wait(POSTED)  <--- state DONE (errno or count, resumeAt)
 * regions of both, in order; the rest from resumeAt (if it stopped short) on main
 * ```
 * Shared memory only (SharedArrayBuffer + Atomics): no message passing, no event loop turn on either
 * side, so a synchronous caller (the frozen window) can use it. The thread holds no resource of its own
 * but its isolate (~10 MB): started by the owner of a long job (a migration), closed at its end.
 *
 * @example
 * const helper = await ScanHelper.start();
 * PagemapScanner.shareWalks(helper);
 * try { ... } finally { PagemapScanner.shareWalks(undefined); helper.close(); }
 */
import { Worker } from 'node:worker_threads';
import { KernelUnsupportedError, SysError } from './errors.js';
import type { ScanOptions, WalkSharer } from './pagemap-scan.js';

/** Control word states (Int32Array [0]). */
export const HELPER_STATE = { IDLE: 0, POSTED: 1, DONE: 2, QUIT: 3 } as const;
/** Request words (Float64Array): fd, pid, start, end, flags, inverted, mask, anyof, return. */
export const REQUEST_WORDS = 9;
/** Result words (Float64Array): count, resumeAt, errno (0: none), unsupported (1: the kernel lacks it). */
export const RESULT_WORDS = 4;
/** Regions the helper returns at most for one walk (start, end, categories each): then it stops short. */
const ROOM = 1 << 16;
/** How long wait() waits for a walk before it gives up on the thread (a walk of 4 GiB takes ~10-50 ms). */
const WAIT_MS = 30_000;

/** The shared buffers, as the worker receives them (workerData). */
export interface HelperShared {
  /** Regions `regions` holds. */
  readonly room: number;
  readonly control: SharedArrayBuffer;
  readonly request: SharedArrayBuffer;
  readonly result: SharedArrayBuffer;
  readonly regions: SharedArrayBuffer;
}

/** Options of ScanHelper.start (tests: a small range split, a small room). */
export interface ScanHelperOptions {
  /** Smallest range split, bytes (default 256 MiB: below it the hand-over, ~50-100 µs, eats the gain). */
  readonly minBytes?: number;
  /** Regions the helper returns at most for one walk (default 65536). */
  readonly room?: number;
}

export class ScanHelper implements WalkSharer {
  readonly minBytes: number;
  private readonly room: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private readonly request = new Float64Array(new SharedArrayBuffer(REQUEST_WORDS * 8));
  private readonly result = new Float64Array(new SharedArrayBuffer(RESULT_WORDS * 8));
  private readonly regions: Float64Array;
  private worker: Worker | undefined;
  private posted = false;

  private constructor(o: ScanHelperOptions) {
    this.minBytes = o.minBytes ?? 256 << 20;
    this.room = o.room ?? ROOM;
    this.regions = new Float64Array(new SharedArrayBuffer(this.room * 3 * 8));
  }

  /**
   * Start the thread (~30-100 ms: an isolate and koffi); resolves once it waits for work. Rejects if the
   * thread cannot start (then walks stay on one thread: the caller may go on without it).
   */
  static async start(o: ScanHelperOptions = {}): Promise<ScanHelper> {
    const h = new ScanHelper(o);
    const shared: HelperShared = {
      room: h.room,
      control: h.control.buffer as SharedArrayBuffer,
      request: h.request.buffer as SharedArrayBuffer,
      result: h.result.buffer as SharedArrayBuffer,
      regions: h.regions.buffer as SharedArrayBuffer,
    };
    const w = new Worker(new URL('./scan-helper-worker.js', import.meta.url), {
      workerData: shared,
      stdout: false,
      stderr: false,
    });
    h.worker = w;
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the scan helper thread exited (${code})`)));
    });
    w.removeAllListeners();
    w.on('error', () => h.gone());
    w.on('exit', () => h.gone());
    w.unref(); // never what keeps the process alive
    return h;
  }

  private gone(): void {
    this.worker = undefined;
  }

  post(fd: number, pid: number, start: number, end: number, o: ScanOptions): boolean {
    if (!this.worker || this.posted || Atomics.load(this.control, 0) !== HELPER_STATE.IDLE) return false;
    const q = this.request;
    q[0] = fd;
    q[1] = pid;
    q[2] = start;
    q[3] = end;
    q[4] = o.flags ?? 0;
    q[5] = o.categoryInverted ?? 0;
    q[6] = o.categoryMask ?? 0;
    q[7] = o.anyofMask ?? 0;
    q[8] = o.returnMask ?? 0;
    this.posted = true;
    Atomics.store(this.control, 0, HELPER_STATE.POSTED);
    Atomics.notify(this.control, 0);
    return true;
  }

  wait(): { readonly regions: Float64Array; readonly count: number; readonly resumeAt: number } {
    if (!this.posted) throw new Error('ScanHelper.wait() without a posted walk');
    const deadline = Date.now() + WAIT_MS;
    while (Atomics.load(this.control, 0) === HELPER_STATE.POSTED) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.worker) {
        this.posted = false;
        this.close(); // a thread that does not answer is not used again
        throw new SysError('ioctl PAGEMAP_SCAN', 62 /* ETIME */, 'the scan helper thread did not answer');
      }
      Atomics.wait(this.control, 0, HELPER_STATE.POSTED, Math.min(left, 100));
    }
    this.posted = false;
    const r = this.result;
    Atomics.store(this.control, 0, HELPER_STATE.IDLE);
    if (r[3])
      throw new KernelUnsupportedError('PAGEMAP_SCAN is not supported by this kernel (needs Linux 6.7+)');
    if (r[2]) throw new SysError('ioctl PAGEMAP_SCAN', r[2], `pid ${this.request[1]}`);
    return { regions: this.regions, count: r[0]!, resumeAt: r[1]! };
  }

  /** Stop the thread (safe twice; a walk in progress ends first: the thread checks between ioctls). */
  close(): void {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    Atomics.store(this.control, 0, HELPER_STATE.QUIT);
    Atomics.notify(this.control, 0);
    void w.terminate();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
