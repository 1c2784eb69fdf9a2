/**
 * Terminals of a shell job (`ckpt dump --shell-job`, CRIU's meaning): a process started from a shell holds
 * the slave side of a pseudo-terminal (/dev/pts/N) whose master is outside the tree. CRIU dumps its
 * tty_info (termios, window size, session) and, on `criu restore --shell-job`, gives the restored
 * descriptors criu's own terminal ("inherit"). Read from outside while frozen:
 *
 * ```
 * pidfd_getfd(fd)  -> TCGETS, TIOCGLCKTRMIOS, TIOCGWINSZ, TIOCGEXCL  on our copy of the descriptor
 * /proc/PID/stat   -> tty_nr == st_rdev: it is the controlling terminal: sid = the session, pgrp = tpgid
 *                     (TIOCGSID/TIOCGPGRP answer only in the terminal's own session: CRIU asks from inside;
 *                     another terminal gets 0, as CRIU's ENOTTY case)
 * ```
 * Packet mode and the lock are master-side settings: 0 for a slave (CRIU's parasite gets ENOTTY too).
 *
 * @example
 * if (isPtySlave(fd)) facts.set(fd.fd, readTtyFacts(pid, fd, readStatFields(pid)));
 */
import { statSync } from 'node:fs';
import type { TermiosEntry, TtyInfoEntry } from '../../images/index.js';
import { TTY_TYPE } from '../../images/index.js';
import type { FdInfo } from '../../proc/index.js';
import { closeFd, ioctl, pidfdGetfd, pidfdOpen } from '../../sys/index.js';

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
/** Unix98 pty slaves: majors 136..143. */
const PTS_MAJOR_MIN = 136;
const PTS_MAJOR_MAX = 143;
const TCGETS = 0x5401;
const TIOCGWINSZ = 0x5413;
const TIOCGLCKTRMIOS = 0x5456;
const TIOCGEXCL = 0x80045440;
const TERMIOS_NCC = 19;

/** glibc's gnu_dev_major/minor (JS shifts are mod 32: the high word by division). */
const major = (rdev: number) => ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & ~0xff);

/** What tty-info.img needs of one terminal descriptor (tty.proto's tty_info_entry). */
export type TtyFacts = TtyInfoEntry;

/** Whether descriptor `fd` is the slave side of a Unix98 pseudo-terminal (/dev/pts/N). */
export function isPtySlave(fd: FdInfo): boolean {
  if ((fd.mode & S_IFMT) !== S_IFCHR || !fd.path.startsWith('/dev/pts/')) return false;
  const m = major(fd.rdev);
  return m >= PTS_MAJOR_MIN && m <= PTS_MAJOR_MAX;
}

function termios(b: Uint8Array): TermiosEntry {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    c_iflag: v.getUint32(0, true),
    c_oflag: v.getUint32(4, true),
    c_cflag: v.getUint32(8, true),
    c_lflag: v.getUint32(12, true),
    c_line: b[16]!,
    c_ispeed: 0,
    c_ospeed: 0,
    c_cc: [...b.subarray(17, 17 + TERMIOS_NCC)],
  };
}

/**
 * The tty_info of pty slave `fd` of frozen process `pid`; `stat`: its /proc/PID/stat fields after the
 * comm (readStatFields: [state, ppid, pgrp, session, tty_nr, tpgid, ...]). Throws SysError.
 */
export function readTtyFacts(pid: number, fd: FdInfo, stat: readonly string[]): TtyFacts {
  const pidfd = pidfdOpen(pid);
  let ours = -1;
  try {
    ours = pidfdGetfd(pidfd, fd.fd);
    const t = new Uint8Array(64);
    ioctl(ours, TCGETS, t);
    const locked = new Uint8Array(64);
    ioctl(ours, TIOCGLCKTRMIOS, locked);
    const ws = new Uint16Array(4);
    ioctl(ours, TIOCGWINSZ, new Uint8Array(ws.buffer));
    const excl = new Int32Array(1);
    ioctl(ours, TIOCGEXCL, excl);
    const st = statSync(`/proc/${pid}/fd/${fd.fd}`);
    const ctty = Number(stat[4]) === fd.rdev;
    const index = Number(fd.path.slice('/dev/pts/'.length)) || minor(fd.rdev);
    return {
      id: index << 1,
      type: TTY_TYPE.PTY,
      locked: false,
      exclusive: excl[0] !== 0,
      packet_mode: false,
      sid: ctty ? Number(stat[3]) : 0,
      pgrp: ctty ? Math.max(0, Number(stat[5])) : 0,
      rdev: fd.rdev,
      termios: termios(t),
      termios_locked: termios(locked),
      winsize: { ws_row: ws[0]!, ws_col: ws[1]!, ws_xpixel: ws[2]!, ws_ypixel: ws[3]! },
      pty: { index },
      dev: Number(st.dev),
      uid: Number(st.uid),
      gid: Number(st.gid),
    };
  } finally {
    if (ours >= 0) closeFd(ours);
    closeFd(pidfd);
  }
}
