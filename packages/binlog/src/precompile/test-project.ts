/**
 * The sample projects under packages/binlog/test-projects/, copied fresh for a test. The copies sit inside
 * test-projects/ (so that `binlog` resolves from them) and are removed by an `after` hook (node:test).
 * Support for the precompile tests only; not exported from the package.
 *
 * @example
 * const dir = copyProject('js'); // test-projects/.tmp-js-XXXXXX, removed after the file's tests
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** packages/binlog/test-projects/ */
export const TEST_PROJECTS = fileURLToPath(new URL('../../test-projects/', import.meta.url));

const copies: string[] = [];
after(() => {
  for (const d of copies) rmSync(d, { recursive: true, force: true });
});

/** A fresh copy of the sample project `name`, removed after the file's tests. */
export function copyProject(name: string): string {
  const dir = mkdtempSync(join(TEST_PROJECTS, `.tmp-${name}-`));
  cpSync(join(TEST_PROJECTS, name), dir, { recursive: true });
  copies.push(dir);
  return dir;
}
