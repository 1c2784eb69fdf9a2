/**
 * A batch of system calls injected into the process being restored, run by the trampoline's loop
 * (trampoline.ts) in one ptrace stop instead of one stop a call: each stop is a round trip through the
 * scheduler (~0.2-0.3 ms on a busy machine), and a migration's downtime waits on a restore's ~120 calls.
 * RemoteTask.queue() fills the batch; any call that needs its result, any read or write of the process's
 * memory and any end of the task runs it first (RemoteTask.flush), so the calls run in the order they
 * were made, only later.
 *
 * ```
 * the trampoline's argument area (ARG_SIZE bytes), while the batch runs:
 *   [entry 0][entry 1]...[entry n-1] ->      free      <- [data of entry 1][data of entry 0]
 *   entry: nr, a1, a2, a3, a4, a5, a6, result (u64 each); data: the structs and paths the entry points at
 * run:  table and data written (/proc/PID/mem), then from entry i = 0:
 *         SETREGS(rip = loop, r12 = entry i, r13 = table end); PTRACE_CONT -> its int3; GETREGS
 *         rax an errno: entry k = (r12 - table) / 64 - 1 failed
 *           mayFail: run on from k + 1 (another stop)
 *           else: RestoreError naming entry k and the errno; the entries after it never ran
 *       then each entry's `onResult` with its result (the table read back), in order
 * ```
 * A batch that does not fit the area is run in parts, in order, as it fills (RemoteTask.queue).
 *
 * @example
 * task.queue(`munmap ${hex(a)}`, RSYS.munmap, [a, len]);
 * task.queue('rt_sigaction(10)', RSYS.rt_sigaction, (at) => [10, at, 0, 8], { data: act });
 * task.queue('mmap', RSYS.mmap, [a, len, prot, flags, -1, 0], { onResult: (r) => check(r === a) });
 * task.flush(); // one stop for the three
 */
import { errnoName } from '../sys/index.js';
import { RestoreError } from './errors.js';
import { ARG_SIZE } from './trampoline.js';

/** Bytes of a table entry: nr, six arguments, the result. */
export const ENTRY_SIZE = 64;

/** What a queued call may carry besides its number and arguments. */
export interface QueueOptions {
  /**
   * Bytes placed in the argument area for the call (a struct, a path); `args` as a function gets their
   * address. A function of the address gives bytes that hold pointers into themselves (`size` long).
   */
  readonly data?: Data;
  /** A failure is no error: the batch runs on (the result goes to `onResult`). */
  readonly mayFail?: boolean;
  /** Called with the call's result once the batch ran (a check may throw its own RestoreError). */
  readonly onResult?: (result: number) => void;
}

export type Data = Uint8Array | { readonly size: number; readonly bytes: (at: number) => Uint8Array };
export type CallArgs = readonly number[] | ((dataAt: number) => readonly number[]);

/** Bytes a Data takes. */
export const dataSize = (d: Data | undefined): number =>
  d === undefined ? 0 : d instanceof Uint8Array ? d.length : d.size;

interface Entry {
  readonly what: string;
  readonly nr: number;
  readonly args: readonly number[];
  readonly mayFail: boolean;
  readonly onResult?: (result: number) => void;
}

interface Placed {
  /** Offset in the area. */
  readonly at: number;
  readonly bytes: Uint8Array;
  /** Entries queued before it: placed after the last one, it waits for a call of the next batch. */
  readonly after: number;
}

/** What running a batch needs of the task (RemoteTask, without flushing). */
export interface BatchRunner {
  readonly pid: number;
  writeMem(addr: number, bytes: Uint8Array): void;
  readMem(addr: number, len: number): Buffer;
  /** Run the loop over the entries at [from, end): r12 and rax at its int3. */
  runLoop(from: number, end: number): { readonly next: number; readonly rax: number };
}

/** The errno of a raw result (-4095..-1), or 0. */
export const errnoOf = (r: number): number => (r < 0 && r > -4096 ? -r : 0);

/** A failed injected call as a RestoreError (ENOENT, EPERM, else EIO) naming it and the errno. */
export function callError(what: string, pid: number, errno: number): RestoreError {
  const name = errnoName(errno);
  const code = name === 'ENOENT' ? 'ENOENT' : name === 'EPERM' || name === 'EACCES' ? 'EPERM' : 'EIO';
  return new RestoreError(code, `${what} in process ${pid}: ${name}`, { cause: errno });
}

/** The most data one call can have (the area less its table entry). */
export const MAX_DATA = ARG_SIZE - ENTRY_SIZE;

