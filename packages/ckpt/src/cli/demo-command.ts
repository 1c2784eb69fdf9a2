/**
 * `ckpt demo`: the README's main job end to end. Starts a built-in workload (256 MiB, two threads
 * rewriting part of it), pre-dumps it while it runs, with a progress bar and a one-line summary, shows the
 * image directory, then kills the workload.
 *
 * @example
 * await demoCommand({ mib: '256' }, ctx);
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './failure.js';
import { type CommandContext, preDumpCommand } from './pre-dump-command.js';
import { Workload } from './workload.js';

/** The flags of `ckpt demo`. */
export interface DemoFlags {
  mib?: string;
  dir?: string;
  v?: string | boolean;
}

/** Run the demo; `show` prints the image directory (cli/show.ts's showCommand). */
export async function demoCommand(
  f: DemoFlags,
  ctx: CommandContext,
  show: (dir: string) => Promise<void>,
): Promise<void> {
  const mib = Number(f.mib ?? '256');
  if (!Number.isInteger(mib) || mib < 1 || mib > 65536) throw new UsageError(`bad --mib ${f.mib}`);
  const out = ctx.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = f.dir ?? mkdtempSync(join(tmpdir(), 'ckpt-demo-'));
  out(`starting a ${mib} MiB workload (demo/workload.c) ...`);
  using w = await Workload.start(mib);
  out(`workload running as pid ${w.pid}; pre-dumping it into ${dir} while it runs:`);
  const logFile = `${dir}.log.bin`; // beside the directory, so that `ckpt show` lists only images
  out(`$ ckpt pre-dump -t ${w.pid} -D ${dir} --log-file ${logFile}`);
  await preDumpCommand({ tree: String(w.pid), imagesDir: dir, logFile, v: f.v ?? '3' }, ctx);
  out(`$ ckpt show ${dir}`);
  await show(dir);
  w.kill();
  out(`workload ${w.pid} killed; the images stay in ${dir}; the log: npx binlog decode ${logFile}`);
}
