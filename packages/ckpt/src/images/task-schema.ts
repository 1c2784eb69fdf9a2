/**
 * Our protobuf schema of the per-process images of a full dump besides core (CRIU 4.2's `mm.proto`,
 * `vma.proto`, `pstree.proto`, `fs.proto`, `regfile.proto`, `fown.proto`, `fdinfo.proto`, `pipe.proto`,
 * `pipe-data.proto`, `tty.proto`, `eventfd.proto`, `eventpoll.proto`, `signalfd.proto`, `timerfd.proto`, `sk-inet.proto`, `sk-unix.proto`, `sk-opts.proto`, `sk-packet.proto`; field numbers as there). 64-bit fields are bigint (bigint-codec.ts).
 *
 * ```
 * mm-<pid>.img        mm_entry { mm fields, exe_file_id, mm_saved_auxv[44], vmas[], dumpable, aios[] }
 * pstree.img          pstree_entry per process { pid, ppid, pgid, sid, threads[] }
 * fs-<pid>.img        fs_entry { cwd_id, root_id, umask }       (ids of reg-file entries)
 * files.img           file_entry per open file { type, id, reg | pipe | tty | efd | epfd | isk | usk | sgfd | tfd }
 * tcp-stream-<ino>.img tcp_stream_entry + the receive then the send queue's bytes (one connection)
 * sk-queues.img       sk_packet_entry per queued packet { id_for, length } + `length` raw bytes after each
 * tty-info.img        tty_info_entry per terminal { id, type, sid, pgrp, rdev, termios, winsize, pty }
 * fdinfo-<files>.img  fdinfo_entry per descriptor { id, flags (FD_CLOEXEC), type, fd }
 * pipes-data.img      pipe_data_entry { pipe_id, bytes, size } + `bytes` raw bytes after each entry
 * ```
 *
 * @example
 * const bytes = mmEntryCodec.encode(mm);
 * mmEntryCodec.decode(bytes).vmas?.length === mm.vmas?.length; // true
 */
import protobuf from 'protobufjs';
import { bigintCodec } from './bigint-codec.js';

