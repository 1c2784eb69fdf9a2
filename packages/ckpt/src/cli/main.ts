/**
 * Entry point of the `ckpt` command. Only cli/ reads argv and env, prints, and sets the exit status.
 *
 * ```
 * ckpt pre-dump -t PID -D DIR [--buffer-size 4M] [--freeze [--hold-cap 256M]] [--json] [-v0..-v4] [--log-file F]
 * ckpt pre-dump ... [--prev-images-dir ../PREV] [--track-mem auto|uffd-wp|soft-dirty|none]
 * ckpt pre-dump ... --iterations N [--interval MS]   (DIR/1 .. DIR/N)
 * ckpt pre-dump ... --page-server --address A --port P [--tls ...] [--checksums]   (all of the above too)
 * ckpt pre-dump ... --pre-dump-mode read|splice      (splice: CRIU's default, frozen, one process, full)
 * ckpt dump -t PID -D DIR [--prev-images-dir ../N] [--leave-running] [--shell-job] [--tcp-established]
 *           [--page-server --address A --port P] [--json] [-v0..-v4] [--log-file F]   (dump-command.ts)
 * ckpt page-server -D DIR --port P [--address A] [--daemon] [--prev-images-dir ../N] [--tls ...]
 * ckpt restore -D DIR [-d|--restore-detached] [--json] [-v0..-v4] [--log-file F]   (restore-command.ts)
 * ckpt migrate -t PID --to HOST:PORT [--max-downtime MS] [--max-iterations N] [--bandwidth RATE]
 *              [--compress none|lz4|zstd] [--on-no-convergence finish|give-up] [--tls ...]  (migrate-command.ts)
 * ckpt receive -D DIR --port P [--address A] [-d] [--tls ...]                        (receive-command.ts)
 * ckpt show DIR [--json] [--pages]
 * ckpt verify DIR
 * ckpt report RUN.json [-o FILE]
 * ckpt demo [--size MIB] [--dir DIR] [--keep]
 * ckpt track --list | --stop -t PID [--force]     (tracking left in targets: track-command.ts)
 * ```
 * Every failure is one line `ckpt: <message>` on stderr and a status decided by the error's class
 * (failure.ts): 1 expected failure, 2 bad usage, 70 a bug, 128+n cancelled by signal n (SIGINT 130,
 * SIGTERM 143). `ckpt --help` lists them.
 *
 * @example
 * await main(['pre-dump', '-t', '1234', '-D', '/ckpt/pre1']);
 */
import { Command, CommanderError, Option } from 'commander';
import { CancelledError } from '../sys/index.js';
import { addDemoCommand } from './demo-command.js';
import { type DumpFlags, dumpCommand } from './dump-command.js';
import { describeFailure, EXIT_STATUS, EXIT_STATUS_HELP } from './failure.js';
import { parseVerbosity } from './log.js';
import { addMigrateCommand } from './migrate-command.js';
import { type PageServerFlags, pageServerCommand } from './page-server.js';
import { type CommandContext, type PreDumpFlags, preDumpCommand } from './pre-dump-command.js';
import { addReceiveCommand } from './receive-command.js';
import { reportCommand } from './report.js';
import { addRestoreCommand } from './restore-command.js';
import { showCommand } from './show.js';
import { addTrackCommand, PRE_DUMP_TRACKING_HELP } from './track-command.js';
import { verifyCommand } from './verify.js';

async function runShow(target: string, o: { json?: boolean; pages?: boolean }): Promise<void> {
  showCommand(target, o);
}

/** The flags of a page-server client (pre-dump, dump): CRIU's --page-server --address --port, and TLS. */
function pageServerClientOptions(c: Command): Command {
  return c
    .option('--page-server', 'send pagemap and pages to a page server (ckpt or CRIU) at --address/--port')
    .option('--address <addr>', 'page server address (with --page-server)')
    .option('--port <port>', 'page server port (with --page-server)')
    .option('--tls', 'TLS with mutual certificates to the page server')
    .option('--tls-cacert <file>', 'CA certificate (with --tls)')
    .option('--tls-cert <file>', 'our certificate (with --tls)')
    .option('--tls-key <file>', 'our private key (with --tls)');
}

/** --json, -v and --log-file of a dumping command; `logName`: the log's default name in DIR. */
function logOptions(c: Command, logName: string): Command {
  return c
    .option('--json', 'print the statistics as JSON on stdout instead of the summary line')
    .option(
      '-v, --verbosity [level]',
      'log level as CRIU: 0 none, 1 errors, 2 warnings (default), 3 info, 4 debug',
    )
    .option(
      '--log-file <file>',
      `binary log file (default DIR/${logName}; read it with \`npx binlog decode\`)`,
    );
}

