/**
 * Arguments of the calls injected into the process being restored: bytes placed in the trampoline's
 * argument area (paths, structs), and a file opened inside the process by its path.
 *
 * @example
 * const fd = openInTask(task, '/etc/hostname', O.RDONLY);
 * task.call('fstat', 5, fd, putArg(task, Buffer.alloc(144)));
 */
import { AT_FDCWD, O, RSYS } from '../sys/index.js';
import { MAX_DATA } from './call-batch.js';
import { RestoreError } from './errors.js';
import type { RemoteTask } from './remote-task.js';

/**
 * Bytes in the trampoline's argument area for the next injected call (queued or single): placed in the
 * task's batch and written with it, so the call runs in the same stop as the calls queued before it
 * (remote-task.ts). Returns their address, valid until the call has run.
 */
export function putArg(task: RemoteTask, bytes: Uint8Array): number {
  return task.place(bytes);
}

/** Queue the open of `path` inside the process; `onResult` gets its fd. */
export function queueOpen(
  task: RemoteTask,
  path: string,
  flags: number,
  onResult: (fd: number) => void,
): void {
  task.queue(`open ${path}`, RSYS.openat, (at) => [AT_FDCWD, at, flags | O.CLOEXEC, 0], {
    data: Buffer.from(`${path}\0`),
    onResult,
  });
}

/** Open `path` inside the process; returns its fd there. */
export function openInTask(task: RemoteTask, path: string, flags: number): number {
  const at = putArg(task, Buffer.from(`${path}\0`));
  return task.call(`open ${path}`, RSYS.openat, AT_FDCWD, at, flags | O.CLOEXEC, 0);
}

/**
 * Write `bytes` into descriptor `fd` of the process, MAX_DATA at a time through the argument area (a pipe's
 * buffered data, a socket's queued bytes: in TCP repair mode each write becomes queued data). A write
 * that takes less than its chunk is EIO, unless `partial` (then the rest goes in the next write; none
 * taken is EIO).
 */
export function writeInTask(
  task: RemoteTask,
  fd: number,
  bytes: Uint8Array,
  what: string,
  partial = false,
): void {
  for (let off = 0; off < bytes.length; ) {
    const chunk = bytes.subarray(off, off + MAX_DATA);
    const at = putArg(task, chunk);
    const n = task.call(`write ${chunk.length} bytes (${what})`, RSYS.write, fd, at, chunk.length);
    if (partial ? n <= 0 : n !== chunk.length)
      throw new RestoreError('EIO', `${what}: ${n} of ${chunk.length} bytes written`);
    off += n;
  }
}
