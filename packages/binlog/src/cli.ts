/**
 * The `binlog` command line: decode, tail, stats, precompile.
 *
 * Exit status: 0 success; 1 the input cannot be decoded (missing file, not a binlog, dictionary missing
 * or mismatched); 2 bad usage; 3 decoded, but some bytes were skipped (corrupt or torn records; a
 * warning line on stderr says how many). Errors are one `binlog: ...` line on stderr, never a stack.
 *
 * @example
 * await main(['decode', 'app.blog', '--json']); // prints one pino-style JSON object per line
 */
import { readFileSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Dictionary, DictionaryError, parseDictionary } from './codec/index.js';
import {
  type DecodedEvent,
  DecodeError,
  followLogFile,
  LineFormatter,
  LogReader,
  LogStats,
  makeFilter,
  type ReaderStats,
  readLogFiles,
} from './decode/index.js';

const HELP = `usage: binlog <command> [options]

commands:
  decode FILE... [options]  print the records of binlog files as text (default) or JSON lines;
                          several files are read in the order given (rotated pieces, then the live
                          file: 'binlog decode app.blog.* app.blog'); '-' reads standard input
  tail FILE [options]     decode --follow: print the records, then those appended, until Ctrl-C
  stats FILE... [options] records, counts per level and per format, bytes, skipped bytes, drops, losses
  precompile ...          rewrite log calls to dictionary ids (see 'binlog precompile --help')

decode / tail options:
  --dict FILE     the pre-compiled dictionary (required for logs written with one; checked by hash)
  --json          one JSON object per line with pino's keys (level, time, pid, fields..., msg):
                  'binlog decode --json app.blog | pino-pretty' works
  --level L       only records at level L or above (trace|debug|info|warn|error|fatal or a number)
  --since T       only records at or after T: ISO 8601 (2026-11-25T21:00:00Z), epoch ms, or an age
                  before now (30s, 15m, 2h, 1d)
  --grep RE       only records whose message or fields match the JavaScript regular expression RE
  --follow, -f    keep reading as the file grows, following the name across rotation, deletion and
                  re-creation, and waiting for it while it does not exist (like tail -F)
stats options:
  --dict FILE     as above
  --json          print the statistics as one JSON object
  -h, --help      this text

text line: 2026-11-25T21:04:05.123Z INFO user bob paid 1200 cents in 0.35 s {"req":7}
           (control characters in messages and fields print escaped: \n, \u001b)
exit status: 0 ok, 1 cannot decode (error line on stderr), 2 bad usage, 3 decoded but bytes were skipped
`;

class UsageError extends Error {}