function program(ctx: CommandContext, debugFlag: { on: boolean }): Command {
  const p = new Command('ckpt')
    .description('Checkpoint the memory of running Linux processes into CRIU images, without stopping them')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_STATUS_HELP);

  const preDump = p.command('pre-dump');
  preDump
    .description(
      'copy the memory of a running process into a CRIU image directory (read mode: process_vm_readv, ' +
        'the target keeps running)',
    )
    .requiredOption(
      '-t, --tree <pid>',
      'process to pre-dump, with its descendants (each gets its own pagemap)',
    )
    .option('-D, --images-dir <dir>', 'directory for the images (created; must not hold a complete set)')
    .option(
      '--prev-images-dir <dir>',
      'parent image set, relative to -D (as CRIU): unchanged pages become parent holes',
    )
    .addOption(
      new Option(
        '--track-mem <kind>',
        'memory-change tracking (default auto: the best the kernel has; none with --dry-run)',
      ).choices(['auto', 'uffd-wp', 'soft-dirty', 'none']),
    )
    .addOption(
      new Option(
        '--pre-dump-mode <mode>',
        "read (default): process_vm_readv, target running; splice: CRIU's default, target frozen for vmsplice",
      ).choices(['read', 'splice']),
    )
    .option('--iterations <n>', 'pre-dumps in this run: iteration k goes to DIR/k, chained (default 1)')
    .option('--interval <ms>', 'pause between iterations, ms (default 1000)')
    .option(
      '--buffer-size <size>',
      'size of each read buffer (3 in rotation while writes run: memory held stays bounded whatever the target size)',
      '4M',
    )
    .option('--freeze', 'take the copy while the target is frozen (consistent snapshot)')
    .option(
      '--hold-cap <size>',
      'with --freeze: pages copied while frozen are held in memory up to this size and written after the thaw; past it they are written while frozen (default 256M; 0: always write while frozen)',
    )
    .option(
      '--pre-copy <passes>',
      'with --freeze and --prev-images-dir: at most this many passes right before the freeze copy what was written meanwhile, the target running, so that the frozen window copies only what follows the last (default 4; 0: none)',
    )
    .addOption(
      new Option(
        '--pages-method <method>',
        'how present pages are found (default: scan if the kernel has it)',
      ).choices(['scan', 'pagemap']),
    )
    .option('--dry-run', 'read every page but write no images (measures the read path)')
    .option('--checksums', 'ask the page server to verify a crc32 of every range')
    .option('--no-progress', 'no progress bar (it is only shown on a terminal anyway)');
  logOptions(pageServerClientOptions(preDump), 'pre-dump.log.bin')
    .addHelpText('after', PRE_DUMP_TRACKING_HELP)
    .action(async (o: PreDumpFlags & { verbosity?: string | boolean }) => {
      debugFlag.on ||= parseVerbosity(o.verbosity) >= 4;
      await preDumpCommand({ ...o, v: o.verbosity }, ctx);
    });

  const dump = p.command('dump');
  dump
    .description(
      "the final checkpoint of a process tree: CRIU's full image set, restorable by `criu restore` " +
        '(the tree is killed once the set is complete, as CRIU does, unless --leave-running)',
    )
    .requiredOption('-t, --tree <pid>', 'process to dump, with its descendants (frozen together)')
    .requiredOption(
      '-D, --images-dir <dir>',
      'directory for the images (created; must not hold a complete set)',
    )
    .option(
      '--prev-images-dir <dir>',
      'parent image set (a pre-dump), relative to -D (as CRIU): unchanged pages become parent holes; its tracking ends here',
    )
    .option('--leave-running', 'thaw the tree after the dump instead of killing it')
    .option('--shell-job', "the tree was started from a shell: its controlling terminal is the restorer's")
    .option(
      '--tcp-established',
      'dump established TCP connections (TCP repair, as CRIU): the peer keeps them until the restore',
    )
    .option('--no-progress', 'no progress bar (it is only shown on a terminal anyway)')
    .addOption(
      new Option('--track-mem <kind>', 'tracking to resume from the parent (default auto)').choices([
        'auto',
        'uffd-wp',
        'soft-dirty',
        'none',
      ]),
    );
  logOptions(pageServerClientOptions(dump), 'dump.log.bin')
    .addHelpText(
      'after',
      `
Dumped besides memory and registers: regular files, pipes (with their data), eventfds, epolls, timerfds,
signalfds, POSIX timers, TCP listeners, UDP sockets, unix socket pairs (with what is queued) and
listeners, zombie children (with their exit status), established TCP connections with
--tcp-established (after a dump that kills the tree, a segment the peer sends before the restore is
answered by a reset: restore soon, or keep the peer quiet). Refused up front, the tree untouched and
running (one line each, naming the process, the fd or mapping and the kind): TCP connections without
--tcp-established, a listener with connections waiting, unix sockets connected outside the tree or with
descriptors in flight, netlink and packet sockets, inotify, io_uring, SysV IPC, memfd and shared
anonymous memory, FIFOs, devices, deleted files, namespaces other than ckpt's, traced or stopped
processes, seccomp; a terminal unless --shell-job.`,
    )
    .action(async (o: DumpFlags & { verbosity?: string | boolean }) => {
      debugFlag.on ||= parseVerbosity(o.verbosity) >= 4;
      await dumpCommand({ ...o, v: o.verbosity }, ctx);
    });

  p.command('show')
    .description(
      "describe an image directory or one image (inventory, pagemaps, stats, a full dump's processes); " +
        'a directory with damaged images is listed whole, then named on stderr, exit status 1',
    )
    .argument('<dir>', 'image directory, or one image file')
    .option('--json', 'JSON output')
    .option('--pages', 'list every pagemap entry')
    .action(async (dir: string, o: { json?: boolean; pages?: boolean }) => {
      await runShow(dir, o);
    });

  p.command('page-server')
    .description(
      'receive the pages of pre-dumps/dumps over TCP into an image directory (as criu page-server)',
    )
    .requiredOption('-D, --images-dir <dir>', 'directory for the images')
    .requiredOption('--port <port>', 'TCP port to listen on (0: any free port)')
    .option('--address <addr>', 'address to listen on', '0.0.0.0')
    .option('--daemon', 'serve sessions one after another, each into DIR/<n>, until interrupted')
    .option('--prev-images-dir <dir>', 'parent image set, relative to -D')
    .option('--tls', 'TLS with mutual certificates')
    .option('--tls-cacert <file>', 'CA certificate (with --tls)')
    .option('--tls-cert <file>', 'our certificate (with --tls)')
    .option('--tls-key <file>', 'our private key (with --tls)')
    .option('--no-checksums', 'refuse crc32 checksums from clients')
    .action(async (o: PageServerFlags) => {
      await pageServerCommand(o, { signal: ctx.signal });
    });

  p.command('verify')
    .description('check every image of an image directory and of its parents')
    .argument('<dir>', 'image directory')
    .action((dir: string) => {
      verifyCommand(dir, ctx.out);
    });

  p.command('report')
    .description('render a benchmark run file (bench-results/*.json) as one self-contained HTML page')
    .argument('<run>', 'run file (JSON)')
    .option('-o, --output <file>', 'output file (default: beside the input; - for stdout)')
    .action((run: string, o: { output?: string }) => {
      reportCommand(run, o);
    });

  addDemoCommand(p, ctx, (d) => runShow(d, {}));
  addTrackCommand(p);
  addRestoreCommand(p, ctx, (level) => {
    debugFlag.on ||= level >= 4;
  });
  addMigrateCommand(p, ctx, (level) => {
    debugFlag.on ||= level >= 4;
  });
  addReceiveCommand(p, ctx, (level) => {
    debugFlag.on ||= level >= 4;
  });
  return p;
}

