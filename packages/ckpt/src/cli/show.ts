/**
 * `ckpt show DIR|FILE [--json] [--pages]`: print CRIU images readably, as `crit show` does.
 *
 * For a file: its header words (names and hex) and every entry's fields; a `pages-<n>.img` is raw data and
 * shows its size. For a directory: completeness (inventory.img present, or the INCOMPLETE reason), the
 * parent link, inventory and stats, and one line per image. `--pages` lists each pagemap's page ranges
 * with their flags and where their data lives: in this image set's pages file, in a parent's (following
 * the chain), or nowhere. `--json` prints the same report as JSON. A file that cannot be decoded raises
 * `ImageError`; inside a directory listing, a damaged image is reported on its line instead (and the
 * command ends with one stderr line naming the damaged images, exit status 1). Files that
 * are not images at all get a note instead of an error: ckpt's own binary log (`*.log.bin`, e.g.
 * pre-dump.log.bin) says how to decode it, and any other file whose name is not an image's (e.g.
 * ckpt-track.json) and that does not start with an image magic is "not an image". The images of a full
 * dump (pstree, core, ids, mm, fs, fdinfo, files) decode field by field, and a directory holding
 * pstree.img also shows its process state (show-process.ts): threads with a registers summary, VMAs, fds.
 *
 * @example
 * showCommand('/ckpt/pre2', { pages: true });
 * const report = JSON.parse(renderShow('/ckpt/pre2/pagemap-42.img', { json: true }));
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import {
  classifyImageName,
  coreEntryCodec,
  decodeImage,
  entryFlags,
  entryPages,
  fdinfoEntryCodec,
  fileEntryCodec,
  flagsName,
  fsCall,
  fsEntryCodec,
  ImageDir,
  ImageError,
  inventoryEntryCodec,
  kobjIdsCodec,
  MAGIC,
  magicHex,
  magicName,
  mmEntryCodec,
  PageChain,
  PagemapReader,
  PE,
  pagemapEntryCodec,
  pagemapHeadCodec,
  pipeDataEntryCodec,
  pstreeEntryCodec,
  statsEntryCodec,
  ttyInfoEntryCodec,
} from '../images/index.js';
import { PAGE_SIZE } from '../sys/constants.js';
import { type ProcessReport, processReport, processText } from './show-process.js';

/** Flags of `ckpt show`. */
export interface ShowOptions {
  /** Print JSON instead of text. */
  json?: boolean;
  /** List page ranges and where their data lives. */
  pages?: boolean;
}

interface HeaderWord {
  name: string;
  hex: string;
}

interface EntryReport {
  type: string;
  fields: Record<string, unknown>;
}

interface RangeReport {
  vaddr: number;
  nrPages: number;
  flags: string;
  where: 'here' | 'parent' | 'absent' | 'lazy';
  depth?: number;
  file?: string;
  offset?: number;
  error?: string;
}

interface FileReport {
  file: string;
  size: number;
  header?: HeaderWord[];
  entries?: EntryReport[];
  rawPages?: number;
  ranges?: RangeReport[];
  error?: string;
  /** An image that could not be decoded (its `error` says why). */
  damaged?: boolean;
  /** What a file that is not an image is (a binlog log, or "not an image"). */
  note?: string;
}

/** Suffix of ckpt's binary logs (binlog format), kept in the image directory. */
const BINLOG_SUFFIX = '.log.bin';
const binlogNote = (name: string) => `binlog log (decode with npx binlog decode ${name})`;

interface DirReport {
  dir: string;
  complete: boolean;
  incomplete?: string;
  parent?: { link: string; path: string; exists: boolean };
  files: FileReport[];
  /** A full dump's processes (pstree.img present). */
  processes?: ProcessReport[];
}

/**
 * Print the report for `target` to stdout. A directory with damaged images is listed whole, then said
 * so on stderr in one line, and the exit status is 1 (as a damaged file's own error would make it).
 */
export function showCommand(target: string, opts: ShowOptions = {}): void {
  const { text, damaged } = showReport(target, opts);
  process.stdout.write(text);
  if (damaged.length > 0) {
    process.stderr.write(
      `ckpt: ${target}: ${damaged.length} damaged image${damaged.length > 1 ? 's' : ''} (${damaged.join(', ')})\n`,
    );
    process.exitCode = 1;
  }
}

/** The report for `target` as text (or JSON with `opts.json`), ending with a newline. */
export function renderShow(target: string, opts: ShowOptions = {}): string {
  return showReport(target, opts).text;
}

