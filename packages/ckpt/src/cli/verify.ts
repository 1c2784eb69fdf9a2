/**
 * `ckpt verify DIR`: check every image of an image directory and of its parents.
 *
 * Per directory (then its `parent`, recursively; a loop or a dangling link is a problem):
 * ```
 * not a complete set (images/image-set-check.ts: -> problem: an INCOMPLETE marker, no inventory.img (an
 *   empty directory, one a killed run left with its log only), a pages-<id>.img missing or not exactly
 *   4096 × Σ PE_PRESENT pages of its pagemap long (truncated)
 * .tmp leftovers                              -> problem (the set was never committed)
 * inventory.img, stats-*, irmap-cache, *.img  -> header magics and entry framing decode
 * pagemap-*.img                               -> entries ascending, not overlapping; every PE_PARENT range
 *                                                resolves along the parent chain
 * pages-<n>.img                               -> referenced by some pagemap
 * pages-<n>.crc32 (checksum extension)        -> every recorded crc32 matches the stored pages
 * ```
 *
 * @example
 * const r = verifyImages('/srv/ps/3'); r.problems.length === 0;
 * verifyCommand('/srv/ps/3'); // prints one line per directory, throws CORRUPT_IMAGE if anything is wrong
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  classifyImageName,
  decodeImage,
  decodeInventoryImage,
  decodeIrmapCache,
  decodeStatsImage,
  ImageDir,
  INCOMPLETE_MARKER,
  imageChainDirs,
  imageSetProblems,
  isTempName,
  PAGE_SERVER_PAGES_ID_BASE,
  PARENT_LINK,
  PageChain,
  PagemapReader,
  PE,
} from '../images/index.js';
import { PAGE_SIZE } from '../sys/constants.js';
import { decodeChecksums } from '../xfer/wire-checksums.js';
import { CommandError } from './failure.js';

export interface VerifyProblem {
  readonly dir: string;
  readonly file: string;
  readonly message: string;
}

export interface VerifiedDir {
  readonly dir: string;
  readonly files: number;
  readonly pagemaps: number;
  readonly presentPages: number;
  readonly holePages: number;
  readonly checksums: number;
}

export interface VerifyReport {
  readonly dirs: VerifiedDir[];
  readonly problems: VerifyProblem[];
}

const message = (e: unknown) => {
  const code = (e as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${e instanceof Error ? e.message : String(e)}`;
};

/** Check `dir` and its parent chain; never throws for bad images (they become problems). */
export function verifyImages(dir: string): VerifyReport {
  const dirs: VerifiedDir[] = [];
  const problems: VerifyProblem[] = [];
  const walk = imageChainDirs(dir);
  for (const d of walk.dirs) dirs.push(verifyOne(d, problems));
  if (walk.broken)
    problems.push({ dir: walk.broken.dir, file: walk.broken.file, message: walk.broken.message });
  return { dirs, problems };
}

function verifyOne(dir: string, problems: VerifyProblem[]): VerifiedDir {
  const out = { dir, files: 0, pagemaps: 0, presentPages: 0, holePages: 0, checksums: 0 };
  const bad = (file: string, msg: string) => problems.push({ dir, file, message: msg });
  const names = readdirSync(dir).sort();
  for (const p of imageSetProblems(dir)) bad(p.file, p.message);
  const referenced = new Set<number>();
  const readers = new Map<number, PagemapReader>();
  try {
    for (const name of names) {
      const path = join(dir, name);
      if (name === PARENT_LINK) continue;
      if (name === INCOMPLETE_MARKER) continue; // one of imageSetProblems
      if (isTempName(name)) {
        bad(name, 'temporary file left over: the set was never committed');
        continue;
      }
      const kind = classifyImageName(name);
      try {
        switch (kind.kind) {
          case 'inventory':
            decodeInventoryImage(readFileSync(path));
            break;
          case 'stats':
            decodeStatsImage(readFileSync(path));
            break;
          case 'irmap-cache':
            decodeIrmapCache(readFileSync(path));
            break;
          case 'pagemap':
          case 'shmem-pagemap': {
            const r = PagemapReader.open(dir, name);
            readers.set(r.pagesId, r);
            out.pagemaps++;
            checkPagemap(dir, name, r, kind.kind === 'pagemap' ? kind.id : undefined, out, bad);
            referenced.add(r.pagesId);
            break;
          }
          case 'pages':
            break; // checked against the pagemaps below
          default:
            if (name.endsWith('.img')) decodeImage(readFileSync(path));
            else if (!name.endsWith('.crc32')) continue; // logs and other non-image files
        }
        out.files++;
      } catch (e) {
        bad(name, message(e));
      }
    }
    for (const name of names) {
      const kind = classifyImageName(name);
      if (kind.kind === 'pages' && !referenced.has(kind.id))
        bad(name, 'no pagemap refers to this pages file');
      const m = /^pages-(\d+)\.crc32$/.exec(name);
      if (m) out.checksums += checkChecksums(dir, name, readers.get(Number(m[1])), bad);
    }
  } finally {
    for (const r of readers.values()) r.close();
  }
  return out;
}