function loadDict(path: string | undefined): Dictionary | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DecodeError(
      'NO_FILE',
      `cannot read dictionary ${path}: ${(e as NodeJS.ErrnoException).code ?? ''}`,
    );
  }
  try {
    return parseDictionary(text);
  } catch (e) {
    throw new DictionaryError(`${path}: ${(e as Error).message}`);
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

// Buffer#write checks its arguments and dispatches on the encoding per call; the method under it does not.
const utf8Write: (this: Buffer, s: string, offset: number, length: number) => number =
  (Buffer.prototype as unknown as { utf8Write?: (this: Buffer, s: string, o: number, l: number) => number })
    .utf8Write ??
  function (this: Buffer, s: string, offset: number, length: number): number {
    return this.write(s, offset, length, 'utf8');
  };

/** Characters of lines Out collects before one write(2). */
const OUT_CHARS = 1 << 16;

/**
 * Buffered stdout: lines are appended to one string (V8 joins them without copying), which is encoded
 * once per OUT_CHARS characters into one buffer (a single pass over the joined text, one native call)
 * and written synchronously to fd 1. A slow reader (a pipe into pino-pretty) makes the decoder wait
 * rather than queue its output in memory (process.stdout queued it: 450 MB of RSS for 1 M records into a
 * pipe read late). A closed pipe (EPIPE) ends quietly.
 */
class Out {
  /** Worst case 3 bytes per UTF-16 unit, plus one line of any length (longer ones get a buffer of their own). */
  private readonly buf = Buffer.allocUnsafe(6 * OUT_CHARS);
  private text = '';
  line(s: string): void {
    this.text += s;
    this.text += '\n';
    if (this.text.length >= OUT_CHARS) this.flush();
  }
  flush(): void {
    const s = this.text;
    if (s === '') return;
    this.text = '';
    if (3 * s.length > this.buf.length) {
      this.writeAll(Buffer.from(s));
      return;
    }
    this.writeAll(this.buf.subarray(0, utf8Write.call(this.buf, s, 0, this.buf.length)));
  }
  private writeAll(b: Buffer): void {
    for (let done = 0; done < b.length; ) {
      try {
        done += writeSync(1, b, done, b.length - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
        if (code !== 'EAGAIN') throw e;
        Atomics.wait(pause, 0, 0, 1);
      }
    }
  }
}

function warn(s: ReaderStats): number {
  const notes: string[] = [];
  if (s.skippedBytes)
    notes.push(
      `skipped ${s.skippedBytes} byte(s) in ${s.skippedRegions} place(s) that were not valid records (corrupt or torn)`,
    );
  if (s.damagedFrames)
    notes.push(
      `${s.damagedFrames} frame(s) failed their checksum: ${s.damagedBytes} byte(s) of them skipped (the records the damage touched), ${s.salvagedRecords} record(s) in them kept (they decode cleanly; a value the damage changed without breaking its record cannot be detected)`,
    );
  if (s.drops) notes.push(`the writers dropped ${s.drops} record(s) under overload`);
  if (s.lost)
    notes.push(`${s.lost} record(s) were lost to write errors (disk full, closed or broken destination)`);
  if (s.needsDictionary !== null)
    notes.push(
      `records written with the pre-compiled dictionary ${s.needsDictionary} were skipped: pass it with --dict FILE`,
    );
  if (s.unknownIds) notes.push(`${s.unknownIds} call(s) used an id no dictionary defines`);
  if (notes.length) process.stderr.write(`binlog: warning: ${notes.join('; ')}\n`);
  return s.skippedBytes ? 3 : 0;
}

function fileArgs(positionals: string[], cmd: string, one: boolean): string[] {
  if (positionals.length === 0 || (one && positionals.length !== 1)) {
    throw new UsageError(`${cmd} needs ${one ? 'exactly one FILE' : 'a FILE'} (see binlog --help)`);
  }
  return positionals;
}

async function decode(args: string[], follow: boolean): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      dict: { type: 'string' },
      json: { type: 'boolean' },
      level: { type: 'string' },
      since: { type: 'string' },
      grep: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
    },
  });
  const following = follow || values.follow === true;
  const files = fileArgs(positionals, follow ? 'tail' : 'decode', following);
  const dictionary = loadDict(values.dict);
  const keep = makeFilter(values);
  const fmt = new LineFormatter();
  const out = new Out();
  const onEvent = values.json
    ? (e: DecodedEvent) => keep(e) && out.line(fmt.json(e))
    : (e: DecodedEvent) => keep(e) && out.line(fmt.text(e));
  const opts = dictionary ? { dictionary } : {};
  if (following && files[0] !== '-') {
    const file = files[0]!;
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const timer = setInterval(() => out.flush(), 100);
    try {
      const reader = await followLogFile(file, onEvent, {
        ...opts,
        signal: ac.signal,
        onTruncate: () =>
          process.stderr.write(`binlog: ${file} was truncated; reading it again from the start\n`),
        onNewFile: () => process.stderr.write(`binlog: ${file} is a new file; following it\n`),
        onWait: () => process.stderr.write(`binlog: waiting for ${file} to appear\n`),
      });
      out.flush();
      return warn(reader.stats);
    } finally {
      clearInterval(timer);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  }
  const reader = new LogReader(opts);
  try {
    readLogFiles(files, reader, onEvent);
  } finally {
    out.flush();
  }
  return warn(reader.stats);
}

function stats(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { dict: { type: 'string' }, json: { type: 'boolean' } },
  });
  const files = fileArgs(positionals, 'stats', false);
  const dictionary = loadDict(values.dict);
  const reader = new LogReader(dictionary ? { dictionary } : {});
  const st = new LogStats();
  readLogFiles(files, reader, (e) => st.add(e));
  const r = st.report(reader.stats);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.skippedBytes ? 3 : 0;
  }
  const lines = [
    `file            ${files.join(' ')}`,
    `bytes           ${r.bytes}`,
    `frames          ${r.frames} (${r.headers} header(s))`,
    `records         ${r.records}`,
    `skipped bytes   ${r.skippedBytes} in ${r.skippedRegions} place(s)`,
    `damaged frames  ${r.damagedFrames} (${r.damagedBytes} byte(s) skipped, ${r.salvagedRecords} record(s) kept)`,
    `writers         ${r.writers}`,
    `dropped         ${r.drops}`,
    `lost (errors)   ${r.lost}`,
    `unknown ids     ${r.unknownIds}`,
    `first / last    ${r.firstTime ?? '-'} / ${r.lastTime ?? '-'}`,
    'per level',
    ...Object.entries(r.perLevel).map(([k, n]) => `  ${k.padEnd(14)}${n}`),
    'per format (count  id  format)',
    ...r.perFormat.map((f) => `  ${String(f.count).padStart(10)}  ${f.id}  ${JSON.stringify(f.fmt)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return r.skippedBytes ? 3 : 0;
}

async function precompile(args: string[]): Promise<number> {
  // loaded on demand: decoding never pays for the parser the pass uses
  let mod: typeof import('./precompile/index.js');
  try {
    mod = await import('./precompile/index.js');
  } catch {
    process.stderr.write('binlog: precompile: not built\n');
    return 1;
  }
  return mod.precompileMain(args);
}

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd !== 'precompile' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(HELP);
    return 0;
  }
  switch (cmd) {
    case 'decode':
      return decode(rest, false);
    case 'tail':
      return decode(rest, true);
    case 'stats':
      return stats(rest);
    case 'precompile':
      return precompile(rest);
    default:
      throw new UsageError(`unknown command '${cmd}' (see binlog --help)`);
  }
}

/** Run the command line; sets process.exitCode and resolves to it. */
export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  let code: number;
  try {
    code = await run(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage =
      e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`binlog: ${err.message ?? String(e)}\n`);
    code = usage ? 2 : 1;
  }
  process.exitCode = code;
  return code;
}