const PROTO = `
syntax = "proto2";

message vma_entry {
  required uint64 start = 1; required uint64 end = 2; required uint64 pgoff = 3; required uint64 shmid = 4;
  required uint32 prot = 5; required uint32 flags = 6; required uint32 status = 7; required sint64 fd = 8;
  optional uint64 madv = 9; optional uint32 fdflags = 10;
}
message aio_ring_entry { required uint64 id = 1; required uint32 nr_req = 2; required uint32 ring_len = 3; }
message mm_entry {
  required uint64 mm_start_code = 1; required uint64 mm_end_code = 2; required uint64 mm_start_data = 3;
  required uint64 mm_end_data = 4; required uint64 mm_start_stack = 5; required uint64 mm_start_brk = 6;
  required uint64 mm_brk = 7; required uint64 mm_arg_start = 8; required uint64 mm_arg_end = 9;
  required uint64 mm_env_start = 10; required uint64 mm_env_end = 11; required uint32 exe_file_id = 12;
  repeated uint64 mm_saved_auxv = 13; repeated vma_entry vmas = 14; optional int32 dumpable = 15;
  repeated aio_ring_entry aios = 16; optional bool thp_disabled = 17;
}
message pstree_entry {
  required uint32 pid = 1; required uint32 ppid = 2; required uint32 pgid = 3; required uint32 sid = 4;
  repeated uint32 threads = 5;
}
message fs_entry { required uint32 cwd_id = 1; required uint32 root_id = 2; optional uint32 umask = 3; }
message fown_entry {
  required uint32 uid = 1; required uint32 euid = 2; required uint32 signum = 3; required uint32 pid_type = 4;
  required uint32 pid = 5;
}
message reg_file_entry {
  required uint32 id = 1; required uint32 flags = 2; required uint64 pos = 3; required fown_entry fown = 5;
  required string name = 6; optional sint32 mnt_id = 7; optional uint64 size = 8; optional bool ext = 9;
  optional uint32 mode = 10; repeated uint32 build_id = 11;
}
message pipe_entry {
  required uint32 id = 1; required uint32 pipe_id = 2; required uint32 flags = 3; required fown_entry fown = 4;
}
message fdinfo_entry { required uint32 id = 1; required uint32 flags = 2; required uint32 type = 3; required uint32 fd = 4; }
message tty_file_entry {
  required uint32 id = 1; required uint32 tty_info_id = 2; required uint32 flags = 3; required fown_entry fown = 4;
  optional uint32 regf_id = 6;
}
message eventfd_file_entry { required uint32 id = 1; required uint32 flags = 2; required fown_entry fown = 3; required uint64 counter = 4; }
message eventpoll_tfd_entry {
  required uint32 id = 1; required uint32 tfd = 2; required uint32 events = 3; required uint64 data = 4;
  optional uint32 dev = 5; optional uint64 inode = 6; optional uint64 pos = 7;
}
message eventpoll_file_entry {
  required uint32 id = 1; required uint32 flags = 2; required fown_entry fown = 3; repeated eventpoll_tfd_entry tfd = 4;
}
message sk_opts_entry {
  required uint32 so_sndbuf = 1; required uint32 so_rcvbuf = 2; required uint64 so_snd_tmo_sec = 3;
  required uint64 so_snd_tmo_usec = 4; required uint64 so_rcv_tmo_sec = 5; required uint64 so_rcv_tmo_usec = 6;
  optional bool reuseaddr = 7; optional uint32 so_priority = 8; optional uint32 so_rcvlowat = 9;
  optional uint32 so_mark = 10; optional bool so_passcred = 11; optional bool so_passsec = 12;
  optional bool so_dontroute = 13; optional bool so_no_check = 14; optional string so_bound_dev = 15;
  repeated fixed64 so_filter = 16; optional bool so_reuseport = 17; optional bool so_broadcast = 18;
  optional bool so_keepalive = 19; optional uint32 so_oobinline = 23; optional uint32 so_linger = 24;
  optional uint32 so_buf_lock = 25;
}
message tcp_opts_entry {
  optional bool cork = 1; optional bool nodelay = 2; optional uint32 keepcnt = 3; optional uint32 keepidle = 4;
  optional uint32 keepintvl = 5;
}
message inet_sk_entry {
  required uint32 id = 1; required uint32 ino = 2; required uint32 family = 3; required uint32 type = 4;
  required uint32 proto = 5; required uint32 state = 6; required uint32 src_port = 7; required uint32 dst_port = 8;
  required uint32 flags = 9; required uint32 backlog = 10; repeated uint32 src_addr = 11; repeated uint32 dst_addr = 12;
  required fown_entry fown = 13; required sk_opts_entry opts = 14; optional bool v6only = 15;
  optional string ifname = 17; optional tcp_opts_entry tcp_opts = 20;
}
message file_perms_entry { required uint32 mode = 1; required uint32 uid = 2; required uint32 gid = 3; }
message unix_sk_entry {
  required uint32 id = 1; required uint32 ino = 2; required uint32 type = 3; required uint32 state = 4;
  required uint32 flags = 5; required uint32 uflags = 6; required uint32 backlog = 7; required uint32 peer = 8;
  required fown_entry fown = 9; required sk_opts_entry opts = 10; required bytes name = 11;
  optional uint32 shutdown = 12; optional file_perms_entry file_perms = 13; optional string name_dir = 14;
  optional bool deleted = 15; optional uint32 ns_id = 16; optional sint32 mnt_id = 17;
}
message sk_packet_entry { required uint32 id_for = 1; required uint32 length = 2; }
message tcp_stream_entry {
  required uint32 inq_len = 1; required uint32 inq_seq = 2; required uint32 outq_len = 3; required uint32 outq_seq = 4;
  required uint32 opt_mask = 5; required uint32 snd_wscale = 6; required uint32 mss_clamp = 7;
  optional uint32 rcv_wscale = 8; optional uint32 timestamp = 9; optional bool cork = 10; optional bool nodelay = 11;
  optional uint32 unsq_len = 12; optional uint32 snd_wl1 = 13; optional uint32 snd_wnd = 14; optional uint32 max_window = 15;
  optional uint32 rcv_wnd = 16; optional uint32 rcv_wup = 17;
}
message signalfd_entry { required uint32 id = 1; required uint32 flags = 2; required fown_entry fown = 3; required uint64 sigmask = 4; }
message timerfd_entry {
  required uint32 id = 1; required uint32 flags = 2; required fown_entry fown = 3; required uint32 clockid = 4;
  required uint64 ticks = 5; required uint32 settime_flags = 6; required uint64 vsec = 7; required uint64 vnsec = 8;
  required uint64 isec = 9; required uint64 insec = 10;
}
message file_entry {
  required uint32 type = 1; required uint32 id = 2; optional reg_file_entry reg = 3; optional inet_sk_entry isk = 4;
  optional signalfd_entry sgfd = 10; optional timerfd_entry tfd = 12;
  optional unix_sk_entry usk = 16;
  optional eventfd_file_entry efd = 8; optional eventpoll_file_entry epfd = 9; optional pipe_entry pipe = 18;
  optional tty_file_entry tty = 19;
}
message winsize_entry { required uint32 ws_row = 1; required uint32 ws_col = 2; required uint32 ws_xpixel = 3; required uint32 ws_ypixel = 4; }
message termios_entry {
  required uint32 c_iflag = 1; required uint32 c_oflag = 2; required uint32 c_cflag = 3; required uint32 c_lflag = 4;
  required uint32 c_line = 5; required uint32 c_ispeed = 6; required uint32 c_ospeed = 7; repeated uint32 c_cc = 8;
}
message tty_pty_entry { required uint32 index = 1; }
message tty_info_entry {
  required uint32 id = 1; required uint32 type = 2; required bool locked = 3; required bool exclusive = 4;
  required bool packet_mode = 5; required uint32 sid = 6; required uint32 pgrp = 7; required uint32 rdev = 8;
  optional termios_entry termios = 9; optional termios_entry termios_locked = 10; optional winsize_entry winsize = 11;
  optional tty_pty_entry pty = 12; optional uint32 dev = 13; optional uint32 uid = 14; optional uint32 gid = 15;
}
message pipe_data_entry { required uint32 pipe_id = 1; required uint32 bytes = 2; optional uint32 size = 3; }
`;

