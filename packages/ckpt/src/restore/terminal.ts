/**
 * Terminals of a shell job (`ckpt restore --shell-job`, CRIU's meaning): the dumped tree held the slave
 * side of a pseudo-terminal whose master was outside it (the shell's terminal). Such a slave comes back as
 * the restorer's own terminal, ckpt's standard input, as `criu restore --shell-job` does (its
 * pty_open_unpaired_slave: a dup of its stdin, then restore_tty_params):
 *
 * ```
 * before a pid is taken   every TTY descriptor of the images: refused without --shell-job (one line);
 *                         with it, ckpt's fd 0 must be a terminal
 * the helper              started with ckpt's fd 0 as its fd 0 (and in ckpt's session and group:
 *                         session.ts); the root inherits that open description
 * files (fd-table.ts)     each TTY entry -> a dup of that inherited fd (one description, shared with ckpt)
 * the terminal's params   TIOCSLCKTRMIOS, TCSETS, TIOCSWINSZ with the dumped values, on ckpt's fd 0
 * ```
 * The session's controlling terminal is not set: the restored tree joins ckpt's session (session.ts),
 * whose controlling terminal it already is.
 *
 * @example
 * checkTerminals(images, shellJob);   // throws RestoreError ENOTSUP / ENOTTY-like EIO before any pid
 * applyTerminalParams(images);        // the dumped termios and window size on ckpt's terminal
 */
import { isatty } from 'node:tty';
import { FD_TYPE, type TermiosEntry } from '../images/index.js';
import { ioctl } from '../sys/index.js';
import { RestoreError } from './errors.js';
import type { TaskImages } from './task-images.js';

const TCSETS = 0x5402;
const TIOCSWINSZ = 0x5414;
const TIOCSLCKTRMIOS = 0x5457;
/** The kernel's struct termios: 4 flag words, c_line, 19 control characters. */
const KERNEL_TERMIOS_SIZE = 36;
const TERMIOS_NCC = 19;

/** The terminal descriptors of the tree: [process, fd, the path it had]. */
function terminalFds(images: readonly TaskImages[]): [pid: number, fd: number, path: string][] {
  const out: [number, number, string][] = [];
  for (const t of images)
    for (const e of t.fds) {
      const f = t.files.get(e.id);
      if (f?.type !== FD_TYPE.TTY) continue;
      const regf = f.tty?.regf_id !== undefined ? t.files.get(f.tty.regf_id)?.reg?.name : undefined;
      out.push([t.pid, e.fd, regf ?? `tty ${f.tty?.tty_info_id ?? '?'}`]);
    }
  return out;
}

/**
 * Whether the tree holds terminals; throws RestoreError when they cannot be restored: without
 * `shellJob` (ENOTSUP, one line naming the first), a master side or another kind of terminal (ENOTSUP),
 * ckpt's standard input not a terminal (EIO).
 */
export function checkTerminals(images: readonly TaskImages[], shellJob: boolean): boolean {
  const ttys = terminalFds(images);
  if (ttys.length === 0) return false;
  const [pid, fd, path] = ttys[0]!;
  if (!shellJob)
    throw new RestoreError(
      'ENOTSUP',
      `process ${pid} fd ${fd}: a terminal (${path}) of a shell job: restore it with --shell-job`,
    );
  const { files, ttys: infos } = images[0]!; // files.img and tty-info.img: one for the tree
  for (const f of files.values()) {
    if (f.type !== FD_TYPE.TTY || !f.tty) continue;
    const info = infos.get(f.tty.tty_info_id);
    if (!info) throw new RestoreError('CORRUPT_IMAGE', `tty-info.img: no terminal ${f.tty.tty_info_id}`);
    if ((info.id & 1) !== 0 || !info.pty)
      throw new RestoreError('ENOTSUP', `terminal ${info.id}: only the slave of a pty is restored`);
  }
  if (!isatty(0))
    throw new RestoreError('EIO', "--shell-job: ckpt's standard input is not a terminal (it is the job's)");
  return true;
}

function kernelTermios(t: TermiosEntry): Uint8Array {
  const b = Buffer.alloc(KERNEL_TERMIOS_SIZE);
  b.writeUInt32LE(t.c_iflag, 0);
  b.writeUInt32LE(t.c_oflag, 4);
  b.writeUInt32LE(t.c_cflag, 8);
  b.writeUInt32LE(t.c_lflag, 12);
  b[16] = t.c_line;
  for (let i = 0; i < TERMIOS_NCC && i < t.c_cc.length; i++) b[17 + i] = t.c_cc[i]!;
  return b;
}

/**
 * The dumped parameters of the tree's terminal (its first tty-info entry: a shell job has one) set on
 * ckpt's standard input, CRIU's order: locked termios, termios, window size. Throws SysError.
 */
export function applyTerminalParams(images: readonly TaskImages[]): void {
  const info = images[0]?.ttys.values().next().value;
  if (!info) return;
  if (info.termios_locked) ioctl(0, TIOCSLCKTRMIOS, kernelTermios(info.termios_locked));
  if (info.termios) ioctl(0, TCSETS, kernelTermios(info.termios));
  if (info.winsize) {
    const w = new Uint16Array([
      info.winsize.ws_row,
      info.winsize.ws_col,
      info.winsize.ws_xpixel,
      info.winsize.ws_ypixel,
    ]);
    ioctl(0, TIOCSWINSZ, new Uint8Array(w.buffer));
  }
}