/**
 * A closed stdout (`ckpt show DIR --pages | head`) ends the output quietly: EPIPE is not a failure, and
 * the stack trace Node would print for the unhandled 'error' event is not wanted.
 */
function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stream.destroy();
  });
}

/** Run the CLI with `argv` (without node and script). Sets process.exitCode; never throws. */
export async function main(argv: string[]): Promise<void> {
  quietOnEpipe(process.stdout);
  const debugFlag = { on: process.env.CKPT_DEBUG === '1' };
  const ac = new AbortController();
  let received: NodeJS.Signals | undefined;
  // listening for the whole command (not `once`): with no listener of ours left, binlog's exit hook
  // would re-raise the signal and end the process before the cancellation had cleaned up; a second
  // signal stops listening, so that the next one ends the process at once (the ptrace registry still
  // cures and detaches every target synchronously on that way out)
  const onSignal = (sig: NodeJS.Signals) => {
    if (received) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      return;
    }
    received = sig;
    ac.abort(new CancelledError(`interrupted by ${sig}`, { signal: sig }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // a command still waiting when nothing is left to wake it (a promise nobody settles) would end the
  // process with status 0 and no word: that is a bug, and says so
  const stalled = () => {
    process.stderr.write(`ckpt: ${STALLED_MESSAGE}\n`);
    process.exitCode = EXIT_STATUS.bug;
  };
  process.once('beforeExit', stalled);
  try {
    await program({ env: process.env, signal: ac.signal }, debugFlag).parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander printed its own message (or help/version)
      // (commander says 1 for an unknown flag or a missing argument: every usage error is 2 here)
      process.exitCode =
        e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help'
          ? 0
          : 2;
      return;
    }
    const f = describeFailure(e, debugFlag.on, received);
    process.stderr.write(`ckpt: ${f.message}\n`);
    if (f.detail) process.stderr.write(`${f.detail}\n`);
    process.exitCode = f.status;
  } finally {
    process.removeListener('beforeExit', stalled);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** What a command that stopped waiting for nothing says (exit status 70, as every bug). */
export const STALLED_MESSAGE =
  'internal error: the command stopped with work pending and nothing left to wait for (please report it with -v4)';
