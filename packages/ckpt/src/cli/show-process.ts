/**
 * The process state of a full dump (`ckpt dump`, or CRIU's), for `ckpt show DIR`: read from pstree.img,
 * core-TID.img, ids-PID.img, mm-PID.img, fs-PID.img, fdinfo-N.img and files.img, as `crit show` decodes
 * them, condensed to what a person looks at:
 *
 * ```
 * process 4242 (ppid 1, pgid 4242, sid 4242) restorable: 3 threads, 24 VMAs, 4 fds, cwd /tmp
 *   thread 4242  ip=0x7f..  sp=0x7ffd..  ax=0x..  orig_ax=230  blocked=0x1800  pending 1
 *   vma 0x555..-0x555.. r-xp  FILE_PRIVATE|REGULAR  /usr/bin/restorable
 *   fd 0  REG /dev/null   fd 3  PIPE pipe:[12345]
 * ```
 * A directory without pstree.img (a pre-dump) has no process state: processReport returns undefined.
 *
 * @example
 * const procs = processReport('/ckpt/final'); // [{ pid, threads: [...], vmas: [...], fds: [...] }]
 * processText(procs!).join('\n');
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CoreEntry,
  coreEntryCodec,
  decodeImageOf,
  FD_TYPE,
  type FileEntry,
  fdinfoEntryCodec,
  fileEntryCodec,
  fsEntryCodec,
  type InetSkEntry,
  imageFileName,
  kobjIdsCodec,
  MAGIC,
  mmEntryCodec,
  pstreeEntryCodec,
  TASK_DEAD,
  VMA_STATUS,
} from '../images/index.js';

export interface ThreadReport {
  tid: number;
  ip: string;
  sp: string;
  ax: string;
  orig_ax: string;
  blocked: string;
  pending: number;
  comm?: string;
}

export interface VmaReport {
  start: string;
  end: string;
  prot: string;
  status: string;
  file?: string;
}

export interface FdReport {
  fd: number;
  type: string;
  target: string;
  cloexec: boolean;
  pos?: string;
}

export interface ProcessReport {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm?: string;
  cwd?: string;
  root?: string;
  sharedPending: number;
  /** A zombie (CRIU's TASK_DEAD): its wait status; it has no threads, memory or files. */
  zombie?: { status: number };
  threads: ThreadReport[];
  vmas: VmaReport[];
  fds: FdReport[];
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** The entries of one image of `dir` (the framing checked against `magic`). */
function entries(dir: string, name: string, magic: number): Buffer[] {
  return decodeImageOf(readFileSync(join(dir, name)), magic);
}

const FD_TYPE_NAMES = Object.fromEntries(Object.entries(FD_TYPE).map(([k, v]) => [v, k]));

function statusName(status: number): string {
  const names = Object.entries(VMA_STATUS)
    .filter(([, bit]) => status & bit)
    .map(([k]) => k);
  return names.length > 0 ? names.join('|') : hex(status);
}

const protName = (prot: number, flags: number) =>
  `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${flags & 1 ? 's' : 'p'}`;

function fileTarget(f: FileEntry | undefined, files?: ReadonlyMap<number, FileEntry>): string {
  if (!f) return '?';
  if (f.reg) return f.reg.name;
  if (f.tty)
    return f.tty.regf_id !== undefined
      ? fileTarget(files?.get(f.tty.regf_id))
      : `tty ${f.tty.tty_info_id >> 1}`;
  if (f.pipe) return `pipe:[${f.pipe.pipe_id}]`;
  if (f.efd) return `eventfd counter ${f.efd.counter}`;
  if (f.epfd)
    return `epoll watching ${
      (f.epfd.tfd ?? [])
        .map((t) => t.tfd)
        .sort((a, b) => a - b)
        .map((fd) => `fd ${fd}`)
        .join(', ') || 'nothing'
    }`;
  if (f.isk) return inetSocket(f.isk);
  if (f.usk)
    return `unix ${f.usk.state === 10 ? 'listener' : f.usk.peer ? `peer socket:[${f.usk.peer}]` : 'socket'}${f.usk.name.length ? ` ${Buffer.from(f.usk.name).toString().replace(/\0/g, '@')}` : ''}`;
  if (f.tfd)
    return `timerfd clock ${f.tfd.clockid} left ${f.tfd.vsec}.${String(f.tfd.vnsec).padStart(9, '0')} s every ${f.tfd.isec} s`;
  if (f.sgfd) return `signalfd mask 0x${BigInt(f.sgfd.sigmask).toString(16)}`;
  return `type ${f.type}`;
}

/** `tcp 127.0.0.1:8080 LISTEN backlog 511`, `udp6 [::1]:5353 -> [::1]:53`. */
function inetSocket(s: InetSkEntry): string {
  const v6 = s.family === 10;
  const addr = (words: readonly number[] | undefined, port: number) => {
    const b = Buffer.alloc(v6 ? 16 : 4);
    (words ?? []).slice(0, v6 ? 4 : 1).forEach((w, i) => {
      b.writeUInt32LE(w >>> 0, 4 * i);
    });
    const host = v6
      ? new URL(`http://[${(b.toString('hex').match(/..../g) ?? []).join(':')}]`).hostname
      : [...b].join('.');
    return `${host}:${port}`;
  };
  const proto = `${s.proto === 6 ? 'tcp' : 'udp'}${v6 ? '6' : ''}`;
  const state =
    s.state === 10
      ? ` LISTEN backlog ${s.backlog}`
      : s.state === 1
        ? ` -> ${addr(s.dst_addr, s.dst_port)}`
        : '';
  return `${proto} ${addr(s.src_addr, s.src_port)}${state}`;
}