/** renderShow's text, and the images of a directory that could not be decoded. */
function showReport(target: string, opts: ShowOptions): { text: string; damaged: string[] } {
  const st = fsCall(`stat ${target}`, () => statSync(target));
  const report = st.isDirectory() ? dirReport(target, opts) : fileReport(target, opts);
  const damaged = 'files' in report ? report.files.filter((f) => f.damaged).map((f) => f.file) : [];
  if (opts.json) return { text: `${JSON.stringify(report, jsonValue, 2)}\n`, damaged };
  return { text: 'files' in report ? dirText(report) : fileText(report), damaged };
}

/** JSON for the decoded fields: 64-bit values as hex strings, byte fields as hex. */
function jsonValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

/** The codecs of the images of a full dump, by magic: decoded field by field. */
const FULL_DUMP_CODECS: ReadonlyMap<number, [string, { decode(b: Uint8Array): object }]> = new Map([
  [MAGIC.PSTREE, ['pstree_entry', pstreeEntryCodec]],
  [MAGIC.CORE, ['core_entry', coreEntryCodec]],
  [MAGIC.IDS, ['task_kobj_ids_entry', kobjIdsCodec]],
  [MAGIC.MM, ['mm_entry', mmEntryCodec]],
  [MAGIC.FS, ['fs_entry', fsEntryCodec]],
  [MAGIC.FDINFO, ['fdinfo_entry', fdinfoEntryCodec]],
  [MAGIC.FILES, ['file_entry', fileEntryCodec]],
  [MAGIC.TTY_INFO, ['tty_info_entry', ttyInfoEntryCodec]],
]);

/**
 * pipes-data.img: each pipe_data_entry is followed by its `bytes` of pipe contents, outside the entry
 * framing (as CRIU writes it): shown as the entry plus the length and the first bytes of the data.
 */
