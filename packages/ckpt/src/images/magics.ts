/**
 * CRIU image magics and file names.
 *
 * Every image file but `pages-<n>.img` starts with header words (32-bit, little endian, as CRIU writes
 * them on x86-64):
 * ```
 * inventory.img          INVENTORY                       (one word: no common magic)
 * ordinary images        IMG_COMMON   | <type magic>     (e.g. 19 43 56 54 | 25 40 08 56 for a pagemap)
 * stats-*, irmap-cache   IMG_SERVICE  | STATS / IRMAP_CACHE
 * pages-<n>.img          (none: raw page data from byte 0)
 * ```
 * The type magics encode map coordinates of Russian towns (NNNNEEEE).
 *
 * @example
 * MAGIC.PAGEMAP === 0x56084025; magicName(0x56084025) === 'PAGEMAP'; imageFileName.pagemap(42) === 'pagemap-42.img'
 */

export const MAGIC = {
  IMG_COMMON: 0x54564319,
  IMG_SERVICE: 0x55105940,
  INVENTORY: 0x58313116,
  PSTREE: 0x50273030,
  FDINFO: 0x56213732,
  PAGEMAP: 0x56084025,
  CORE: 0x55053847,
  IDS: 0x54432030,
  VMAS: 0x54123737,
  PIPES: 0x56513555,
  PIPES_DATA: 0x56453709,
  FIFO: 0x58364939,
  FIFO_DATA: 0x59333054,
  SIGACT: 0x55344201,
  UNIXSK: 0x54373943,
  INETSK: 0x56443851,
  PACKETSK: 0x60454618,
  ITIMERS: 0x57464056,
  POSIX_TIMERS: 0x52603957,
  SK_QUEUES: 0x56264026,
  UTSNS: 0x54473203,
  CREDS: 0x54023547,
  IPC_VAR: 0x53115007,
  IPCNS_SHM: 0x46283044,
  IPCNS_MSG: 0x55453737,
  IPCNS_SEM: 0x59573019,
  REG_FILES: 0x50363636,
  EXT_FILES: 0x59255641,
  FS: 0x51403912,
  MM: 0x57492820,
  REMAP_FPATH: 0x59133954,
  GHOST_FILE: 0x52583605,
  TCP_STREAM: 0x51465506,
  EVENTFD_FILE: 0x44523722,
  EVENTPOLL_FILE: 0x45023858,
  EVENTPOLL_TFD: 0x44433746,
  SIGNALFD: 0x57323820,
  INOTIFY_FILE: 0x48424431,
  INOTIFY_WD: 0x54562009,
  MNTS: 0x55563928,
  NETDEV: 0x57373951,
  NETNS: 0x55933752,
  TTY_FILES: 0x59433025,
  TTY_INFO: 0x59453036,
  TTY_DATA: 0x59413026,
  FILE_LOCKS: 0x54323616,
  RLIMIT: 0x57113925,
  FANOTIFY_FILE: 0x55096122,
  FANOTIFY_MARK: 0x56506035,
  SIGNAL: 0x59255647,
  NETLINK_SK: 0x58005614,
  NS_FILES: 0x61394011,
  TUNFILE: 0x57143751,
  CGROUP: 0x59383330,
  TIMERFD: 0x50493712,
  CPUINFO: 0x61404013,
  USERNS: 0x55474906,
  SECCOMP: 0x64413049,
  BINFMT_MISC: 0x67343323,
  AUTOFS: 0x49353943,
  FILES: 0x56303138,
  MEMFD_INODE: 0x48453499,
  TIMENS: 0x43114433,
  PIDNS: 0x61157326,
  BPFMAP_FILE: 0x57506142,
  BPFMAP_DATA: 0x64324033,
  APPARMOR: 0x59423047,
  STATS: 0x57093306,
  IRMAP_CACHE: 0x57004059,
} as const;

/** `PAGEMAP`, `CORE`, ...: the names of the magics we know. */
export type MagicName = keyof typeof MAGIC;

/** Type magics that follow IMG_SERVICE instead of IMG_COMMON. */
export const SERVICE_MAGICS: ReadonlySet<number> = new Set([MAGIC.STATS, MAGIC.IRMAP_CACHE]);

const BY_VALUE = new Map<number, MagicName>(
  (Object.entries(MAGIC) as [MagicName, number][]).map(([name, value]) => [value, name]),
);

/** Name of a magic value (`PAGEMAP` for 0x56084025), or undefined for a value we do not know. */
export function magicName(value: number): MagicName | undefined {
  return BY_VALUE.get(value);
}

/** `0x56084025`: a magic as CRIU's sources spell it. */
export function magicHex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** The inventory's `img_version` for current two-word headers. */
export const IMG_VERSION = 2;

/** Pagemap entry flags. A missing `flags` field means PE_PRESENT; legacy `in_parent` means PE_PARENT. */
export const PE = {
  PARENT: 1,
  LAZY: 2,
  PRESENT: 4,
} as const;

/** Inventory `pre_dump_mode`. */
export const PRE_DUMP_MODE = {
  SPLICE: 1,
  READ: 2,
} as const;

/** First pages id a page server allocates (a local dump starts at 1), so ids never collide. */
export const PAGE_SERVER_PAGES_ID_BASE = 0x10000 + 1;

/** Name of the symlink to the previous image set, and of the marker an aborted directory keeps. */
export const PARENT_LINK = 'parent';
/** File an aborted directory keeps, holding the reason. */
export const INCOMPLETE_MARKER = 'INCOMPLETE';

/** File names of the images (templates from CRIU's image table). */
export const imageFileName = {
  inventory: 'inventory.img',
  pstree: 'pstree.img',
  stats: 'stats-dump',
  irmapCache: 'irmap-cache',
  files: 'files.img',
  core: (tid: number) => `core-${tid}.img`,
  mm: (pid: number) => `mm-${pid}.img`,
  ids: (pid: number) => `ids-${pid}.img`,
  pagemap: (pid: number) => `pagemap-${pid}.img`,
  shmemPagemap: (shmid: number) => `pagemap-shmem-${shmid}.img`,
  pages: (id: number) => `pages-${id}.img`,
} as const;

/** What a file name in an image directory is. `id` is the pid/tid/shmid/pages id in the name. */
export type ImageFileKind =
  | { kind: 'inventory' }
  | { kind: 'stats' }
  | { kind: 'irmap-cache' }
  | { kind: 'pagemap'; id: number }
  | { kind: 'shmem-pagemap'; id: number }
  | { kind: 'pages'; id: number }
  | { kind: 'other' };

/**
 * Classify a file name of an image directory.
 *
 * @example
 * classifyImageName('pagemap-42.img'); // { kind: 'pagemap', id: 42 }
 */
export function classifyImageName(name: string): ImageFileKind {
  if (name === imageFileName.inventory) return { kind: 'inventory' };
  if (name === imageFileName.stats) return { kind: 'stats' };
  if (name === imageFileName.irmapCache) return { kind: 'irmap-cache' };
  let m = /^pagemap-shmem-(\d+)\.img$/.exec(name);
  if (m) return { kind: 'shmem-pagemap', id: Number(m[1]) };
  m = /^pagemap-(\d+)\.img$/.exec(name);
  if (m) return { kind: 'pagemap', id: Number(m[1]) };
  m = /^pages-(\d+)\.img$/.exec(name);
  if (m) return { kind: 'pages', id: Number(m[1]) };
  return { kind: 'other' };
}