function threadReport(tid: number, core: CoreEntry): ThreadReport {
  const r = core.thread_info?.gpregs;
  const blocked = core.thread_core?.blk_sigset ?? core.tc?.blk_sigset ?? 0n;
  return {
    tid,
    ip: hex(r?.ip ?? 0n),
    sp: hex(r?.sp ?? 0n),
    ax: hex(r?.ax ?? 0n),
    orig_ax: String(BigInt.asIntN(64, r?.orig_ax ?? 0n)),
    blocked: hex(blocked),
    pending: core.thread_core?.signals_p?.signals?.length ?? 0,
    comm: core.thread_core?.comm,
  };
}

/** The processes of the full dump in `dir`, root first; undefined without pstree.img. */
export function processReport(dir: string): ProcessReport[] | undefined {
  if (!existsSync(join(dir, imageFileName.pstree))) return undefined;
  const files = new Map<number, FileEntry>();
  if (existsSync(join(dir, imageFileName.files))) {
    for (const e of entries(dir, imageFileName.files, MAGIC.FILES)) {
      const f = fileEntryCodec.decode(e);
      files.set(f.id, f);
    }
  }
  return entries(dir, imageFileName.pstree, MAGIC.PSTREE).map((b) => {
    const p = pstreeEntryCodec.decode(b);
    const cores = p.threads.map((tid) => {
      const core = coreEntryCodec.decode(entries(dir, imageFileName.core(tid), MAGIC.CORE)[0]!);
      return { tid, core };
    });
    const leader = cores.find((c) => c.tid === p.pid)?.core;
    if (leader?.tc?.task_state === TASK_DEAD) {
      const zombie = { status: leader.tc.exit_code };
      const { pid, ppid, pgid, sid } = p;
      return {
        pid,
        ppid,
        pgid,
        sid,
        comm: leader.tc.comm,
        sharedPending: 0,
        zombie,
        threads: [],
        vmas: [],
        fds: [],
      };
    }
    const ids = kobjIdsCodec.decode(entries(dir, imageFileName.ids(p.pid), MAGIC.IDS)[0]!);
    const mm = mmEntryCodec.decode(entries(dir, imageFileName.mm(p.pid), MAGIC.MM)[0]!);
    const fdinfoName = `fdinfo-${ids.files_id}.img`;
    const fds = existsSync(join(dir, fdinfoName))
      ? entries(dir, fdinfoName, MAGIC.FDINFO).map((e): FdReport => {
          const fi = fdinfoEntryCodec.decode(e);
          const f = files.get(fi.id);
          return {
            fd: fi.fd,
            type: FD_TYPE_NAMES[fi.type] ?? String(fi.type),
            target: fileTarget(f, files),
            cloexec: fi.flags === 1,
            ...(f?.reg ? { pos: String(f.reg.pos) } : {}),
          };
        })
      : [];
    const fsName = `fs-${p.pid}.img`;
    const fs = existsSync(join(dir, fsName))
      ? fsEntryCodec.decode(entries(dir, fsName, MAGIC.FS)[0]!)
      : undefined;
    return {
      pid: p.pid,
      ppid: p.ppid,
      pgid: p.pgid,
      sid: p.sid,
      comm: leader?.tc?.comm,
      cwd: fs ? fileTarget(files.get(fs.cwd_id)) : undefined,
      root: fs ? fileTarget(files.get(fs.root_id)) : undefined,
      sharedPending: leader?.tc?.signals_s?.signals?.length ?? 0,
      threads: cores.map((c) => threadReport(c.tid, c.core)),
      vmas: mm.vmas.map((v) => ({
        start: hex(v.start),
        end: hex(v.end),
        prot: protName(v.prot, v.flags),
        status: statusName(v.status),
        ...(v.shmid !== 0n ? { file: fileTarget(files.get(Number(v.shmid))) } : {}),
      })),
      fds,
    };
  });
}

/** Text lines for `procs` (see the module comment). */
export function processText(procs: readonly ProcessReport[]): string[] {
  const lines: string[] = [];
  for (const p of procs) {
    if (p.zombie) {
      const st = p.zombie.status;
      const how = st & 0x7f ? `killed by signal ${st & 0x7f}` : `exited with ${(st >> 8) & 0xff}`;
      lines.push(
        `process ${p.pid} (ppid ${p.ppid}, pgid ${p.pgid}, sid ${p.sid}) ${p.comm ?? '?'}: a zombie, ${how}`,
      );
      continue;
    }
    lines.push(
      `process ${p.pid} (ppid ${p.ppid}, pgid ${p.pgid}, sid ${p.sid}) ${p.comm ?? '?'}: ${p.threads.length} threads, ` +
        `${p.vmas.length} VMAs, ${p.fds.length} fds, cwd ${p.cwd ?? '?'}, root ${p.root ?? '?'}` +
        (p.sharedPending > 0 ? `, ${p.sharedPending} signals pending for the process` : ''),
    );
    for (const t of p.threads) {
      lines.push(
        `  thread ${t.tid} ${t.comm ?? ''}  ip=${t.ip} sp=${t.sp} ax=${t.ax} orig_ax=${t.orig_ax} blocked=${t.blocked}` +
          (t.pending > 0 ? ` pending=${t.pending}` : ''),
      );
    }
    for (const v of p.vmas) {
      lines.push(
        `  vma ${`${v.start}-${v.end}`.padEnd(29)} ${v.prot}  ${v.status.padEnd(28)} ${v.file ?? ''}`.trimEnd(),
      );
    }
    for (const f of p.fds) {
      lines.push(
        `  fd ${String(f.fd).padStart(3)}  ${f.type.padEnd(4)} ${f.target}${f.pos !== undefined ? ` pos ${f.pos}` : ''}${f.cloexec ? ' cloexec' : ''}`,
      );
    }
  }
  return lines;
}