/** `fd_types` of fdinfo.proto (the ones we write). */
export const FD_TYPE = {
  REG: 1,
  PIPE: 2,
  FIFO: 3,
  INETSK: 4,
  UNIXSK: 5,
  EVENTFD: 6,
  EVENTPOLL: 7,
  SIGNALFD: 9,
  TIMERFD: 17,
  TTY: 11,
} as const;

/** `vma_entry.status` bits (CRIU's include/image.h). */
export const VMA_STATUS = {
  REGULAR: 1 << 0,
  STACK: 1 << 1,
  VSYSCALL: 1 << 2,
  VDSO: 1 << 3,
  HEAP: 1 << 5,
  FILE_PRIVATE: 1 << 6,
  FILE_SHARED: 1 << 7,
  ANON_SHARED: 1 << 8,
  ANON_PRIVATE: 1 << 9,
  VVAR: 1 << 12,
} as const;

export interface VmaEntry {
  start: bigint;
  end: bigint;
  pgoff: bigint;
  /** The reg-file id of a file mapping, 0 for anonymous memory. */
  shmid: bigint;
  prot: number;
  flags: number;
  status: number;
  /** Unused, always -1. */
  fd: bigint;
  /** Bitmap of 1 << MADV_* (MADV_DONTDUMP for vvar, ...). */
  madv?: bigint;
  fdflags?: number;
}
export interface MmEntry {
  mm_start_code: bigint;
  mm_end_code: bigint;
  mm_start_data: bigint;
  mm_end_data: bigint;
  mm_start_stack: bigint;
  mm_start_brk: bigint;
  mm_brk: bigint;
  mm_arg_start: bigint;
  mm_arg_end: bigint;
  mm_env_start: bigint;
  mm_env_end: bigint;
  exe_file_id: number;
  mm_saved_auxv: bigint[];
  vmas: VmaEntry[];
  dumpable?: number;
  thp_disabled?: boolean;
}
export interface PstreeEntry {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads: number[];
}
export interface FsEntry {
  cwd_id: number;
  root_id: number;
  umask?: number;
}
export interface FownEntry {
  uid: number;
  euid: number;
  signum: number;
  pid_type: number;
  pid: number;
}
export interface RegFileEntry {
  id: number;
  /** open(2) status flags (O_ACCMODE | O_APPEND | O_LARGEFILE ...), no O_CLOEXEC. */
  flags: number;
  pos: bigint;
  fown: FownEntry;
  /** Absolute path. */
  name: string;
  mnt_id?: number;
  size?: bigint;
  mode?: number;
}
export interface PipeEntry {
  id: number;
  /** The pipe's inode number: both ends share it. */
  pipe_id: number;
  flags: number;
  fown: FownEntry;
}
export interface FdinfoEntry {
  id: number;
  /** FD_CLOEXEC (1) or 0. */
  flags: number;
  type: number;
  fd: number;
}
/** A terminal descriptor: its tty_info_entry (index << 1, | 1 for a master) and the reg entry of its path. */
export interface TtyFileEntry {
  id: number;
  tty_info_id: number;
  flags: number;
  fown: FownEntry;
  regf_id?: number;
}
export interface EventfdFileEntry {
  id: number;
  /** O_RDWR | O_NONBLOCK as fdinfo says, no O_CLOEXEC. */
  flags: number;
  fown: FownEntry;
  counter: bigint;
}
/** One file an epoll instance watches: its descriptor number in the watcher, the event mask and data. */
export interface EventpollTfdEntry {
  /** The epoll instance's file id. */
  id: number;
  tfd: number;
  events: number;
  data: bigint;
  dev?: number;
  inode?: bigint;
  pos?: bigint;
}
export interface EventpollFileEntry {
  id: number;
  flags: number;
  fown: FownEntry;
  /** Absent when it watches nothing (decoded: protobuf drops empty repeated fields). */
  tfd?: EventpollTfdEntry[];
}
/** Socket options (sk-opts.proto): what a restore sets again. Buffer sizes as getsockopt reports them (doubled). */
export interface SkOptsEntry {
  so_sndbuf: number;
  so_rcvbuf: number;
  so_snd_tmo_sec: bigint;
  so_snd_tmo_usec: bigint;
  so_rcv_tmo_sec: bigint;
  so_rcv_tmo_usec: bigint;
  reuseaddr?: boolean;
  so_priority?: number;
  so_rcvlowat?: number;
  so_mark?: number;
  so_passcred?: boolean;
  so_passsec?: boolean;
  so_dontroute?: boolean;
  so_no_check?: boolean;
  so_bound_dev?: string;
  so_reuseport?: boolean;
  so_broadcast?: boolean;
  so_keepalive?: boolean;
  so_oobinline?: number;
  /** Seconds of SO_LINGER when it is on. */
  so_linger?: number;
  /** SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK: sizes the program set (autotuning off). */
  so_buf_lock?: number;
}
export interface TcpOptsEntry {
  cork?: boolean;
  nodelay?: boolean;
  keepcnt?: number;
  keepidle?: number;
  keepintvl?: number;
}
/**
 * An AF_INET / AF_INET6 socket (sk-inet.proto). Addresses are the network-order bytes read as
 * little-endian words (1 for IPv4, 4 for IPv6), as CRIU stores them; ports in host order; state a TCP
 * state (LISTEN 10, CLOSE 7; UDP: ESTABLISHED 1 when connected, else CLOSE).
 */
