/**
 * Arguments of the calls injected into the process being restored: bytes placed in the trampoline's
 * argument area (paths, structs), and a file opened inside the process by its path.
 *
 * @example
 * const fd = openInTask(task, trampoline, '/etc/hostname', O.RDONLY);
 * task.call('fstat', 5, fd, putArg(task, trampoline, Buffer.alloc(144)));
 */
import { AT_FDCWD, O, RSYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';
import { ARG_OFFSET, ARG_SIZE } from './trampoline.js';

/** Bytes written into the trampoline's argument area, for the next injected call. */
export function putArg(task: RemoteTask, trampoline: number, bytes: Uint8Array, at = 0): number {
  if (at + bytes.length > ARG_SIZE)
    throw new RestoreError('ENOTSUP', `an argument of ${bytes.length} bytes does not fit`);
  const addr = trampoline + ARG_OFFSET + at;
  task.write(addr, bytes);
  return addr;
}

/** Open `path` inside the process; returns its fd there. */
export function openInTask(task: RemoteTask, trampoline: number, path: string, flags: number): number {
  const at = putArg(task, trampoline, Buffer.from(`${path}\0`));
  return task.call(`open ${path}`, RSYS.openat, AT_FDCWD, at, flags | O.CLOEXEC, 0);
}

/**
 * Write `bytes` into descriptor `fd` of the process, ARG_SIZE at a time through the argument area (a pipe's
 * buffered data, a socket's queued bytes: in TCP repair mode each write becomes queued data). A write
 * that takes less than its chunk is EIO, unless `partial` (then the rest goes in the next write; none
 * taken is EIO).
 */
export function writeInTask(
  task: RemoteTask,
  trampoline: number,
  fd: number,
  bytes: Uint8Array,
  what: string,
  partial = false,
): void {
  for (let off = 0; off < bytes.length; ) {
    const chunk = bytes.subarray(off, off + ARG_SIZE);
    const at = putArg(task, trampoline, chunk);
    const n = task.call(`write ${chunk.length} bytes (${what})`, RSYS.write, fd, at, chunk.length);
    if (partial ? n <= 0 : n !== chunk.length)
      throw new RestoreError('EIO', `${what}: ${n} of ${chunk.length} bytes written`);
    off += n;
  }
}
