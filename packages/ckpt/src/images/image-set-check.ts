/**
 * Is an image directory a complete set, and are its parents? The cheap check a pre-dump makes of its
 * parent before trusting it (holes point into the parent), and the completeness part of `ckpt verify`:
 * no page is read, every pagemap is decoded and every pages file is stat'ed.
 *
 * ```
 * a complete set:  no INCOMPLETE marker
 *                  inventory.img (written last at commit), or a page-server set (pagemaps, no inventory:
 *                    the client's -D keeps it)
 *                  at least one pagemap-*.img (a page-server set) / nothing missing (a dump set)
 *                  each pagemap's pages-<id>.img exists and is 4096 x its PE_PRESENT pages long
 * a complete chain: the set, then parent -> parent -> ..., each complete, no loop, no dangling link
 * ```
 *
 * @example
 * checkImageChain('/ckpt/2'); // throws ImageError INCOMPLETE / BROKEN_CHAIN / CORRUPT_IMAGE / MISSING_IMAGE
 * imageSetProblems('/ckpt/2'); // [{ file: 'pages-1.img', message: '... is 8192 bytes, its pagemap says 16384' }]
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PAGE_SIZE } from '../sys/index.js';
import { indexProblems, readChainIndex } from './chain-index.js';
import { ImageError, type ImageErrorCode } from './errors.js';
import {
  classifyImageName,
  INCOMPLETE_MARKER,
  imageFileName,
  PAGE_SERVER_PAGES_ID_BASE,
  PARENT_LINK,
} from './magics.js';
import { PagemapReader } from './pagemap-reader.js';

/** One reason a directory is not a complete set. */
export interface ImageSetProblem {
  readonly code: ImageErrorCode;
  /** The file concerned ('' for the directory itself). */
  readonly file: string;
  readonly message: string;
}

/**
 * Why `dir` is not a complete image set (an empty list when it is). Bad image contents other than the
 * pages files' sizes are `ckpt verify`'s business.
 *
 * @example
 * imageSetProblems('/ckpt/1').length === 0;
 */
export function imageSetProblems(dir: string): ImageSetProblem[] {
  const problems: ImageSetProblem[] = [];
  const bad = (code: ImageErrorCode, file: string, message: string) => problems.push({ code, file, message });
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    bad('MISSING_IMAGE', '', `${dir}: not a directory (${(e as NodeJS.ErrnoException).code ?? e})`);
    return problems;
  }
  if (names.includes(INCOMPLETE_MARKER)) {
    const why = readFileSync(join(dir, INCOMPLETE_MARKER), 'utf8').trim();
    bad('INCOMPLETE', INCOMPLETE_MARKER, `${dir} was aborted: ${why}`);
  }
  const pagemaps = names.filter(
    (n) => classifyImageName(n).kind === 'pagemap' || classifyImageName(n).kind === 'shmem-pagemap',
  );
  const serverSet = names.some((n) => {
    const k = classifyImageName(n);
    return k.kind === 'pages' && k.id >= PAGE_SERVER_PAGES_ID_BASE;
  });
  if (!names.includes(imageFileName.inventory) && !(serverSet && pagemaps.length > 0)) {
    bad(
      'INCOMPLETE',
      imageFileName.inventory,
      `${dir} has no ${imageFileName.inventory}: not a complete image set (${names.length === 0 ? 'empty' : 'never committed'})`,
    );
  }
  for (const name of pagemaps) {
    let r: PagemapReader;
    try {
      r = PagemapReader.open(dir, name);
    } catch (e) {
      bad(e instanceof ImageError ? e.code : 'CORRUPT_IMAGE', name, (e as Error).message);
      continue;
    }
    try {
      const want = r.presentPages * PAGE_SIZE;
      if (!existsSync(r.pagesPath)) {
        if (want > 0)
          bad(
            'MISSING_IMAGE',
            name,
            `${r.pagesPath} is missing (${name} stores ${r.presentPages} pages in it)`,
          );
        continue;
      }
      const size = statSync(r.pagesPath).size;
      if (size !== want) {
        bad(
          'CORRUPT_IMAGE',
          `pages-${r.pagesId}.img`,
          `${r.pagesPath} is ${size} bytes, ${name} says ${want} (${r.presentPages} pages)`,
        );
      }
    } finally {
      r.close();
    }
  }
  return problems;
}

