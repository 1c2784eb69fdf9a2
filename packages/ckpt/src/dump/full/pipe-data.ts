/**
 * The bytes buffered in a target's pipe, read without consuming them: opening /proc/PID/fd/N read-only
 * gives us a read end of the same pipe (whichever end N is), tee() copies the buffered bytes into a pipe
 * of ours, and we read that. The target's pipe is left as it was. Runs while the target is frozen (nobody else reads or writes it).
 *
 * @example
 * const bytes = peekPipe(pid, 3); // what a read() on the target's fd 3 would return next
 */
import { constants, openSync, readSync } from 'node:fs';
import { addressOf, closeFd, SYS, syscall, tee } from '../../sys/index.js';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETPIPE_SZ = 1032;
const F_SETPIPE_SZ = 1031;

/** Buffered bytes of pipe fd `fd` of process `pid`, and the pipe's capacity. */
export function peekPipe(pid: number, fd: number): { data: Buffer; size: number } {
  const src = openSync(`/proc/${pid}/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK);
  const fds: number[] = [src];
  try {
    const size = syscall(SYS.fcntl, src, F_GETPIPE_SZ);
    const pair = new Uint8Array(8);
    syscall(SYS.pipe2, addressOf(pair), O_NONBLOCK | O_CLOEXEC);
    const v = new DataView(pair.buffer);
    const [r, w] = [v.getInt32(0, true), v.getInt32(4, true)];
    fds.push(r, w);
    syscall(SYS.fcntl, w, F_SETPIPE_SZ, size);
    let copied = 0;
    try {
      copied = tee(src, w, size);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e; // EAGAIN: the pipe is empty
    }
    const data = Buffer.alloc(copied);
    let got = 0;
    while (got < copied) got += readSync(r, data, got, copied - got, null);
    return { data, size };
  } finally {
    for (const f of fds.reverse()) closeFd(f);
  }
}