export interface InetSkEntry {
  id: number;
  ino: number;
  family: number;
  type: number;
  proto: number;
  state: number;
  src_port: number;
  dst_port: number;
  /** File flags (O_RDWR | O_NONBLOCK). */
  flags: number;
  backlog: number;
  src_addr?: number[];
  dst_addr?: number[];
  fown: FownEntry;
  opts: SkOptsEntry;
  v6only?: boolean;
  ifname?: string;
  tcp_opts?: TcpOptsEntry;
}
/**
 * An AF_UNIX socket (sk-unix.proto). `peer`: the inode of the other end (a socketpair or a connection
 * inside the tree); `name`: the bound name (a path, or an abstract name starting with NUL; empty when
 * unbound); `backlog` of a listener; `shutdown` SHUT_RD 1 | SHUT_WR 2 as sk_shutdown.
 */
export interface UnixSkEntry {
  id: number;
  ino: number;
  type: number;
  state: number;
  flags: number;
  uflags: number;
  backlog: number;
  peer: number;
  fown: FownEntry;
  opts: SkOptsEntry;
  name: Uint8Array;
  shutdown?: number;
  file_perms?: { mode: number; uid: number; gid: number };
  name_dir?: string;
  deleted?: boolean;
  ns_id?: number;
  mnt_id?: number;
}
/**
 * tcp-stream-<inode hex>.img: an established connection (tcp-stream.proto); after the entry, `inq_len`
 * bytes of the receive queue then `outq_len` of the send queue (its last `unsq_len` never sent).
 */
