/**
 * `ckpt track --list` / `ckpt track --stop -t PID [--force]`: what memory tracking left in running
 * processes, and ending it. A pre-dump chain keeps a userfaultfd in each target until its `--freeze` end;
 * a chain that is abandoned, or a run that was killed, leaves it there (the target then pays a
 * write-protect fault per page written, and `criu dump` refuses it). Every run writes down what it leaves
 * before leaving it (mem/track/track-record.ts, /run/ckpt/track), so this command (and any later
 * pre-dump of the same process) can find it and close it (mem/track/leftover.ts). `--stop` also unmaps
 * the injector's scratch mapping a ckpt killed inside an injection left behind (3 signed pages).
 *
 * ```
 * $ ckpt track --list
 * PID     FD  INODE  STATE     OWNER
 * 4242    3   10541  tracking  ckpt 4100 (exited)
 * $ ckpt track --stop -t 4242
 * process 4242: closed userfaultfd fd 3
 * ```
 *
 * @example
 * trackCommand({ list: true }, (line) => console.log(line));
 */
import { type Command, Option } from 'commander';
import { closeLeftovers, listRecords, ownerRunning, userfaultfdsOf } from '../mem/index.js';
import { UsageError } from './failure.js';

/** The flags of `ckpt track`. */
export interface TrackFlags {
  readonly list?: boolean;
  readonly stop?: boolean;
  readonly tree?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** One line (or JSON document) per tracked process; for --stop, what was closed. */
export function trackCommand(f: TrackFlags, out: (line: string) => void): void {
  if (f.list === f.stop) throw new UsageError('ckpt track: give --list or --stop -t PID');
  if (f.list) {
    const rows = listRecords().map((r) => ({
      pid: r.pid,
      fd: r.uffd?.fd ?? null,
      inode: r.uffd?.inode ?? null,
      state: r.phase,
      owner: r.owner.pid,
      ownerRunning: ownerRunning(r),
      userfaultfds: userfaultfdsOf(r.pid).length,
    }));
    if (f.json) {
      out(JSON.stringify(rows));
      return;
    }
    out('PID\tFD\tINODE\tSTATE\tOWNER');
    for (const r of rows) {
      const owner = `ckpt ${r.owner} (${r.ownerRunning ? 'running' : 'exited'})`;
      out(`${r.pid}\t${r.fd ?? '-'}\t${r.inode ?? '-'}\t${r.state}\t${owner}`);
    }
    return;
  }
  const pid = Number(f.tree);
  if (!f.tree || !/^\d+$/.test(f.tree) || pid <= 0)
    throw new UsageError(`bad or missing pid: -t ${f.tree ?? ''}`);
  const r = closeLeftovers(pid, { force: f.force === true });
  if (f.json) {
    out(JSON.stringify({ pid, closed: r.closed, unmapped: r.unmapped, skipped: r.skipped ?? null }));
    return;
  }
  if (r.skipped) out(`process ${pid}: left alone: ${r.skipped} (--force to close it anyway)`);
  else if (r.closed.length === 0)
    out(
      `process ${pid}: no userfaultfd of ckpt found${f.force ? '' : ' (no record; --force scans its fds)'}`,
    );
  for (const c of r.closed) out(`process ${pid}: closed userfaultfd fd ${c.fd}`);
  for (const m of r.unmapped) {
    const by = m.tracer > 0 ? ` (left by ckpt ${m.tracer})` : '';
    const kib = (m.end - m.start) >> 10;
    out(
      `process ${pid}: unmapped a mapping of ckpt's injector at 0x${m.start.toString(16)} (${kib} KiB)${by}`,
    );
  }
  if (r.collapsed) out(`process ${pid}: ${r.collapsed.bytes >> 20} MiB collapsed into huge pages again`);
}

/** Register `ckpt track` on the program (one line in main.ts). */
export function addTrackCommand(
  p: Command,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): void {
  p.command('track')
    .description(
      'list or end the memory tracking pre-dump chains keep in their targets (a userfaultfd per process, ' +
        'until the chain ends with --freeze)',
    )
    .option('--list', 'the processes that hold a userfaultfd of ckpt, from /run/ckpt/track')
    .option(
      '--stop',
      'close the userfaultfd ckpt left in -t PID and unmap the injector mapping a killed ckpt left there ' +
        '(frozen briefly for the check and the close)',
    )
    .option('-t, --tree <pid>', 'the process (with --stop)')
    .addOption(
      new Option(
        '--force',
        'also close async write-protect userfaultfds no record names (the target may own one)',
      ),
    )
    .option('--json', 'JSON output')
    .action((o: TrackFlags) => {
      trackCommand(o, out);
    });
}

/** Appended to `ckpt pre-dump --help`. */
export const PRE_DUMP_TRACKING_HELP = `
Memory tracking (--track-mem uffd-wp, the default where the kernel has it) keeps a userfaultfd open in
each target (and write-protects its memory) until the chain ends: \`ckpt dump\` closes it in the frozen
target (as does a pre-dump with --freeze), and \`ckpt track --stop -t PID\` closes it for a chain that
another tool finishes (\`criu dump\` refuses a process holding it). Interrupted runs close it; a killed
one leaves a record in /run/ckpt/track that the next pre-dump or dump of that process, or \`ckpt track
--stop\`, uses to close it (\`ckpt track --list\` shows them).
A ckpt killed inside an injection can leave its 3-page injector mapping in the target: harmless, and
removed by the next tracked pre-dump of that process or \`ckpt track --stop -t PID\`.`;
