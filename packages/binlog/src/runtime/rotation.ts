/**
 * Names of rotated pieces and their retention. A rotated piece is `<path>.<UTC time>-<pid>-<n>`, e.g.
 * `app.blog.20261205T235901.123Z-4242-0007` (n counts this process's rotations): names sort in time
 * order (a shell glob lists them oldest first), and rotations in the same millisecond do not collide.
 *
 * @example
 * rotatedName('/var/log/app.blog', Date.UTC(2026, 11, 5, 23, 59, 1, 123)); // '/var/log/app.blog.20261205T235901.123Z-<pid>-0000'
 * pruneRotated('/var/log/app.blog', 5); // deletes all but the 5 newest pieces
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

const PIECE = /^\.\d{8}T\d{6}\.\d{3}Z-\d+-\d+$/;
let rotations = 0;

/** The name a file rotated at `ms` gets. */
export function rotatedName(path: string, ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-05T23:59:01.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17)}`;
  return `${path}.${stamp}-${process.pid}-${String(rotations++ % 10000).padStart(4, '0')}`;
}

/** The rotated pieces of `path`, oldest first. */
export function rotatedPieces(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(base) && PIECE.test(n.slice(base.length)))
    .sort()
    .map((n) => join(dir, n));
}

/** Delete all but the newest `keep` rotated pieces (errors ignored: another writer may prune too). */
export function pruneRotated(path: string, keep: number): void {
  const pieces = rotatedPieces(path);
  for (const p of pieces.slice(0, Math.max(0, pieces.length - keep))) {
    try {
      fs.unlinkSync(p);
    } catch {
      // already gone
    }
  }
}
