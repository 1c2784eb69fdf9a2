/**
 * A reusable array of `struct iovec { void *base; size_t len; }` (16 bytes each), filled from JS numbers
 * through two Uint32 halves per field (addresses are below 2^47, so exact as doubles; BigInt is slower).
 *
 * @example
 * const iov = new IovecArray(1024);
 * iov.clear(); iov.push(0x7f0000000000, 4096);
 * processVmReadv(pid, local.buf, 1, iov.buf, iov.length);
 */

const TWO32 = 4294967296;

export class IovecArray {
  /** Backing storage, passed to the kernel as the iovec array. */
  readonly buf: Uint8Array;
  private readonly u32: Uint32Array;
  /** Number of iovecs in use. */
  length = 0;
  /** Sum of the lengths in use. */
  bytes = 0;

  constructor(readonly capacity: number) {
    this.u32 = new Uint32Array(capacity * 4);
    this.buf = new Uint8Array(this.u32.buffer);
  }

  clear(): void {
    this.length = 0;
    this.bytes = 0;
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  push(base: number, len: number): void {
    if (this.length >= this.capacity) throw new RangeError('iovec array full');
    const i = this.length * 4;
    this.u32[i] = base % TWO32;
    this.u32[i + 1] = Math.floor(base / TWO32);
    this.u32[i + 2] = len % TWO32;
    this.u32[i + 3] = Math.floor(len / TWO32);
    this.length++;
    this.bytes += len;
  }

  /** push(), or the last iovec widened when [base, base + len) continues it. */
  pushMerged(base: number, len: number): void {
    const last = this.length - 1;
    if (last < 0 || this.base(last) + this.len(last) !== base) {
      this.push(base, len);
      return;
    }
    const i = last * 4;
    const n = this.len(last) + len;
    this.u32[i + 2] = n % TWO32;
    this.u32[i + 3] = Math.floor(n / TWO32);
    this.bytes += len;
  }

  base(i: number): number {
    return this.u32[i * 4]! + this.u32[i * 4 + 1]! * TWO32;
  }

  len(i: number): number {
    return this.u32[i * 4 + 2]! + this.u32[i * 4 + 3]! * TWO32;
  }
}
