/**
 * The real `ckpt` command (bin/ckpt.js) run by a test in a child Node process, with a 120 s timeout.
 *
 * @example
 * const r = runCkpt(['verify', dir]);
 * r.status === 0; r.stdout; r.stderr;
 * await runCkptAsync(['pre-dump', '-t', '42', '-D', dir]); // the event loop keeps running meanwhile
 */
import { execFile, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** packages/ckpt/bin/ckpt.js */
export const CKPT_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/ckpt.js');

/** What a synchronous run ended with. */
export interface CkptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Synchronous run: nothing else in this process runs meanwhile (e.g. no page server). */
export function runCkpt(args: string[]): CkptRun {
  const r = spawnSync(process.execPath, [CKPT_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asynchronous run: a server in this process keeps serving meanwhile; rejects on a non-zero exit. */
export async function runCkptAsync(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CKPT_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}