function checkPagemap(
  dir: string,
  name: string,
  r: PagemapReader,
  pid: number | undefined,
  out: { presentPages: number; holePages: number },
  bad: (file: string, msg: string) => void,
): void {
  if (!r.sorted) bad(name, 'entries are not in ascending order or overlap');
  out.presentPages += r.presentPages;
  const holes = r.ranges.filter((x) => x.flags & PE.PARENT);
  for (const h of holes) out.holePages += h.nrPages;
  if (holes.length === 0 || pid === undefined) return;
  try {
    using chain = new PageChain(ImageDir.open(dir), pid);
    for (const h of holes) {
      const absent = chain.locate(h.vaddr, h.nrPages).filter((l) => l.where === 'absent');
      if (absent.length > 0) {
        const a = absent[0]!;
        bad(name, `hole at 0x${a.vaddr.toString(16)} (${a.nrPages} pages) is in no parent image set`);
        return;
      }
    }
  } catch (e) {
    bad(name, `parent chain: ${message(e)}`);
  }
}

function checkChecksums(
  dir: string,
  name: string,
  r: PagemapReader | undefined,
  bad: (file: string, msg: string) => void,
): number {
  if (r === undefined) {
    bad(name, 'no pagemap refers to its pages file');
    return 0;
  }
  let records: ReturnType<typeof decodeChecksums>;
  try {
    records = decodeChecksums(readFileSync(join(dir, name)));
  } catch (e) {
    bad(name, message(e));
    return 0;
  }
  const fd = openSync(r.pagesPath, 'r');
  try {
    for (const rec of records) {
      const range = r.find(rec.vaddr);
      const end = rec.vaddr + rec.nrPages * PAGE_SIZE;
      if (range?.offset === undefined || end > range.vaddr + range.nrPages * PAGE_SIZE) {
        bad(name, `checksummed data at 0x${rec.vaddr.toString(16)} is not stored in pages-${r.pagesId}.img`);
        continue;
      }
      const buf = Buffer.alloc(rec.nrPages * PAGE_SIZE);
      const got = readSync(fd, buf, 0, buf.length, range.offset + (rec.vaddr - range.vaddr));
      if (got !== buf.length || crc32(buf) !== rec.crc) {
        bad(name, `data at 0x${rec.vaddr.toString(16)} (${rec.nrPages} pages) does not match its crc32`);
      }
    }
  } finally {
    closeSync(fd);
  }
  return records.length;
}

/** Print one line per directory and per problem; throws (code CORRUPT_IMAGE) when anything is wrong. */
export function verifyCommand(
  dir: string,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): VerifyReport {
  if (!existsSync(dir)) throw new CommandError('ENOENT', `${dir}: no such directory`);
  const report = verifyImages(dir);
  for (const d of report.dirs) {
    const server = d.checksums > 0 || existsSync(join(d.dir, `pages-${PAGE_SERVER_PAGES_ID_BASE}.img`));
    out(
      `${d.dir}: ${d.files} images, ${d.pagemaps} pagemaps, ${d.presentPages} pages, ${d.holePages} hole pages` +
        `${d.checksums > 0 ? `, ${d.checksums} checksums verified` : ''}${server ? ' (page-server set)' : ''}`,
    );
  }
  for (const p of report.problems) out(`BAD ${join(p.dir, p.file)}: ${p.message}`);
  if (report.problems.length > 0) {
    throw new CommandError('CORRUPT_IMAGE', `${report.problems.length} problem(s) in ${dir} and its parents`);
  }
  out(`ok: ${report.dirs.length} image set(s) verified`);
  return report;
}