export interface TcpStreamEntry {
  inq_len: number;
  inq_seq: number;
  outq_len: number;
  outq_seq: number;
  opt_mask: number;
  snd_wscale: number;
  mss_clamp: number;
  rcv_wscale?: number;
  timestamp?: number;
  cork?: boolean;
  nodelay?: boolean;
  unsq_len?: number;
  snd_wl1?: number;
  snd_wnd?: number;
  max_window?: number;
  rcv_wnd?: number;
  rcv_wup?: number;
}
/**
 * A zombie of a dump (CRIU's TASK_DEAD: a pstree entry and a core with only `tc`): its ids, its wait
 * status (exit code << 8, or the signal that ended it in the low 7 bits), its name.
 */
export interface ZombieProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly status: number;
  readonly comm: string;
}
/**
 * The path a unix socket's name (UnixSkEntry.name, sock_diag's UNIX_DIAG_NAME: sun_path's bytes) binds,
 * without its trailing NUL; undefined when unbound or abstract (a name starting with NUL).
 *
 * @example
 * unixNamePath(Buffer.from('/run/x.sock\0')); // '/run/x.sock'
 */
export function unixNamePath(name: Uint8Array | undefined): string | undefined {
  if (!name || name.length === 0 || name[0] === 0) return undefined;
  const end = name.indexOf(0);
  return Buffer.from(name.subarray(0, end < 0 ? name.length : end)).toString();
}
/** sk-queues.img: a packet (or a run of stream bytes) queued for socket `id_for`, its bytes after the entry. */
export interface SkPacketEntry {
  id_for: number;
  length: number;
}
export interface SignalfdEntry {
  id: number;
  flags: number;
  fown: FownEntry;
  /** The signals it takes, bit signo-1. */
  sigmask: bigint;
}
/** A timerfd (timerfd.proto): v* is the time left when dumped (also for TFD_TIMER_ABSTIME), i* the interval. */
export interface TimerfdEntry {
  id: number;
  flags: number;
  fown: FownEntry;
  clockid: number;
  /** Expirations not read yet. */
  ticks: bigint;
  settime_flags: number;
  vsec: bigint;
  vnsec: bigint;
  isec: bigint;
  insec: bigint;
}
export interface FileEntry {
  type: number;
  id: number;
  sgfd?: SignalfdEntry;
  tfd?: TimerfdEntry;
  reg?: RegFileEntry;
  isk?: InetSkEntry;
  usk?: UnixSkEntry;
  efd?: EventfdFileEntry;
  epfd?: EventpollFileEntry;
  pipe?: PipeEntry;
  tty?: TtyFileEntry;
}
export interface TermiosEntry {
  c_iflag: number;
  c_oflag: number;
  c_cflag: number;
  c_lflag: number;
  c_line: number;
  c_ispeed: number;
  c_ospeed: number;
  /** TERMIOS_NCC (19) control characters. */
  c_cc: number[];
}
/** tty-info.img: one per terminal (tty.proto; `type` 1 = PTY). */
export interface TtyInfoEntry {
  id: number;
  type: number;
  locked: boolean;
  exclusive: boolean;
  packet_mode: boolean;
  /** Session and foreground group of a controlling terminal; 0 for another terminal. */
  sid: number;
  pgrp: number;
  rdev: number;
  termios?: TermiosEntry;
  termios_locked?: TermiosEntry;
  winsize?: { ws_row: number; ws_col: number; ws_xpixel: number; ws_ypixel: number };
  pty?: { index: number };
  dev?: number;
  uid?: number;
  gid?: number;
}
/** TtyType of tty.proto. */
export const TTY_TYPE = { PTY: 1 } as const;
export interface PipeDataEntry {
  pipe_id: number;
  bytes: number;
  size?: number;
}

const root = protobuf.parse(PROTO, { keepCase: true }).root;

export const mmEntryCodec = bigintCodec<MmEntry>(root, 'mm_entry');
export const pstreeEntryCodec = bigintCodec<PstreeEntry>(root, 'pstree_entry');
export const fsEntryCodec = bigintCodec<FsEntry>(root, 'fs_entry');
export const fileEntryCodec = bigintCodec<FileEntry>(root, 'file_entry');
export const fdinfoEntryCodec = bigintCodec<FdinfoEntry>(root, 'fdinfo_entry');
export const ttyInfoEntryCodec = bigintCodec<TtyInfoEntry>(root, 'tty_info_entry');
export const pipeDataEntryCodec = bigintCodec<PipeDataEntry>(root, 'pipe_data_entry');
export const skPacketEntryCodec = bigintCodec<SkPacketEntry>(root, 'sk_packet_entry');
export const tcpStreamEntryCodec = bigintCodec<TcpStreamEntry>(root, 'tcp_stream_entry');