export class CallBatch {
  private entries: Entry[] = [];
  private placed: Placed[] = [];
  /** Data grows down from the area's end. */
  private dataLow = ARG_SIZE;
  private unwritten = false;

  /** `area`: the argument area's address in the process. */
  constructor(readonly area: number) {}

  get length(): number {
    return this.entries.length;
  }

  /** Whether calls are queued or data placed since the last run. */
  get pending(): boolean {
    return this.entries.length > 0 || this.unwritten;
  }

  /** Whether `size` bytes of data and one more entry fit. */
  fits(size: number): boolean {
    return (this.entries.length + 1) * ENTRY_SIZE <= ((this.dataLow - size) & ~7);
  }

  /** Place data (the caller checked fits()); returns its address, valid until the batch after its call. */
  place(d: Data): number {
    const size = dataSize(d);
    if (!this.fits(size)) throw new Error(`batch full: ${size} bytes of data`);
    this.dataLow = (this.dataLow - size) & ~7;
    const at = this.area + this.dataLow;
    const bytes = Uint8Array.from(d instanceof Uint8Array ? d : d.bytes(at)); // a copy: callers reuse theirs
    if (bytes.length !== size) throw new Error(`${bytes.length} bytes of data, not ${size}`);
    this.placed.push({ at: this.dataLow, bytes, after: this.entries.length });
    this.unwritten = true;
    return at;
  }

  /** Queue a call (the caller checked fits(); its data placed first). */
  add(what: string, nr: number, args: readonly number[], o: QueueOptions = {}): void {
    if (!this.fits(0)) throw new Error(`batch full: ${what}`);
    if (args.length > 6) throw new Error(`${what}: ${args.length} arguments`);
    this.entries.push({ what, nr, args, mayFail: o.mayFail ?? false, onResult: o.onResult });
  }

  /**
   * Run every entry (see the module comment) and empty the batch; data placed after the last entry
   * stays for the next batch's calls. Returns the system calls run, the last one's result, and the first
   * failure that is not `mayFail` (for the caller to throw, once counted).
   */
  run(t: BatchRunner): { calls: number; last: number; failure?: RestoreError } {
    const entries = this.entries;
    const n = entries.length;
    const dataLow = this.dataLow;
    const data = Buffer.alloc(ARG_SIZE - dataLow);
    for (const p of this.placed) data.set(p.bytes, p.at - dataLow);
    // what waits for a later call keeps its place (the next table grows from below, clear of it)
    this.placed = this.placed.filter((p) => p.after === n).map((p) => ({ ...p, after: 0 }));
    this.dataLow = Math.min(ARG_SIZE, ...this.placed.map((p) => p.at));
    this.entries = [];
    this.unwritten = false;
    if (data.length > 0) t.writeMem(this.area + dataLow, data);
    if (n === 0) return { calls: 0, last: 0 };
    const table = Buffer.alloc(n * ENTRY_SIZE);
    for (const [i, e] of entries.entries()) {
      table.writeBigInt64LE(BigInt(e.nr), i * ENTRY_SIZE);
      for (const [j, a] of e.args.entries()) table.writeBigInt64LE(BigInt(a), i * ENTRY_SIZE + 8 + 8 * j);
    }
    t.writeMem(this.area, table);
    const end = this.area + table.length;
    let from = this.area;
    let ran = 0;
    let failed: { index: number; errno: number } | undefined;
    let last = 0;
    while (from < end) {
      const { next, rax } = t.runLoop(from, end);
      ran = (next - this.area) / ENTRY_SIZE;
      last = rax;
      const errno = errnoOf(rax);
      if (errno === 0) break; // the loop reached the end
      if (!entries[ran - 1]!.mayFail) {
        failed = { index: ran - 1, errno };
        break;
      }
      from = next;
    }
    if (entries.some((e, i) => e.onResult && i < ran)) {
      const results = t.readMem(this.area, ran * ENTRY_SIZE);
      for (const [i, e] of entries.entries()) {
        if (i >= ran || (failed && i >= failed.index)) break;
        e.onResult?.(Number(results.readBigInt64LE(i * ENTRY_SIZE + 56)));
      }
    }
    const failure = failed && callError(entries[failed.index]!.what, t.pid, failed.errno);
    return { calls: ran, last, failure };
  }

  /** Forget the queued calls (the task is gone). */
  clear(): void {
    this.entries = [];
    this.placed = [];
    this.dataLow = ARG_SIZE;
    this.unwritten = false;
  }
}