function pipesDataReport(name: string, bytes: Buffer): FileReport {
  const header = [bytes.readUInt32LE(0), MAGIC.PIPES_DATA].map((w) => ({
    name: magicName(w) ?? '?',
    hex: magicHex(w),
  }));
  const entries: EntryReport[] = [];
  let off = 8;
  while (off < bytes.length) {
    if (off + 4 > bytes.length) throw new ImageError('TRUNCATED', `${name}: entry length cut at ${off}`);
    const len = bytes.readUInt32LE(off);
    if (off + 4 + len > bytes.length) throw new ImageError('TRUNCATED', `${name}: entry cut at ${off}`);
    const e = pipeDataEntryCodec.decode(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
    if (off + e.bytes > bytes.length) throw new ImageError('TRUNCATED', `${name}: pipe data cut at ${off}`);
    const data = bytes.subarray(off, off + e.bytes);
    off += e.bytes;
    entries.push({ type: 'pipe_data_entry', fields: { ...e, data: data.subarray(0, 32).toString('hex') } });
  }
  return { file: name, size: bytes.length, header, entries };
}

/** Magic names of the full dump's images: their one entry is too long for a summary line. */
const FULL_DUMP_TYPES = new Set(['CORE', 'MM', 'IDS', 'FS', 'PSTREE']);

function fileReport(path: string, opts: ShowOptions): FileReport {
  const bytes = fsCall(`read ${path}`, () => readFileSync(path));
  const name = basename(path);
  const kind = classifyImageName(name);
  if (kind.kind === 'other' && name.endsWith(BINLOG_SUFFIX)) {
    return { file: name, size: bytes.length, note: binlogNote(name) };
  }
  if (kind.kind === 'pages') return { file: name, size: bytes.length, rawPages: bytes.length / PAGE_SIZE };
  if (bytes.length >= 8 && bytes.readUInt32LE(4) === MAGIC.PIPES_DATA) return pipesDataReport(name, bytes);
  const img = decodeImage(bytes);
  const words: number[] =
    img.header.kind === 'inventory' ? [img.header.magic] : [bytes.readUInt32LE(0), img.header.magic];
  const header = words.map((w) => ({ name: magicName(w) ?? '?', hex: magicHex(w) }));
  const entries = img.entries.map((e, i): EntryReport => decodeEntry(img.header.magic, e, i));
  const report: FileReport = { file: name, size: bytes.length, header, entries };
  if (opts.pages && img.header.magic === MAGIC.PAGEMAP) {
    report.ranges = rangesOf(dirname(path), name, kind.kind === 'pagemap' ? kind.id : undefined);
  }
  return report;
}

function decodeEntry(magic: number, bytes: Buffer, index: number): EntryReport {
  switch (magic) {
    case MAGIC.INVENTORY:
      return { type: 'inventory_entry', fields: { ...inventoryEntryCodec.decode(bytes) } };
    case MAGIC.STATS:
      return { type: 'stats_entry', fields: { ...statsEntryCodec.decode(bytes) } };
    case MAGIC.PAGEMAP:
      if (index === 0) return { type: 'pagemap_head', fields: { ...pagemapHeadCodec.decode(bytes) } };
      return { type: 'pagemap_entry', fields: pagemapFields(bytes) };
    default: {
      const full = FULL_DUMP_CODECS.get(magic);
      if (full) return { type: full[0], fields: { ...full[1].decode(bytes) } };
      return { type: 'raw', fields: { size: bytes.length, hex: bytes.subarray(0, 32).toString('hex') } };
    }
  }
}

function pagemapFields(bytes: Buffer): Record<string, unknown> {
  const e = pagemapEntryCodec.decode(bytes);
  return { ...e, nr_pages: entryPages(e), flags: flagsName(entryFlags(e)) };
}

function rangesOf(dir: string, name: string, pid: number | undefined): RangeReport[] {
  using reader = PagemapReader.open(dir, name);
  const chain = pid === undefined ? undefined : new PageChain(ImageDir.open(dir), pid);
  try {
    const out: RangeReport[] = [];
    for (const r of reader) {
      const flags = flagsName(r.flags);
      if (r.offset !== undefined) {
        out.push({
          vaddr: r.vaddr,
          nrPages: r.nrPages,
          flags,
          where: 'here',
          file: basename(reader.pagesPath),
          offset: r.offset,
        });
      } else if (r.flags & PE.PARENT) {
        out.push(...parentRanges(chain, dir, r.vaddr, r.nrPages, flags));
      } else {
        out.push({ vaddr: r.vaddr, nrPages: r.nrPages, flags, where: 'lazy' });
      }
    }
    return out;
  } finally {
    chain?.close();
  }
}

function parentRanges(
  chain: PageChain | undefined,
  dir: string,
  vaddr: number,
  nrPages: number,
  flags: string,
): RangeReport[] {
  if (chain === undefined) return [{ vaddr, nrPages, flags, where: 'parent', error: 'not a task pagemap' }];
  try {
    return chain.locate(vaddr, nrPages).map((l): RangeReport => {
      if (l.where === 'absent') return { vaddr: l.vaddr, nrPages: l.nrPages, flags, where: 'absent' };
      if (l.where === 'held')
        return { vaddr: l.vaddr, nrPages: l.nrPages, flags, where: 'lazy', depth: l.depth };
      const file = relative(resolve(dir), resolve(l.pagesPath));
      return {
        vaddr: l.vaddr,
        nrPages: l.nrPages,
        flags,
        where: 'parent',
        depth: l.depth,
        file,
        offset: l.offset,
      };
    });
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    return [{ vaddr, nrPages, flags, where: 'parent', error: `${e.code}: ${e.message}` }];
  }
}

function dirReport(path: string, opts: ShowOptions): DirReport {
  const d = ImageDir.open(path);
  const report: DirReport = { dir: path, complete: d.complete, files: [] };
  const why = d.incompleteReason;
  if (why !== undefined) report.incomplete = why;
  const link = d.parentLink();
  if (link !== undefined) {
    const target = resolve(path, link);
    report.parent = { link, path: target, exists: fsExists(target) };
  }
  for (const f of d.list()) {
    if (f.kind === 'parent-link' || f.kind === 'marker' || f.kind === 'temporary') {
      report.files.push({
        file: f.name,
        size: f.size,
        error: f.kind === 'temporary' ? 'temporary file (unfinished write)' : undefined,
      });
      continue;
    }
    try {
      report.files.push(fileReport(resolve(path, f.name), { pages: opts.pages }));
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      // a file named like no image (ckpt-track.json, a note) that has no image magic: not a damaged image
      const foreign =
        f.kind === 'other' && !f.name.endsWith('.img') && (e.code === 'BAD_MAGIC' || e.code === 'TRUNCATED');
      if (foreign) report.files.push({ file: f.name, size: f.size, note: 'not an image' });
      else report.files.push({ file: f.name, size: f.size, error: `${e.code}: ${e.message}`, damaged: true });
    }
  }
  try {
    const processes = processReport(path);
    if (processes) report.processes = processes;
  } catch (e) {
    if (!(e instanceof ImageError)) throw e; // a damaged image: its own line says so
  }
  return report;
}

function fsExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

// ---- text ------------------------------------------------------------------------------------------

const hex = (n: number) => `0x${n.toString(16)}`;
const PRE_DUMP_NAMES: Record<number, string> = { 1: 'splice', 2: 'read' };

function fieldText(key: string, v: unknown): string {
  if (key === 'vaddr' && typeof v === 'number') return `${key}=${hex(v)}`;
  if (key === 'pre_dump_mode' && typeof v === 'number') return `${key}=${v}(${PRE_DUMP_NAMES[v] ?? '?'})`;
  if (typeof v === 'bigint') return `${key}=0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return `${key}=<${v.length} bytes>`;
  if (Array.isArray(v)) return `${key}=${JSON.stringify(v, jsonValue)}`;
  if (v !== null && typeof v === 'object') {
    const inner = Object.entries(v as Record<string, unknown>).map(([k, x]) => fieldText(k, x));
    return `${key}={${inner.join(' ')}}`;
  }
  return `${key}=${String(v)}`;
}

function rangeText(r: RangeReport): string {
  const span = `${hex(r.vaddr)}-${hex(r.vaddr + r.nrPages * PAGE_SIZE)}`;
  let where: string = r.where;
  if (r.error) where = `${r.where}: ${r.error}`;
  else if (r.file !== undefined)
    where = `${r.where === 'parent' ? `parent[${r.depth}] ` : ''}${r.file} @ ${hex(r.offset ?? 0)}`;
  return `  ${span.padEnd(31)} ${String(r.nrPages).padStart(8)} pages  ${r.flags.padEnd(20)} ${where}`;
}

function fileText(r: FileReport, indent = ''): string {
  const lines: string[] = [];
  if (r.error) return `${indent}${r.file}: ${r.error}\n`;
  if (r.note) return `${indent}${r.file}: ${r.note}\n`;
  if (r.rawPages !== undefined) {
    lines.push(`${r.file}: raw page data, ${r.rawPages} pages (${r.size} bytes)`);
  } else {
    const header = (r.header ?? []).map((w) => `${w.name} (${w.hex})`).join(' + ');
    lines.push(`${r.file}: ${header}, ${r.entries?.length ?? 0} entries, ${r.size} bytes`);
    (r.entries ?? []).forEach((e, i) => {
      const fields = Object.entries(e.fields).map(([k, v]) => fieldText(k, v));
      lines.push(`  [${i}] ${e.type} ${fields.join(' ')}`);
    });
  }
  if (r.ranges) {
    lines.push('  pages:');
    for (const range of r.ranges) lines.push(`  ${rangeText(range)}`);
  }
  return lines.map((l) => `${indent}${l}\n`).join('');
}

function summary(r: FileReport): string {
  if (r.rawPages !== undefined) return `raw page data, ${r.rawPages} pages`;
  const entries = r.entries ?? [];
  const type = r.header?.at(-1)?.name ?? '?';
  if (type === 'PAGEMAP' && entries.length > 0) {
    const count = { here: 0, parent: 0, lazy: 0 };
    for (const e of entries.slice(1)) {
      const f = e.fields as { nr_pages: number; flags: string };
      if (f.flags.includes('PE_PRESENT')) count.here += f.nr_pages;
      else if (f.flags.includes('PE_PARENT')) count.parent += f.nr_pages;
      else count.lazy += f.nr_pages;
    }
    const head = entries[0]!.fields.pages_id;
    return `PAGEMAP pages_id=${head}, ${entries.length - 1} ranges: ${count.here} pages here, ${count.parent} in parent, ${count.lazy} lazy`;
  }
  if (entries.length === 1 && FULL_DUMP_TYPES.has(type)) return `${type} (${entries[0]!.type})`;
  if (entries.length === 1) {
    return `${type} ${Object.entries(entries[0]!.fields)
      .map(([k, v]) => fieldText(k, v))
      .join(' ')}`;
  }
  return `${type}, ${entries.length} entries`;
}

function dirText(r: DirReport): string {
  const state = r.complete
    ? 'complete'
    : r.incomplete
      ? `INCOMPLETE (${r.incomplete})`
      : 'incomplete (no inventory.img)';
  const lines = [`${r.dir}: ${state}`];
  if (r.parent) lines.push(`parent -> ${r.parent.link} (${r.parent.exists ? r.parent.path : 'missing'})`);
  const width = Math.max(0, ...r.files.map((f) => f.file.length));
  for (const f of r.files) {
    const shown = f.error ?? f.note;
    if (f.file === 'parent' || (shown === undefined && f.header === undefined && f.rawPages === undefined))
      continue;
    lines.push(`  ${f.file.padEnd(width)}  ${shown ?? summary(f)}  (${f.size} bytes)`);
    for (const range of f.ranges ?? []) lines.push(`  ${rangeText(range)}`);
  }
  if (r.processes) lines.push(...processText(r.processes));
  return `${lines.join('\n')}\n`;
}
