/**
 * A test file's scratch space: a temporary directory and the fixtures the file starts. An `after` hook
 * (node:test) kills every fixture first (a failed assertion must not leave fixtures running), removes the
 * extra files named, then asserts that no fixture was left stopped and removes the directory.
 *
 * @example
 * const s = new Scratch('ckpt-predump-test-');
 * const f = await s.start('static', ['8']); // killed after the file's tests
 * preDump({ pid: f.pid, imagesDir: s.newDir() });
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Fixture } from './fixture.js';

export class Scratch {
  /** The temporary directory, removed after the file's tests. */
  readonly root: string;
  /** Fixtures killed after the file's tests (push any started otherwise). */
  readonly fixtures: Fixture[] = [];
  private dirs = 0;

  /** `prefix` names the directory under the system's tmpdir; `alsoRemove`: files removed after the tests. */
  constructor(prefix: string, alsoRemove: readonly string[] = []) {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    after(() => {
      const states = this.fixtures.map((f) => f.state());
      for (const f of this.fixtures) f.kill();
      for (const p of alsoRemove) rmSync(p, { force: true });
      for (const s of states) assert.doesNotMatch(s, /^[Tt]$/, 'fixture left stopped');
      rmSync(this.root, { recursive: true, force: true });
    });
  }

  /** A new path under the root, d0, d1, ... (not created). */
  newDir(): string {
    return join(this.root, `d${this.dirs++}`);
  }

  /** Start a fixture that is killed after the file's tests. */
  async start(name: string, args: string[]): Promise<Fixture> {
    const f = await Fixture.start(name, args);
    this.fixtures.push(f);
    return f;
  }
}
