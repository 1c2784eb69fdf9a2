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