/** The directories of a chain, `dir` first, and where the walk broke (a missing directory, a loop). */
export interface ImageChainWalk {
  readonly dirs: string[];
  readonly broken?: {
    readonly dir: string;
    readonly file: string;
    readonly message: string;
    readonly code: ImageErrorCode;
  };
}

/**
 * Follow `dir`'s `parent` links: the directories in order, stopping at a dangling link or a loop.
 *
 * @example
 * imageChainDirs('/ckpt/3').dirs; // ['/ckpt/3', '/ckpt/2', '/ckpt/1']
 */
export function imageChainDirs(dir: string): ImageChainWalk {
  const dirs: string[] = [];
  const seen = new Set<string>();
  let current: string | undefined = dir;
  while (current !== undefined) {
    let real: string;
    try {
      real = realpathSync(current);
    } catch {
      const code = current === dir ? 'MISSING_IMAGE' : 'BROKEN_CHAIN';
      return { dirs, broken: { dir: current, file: '', message: 'no such directory', code } };
    }
    if (seen.has(real)) {
      return {
        dirs,
        broken: {
          dir: current,
          file: PARENT_LINK,
          message: 'parent links form a loop',
          code: 'BROKEN_CHAIN',
        },
      };
    }
    seen.add(real);
    dirs.push(current);
    let link: string | undefined;
    try {
      link = readlinkSync(join(current, PARENT_LINK));
    } catch {
      link = undefined;
    }
    current = link === undefined ? undefined : resolve(current, link);
  }
  return { dirs };
}

/**
 * Throw the first reason `dir` or one of its parents is not a complete set (each set with a valid index,
 * chain-index.ts, is checked against it: its files stat'ed, no pagemap decoded; cost the chain's files): ImageError INCOMPLETE,
 * MISSING_IMAGE, CORRUPT_IMAGE (a pages file of the wrong size), BROKEN_CHAIN (a dangling or looping
 * `parent` link). What a pre-dump calls on its --prev-images-dir before making holes point into it.
 *
 * @example
 * checkImageChain(resolve(imagesDir, prevImagesDir));
 */
export function checkImageChain(dir: string): void {
  const walk = imageChainDirs(dir);
  for (const d of walk.dirs) {
    const p = indexedSetProblems(d)[0];
    if (p) throw new ImageError(p.code, d === dir ? p.message : `parent ${p.message}`);
  }
  const b = walk.broken;
  if (b)
    throw new ImageError(
      b.code,
      `${b.dir}: ${b.message}${b.dir === dir ? '' : ` (in the parent chain of ${dir})`}`,
    );
}

/**
 * imageSetProblems, with a set's index (chain-index.ts) standing in for its pagemaps: the marker and the
 * inventory as there, then every pagemap and pages file against the size the index recorded at the commit.
 * A set without a valid index gets the full check.
 *
 * @example
 * indexedSetProblems('/ckpt/1'); // [] for a complete set whose files are as committed
 */
export function indexedSetProblems(dir: string): ImageSetProblem[] {
  const index = readChainIndex(dir);
  if (!index) return imageSetProblems(dir);
  const problems: ImageSetProblem[] = [];
  if (existsSync(join(dir, INCOMPLETE_MARKER))) {
    const why = readFileSync(join(dir, INCOMPLETE_MARKER), 'utf8').trim();
    problems.push({ code: 'INCOMPLETE', file: INCOMPLETE_MARKER, message: `${dir} was aborted: ${why}` });
  }
  if (!existsSync(join(dir, imageFileName.inventory))) {
    problems.push({
      code: 'INCOMPLETE',
      file: imageFileName.inventory,
      message: `${dir} has no ${imageFileName.inventory}: not a complete image set (never committed)`,
    });
  }
  for (const message of indexProblems(dir, index)) {
    problems.push({
      code: message.includes('missing') ? 'MISSING_IMAGE' : 'CORRUPT_IMAGE',
      file: '',
      message,
    });
  }
  return problems;
}
