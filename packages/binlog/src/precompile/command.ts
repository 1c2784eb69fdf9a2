/**
 * `binlog precompile`: the pass from the command line. Prints its own errors, one line each, and
 * returns the exit status: 0 success, 1 errors in the sources (log calls or TypeScript), 2 bad usage,
 * configuration, dictionary or I/O.
 *
 * @example
 * const status = await precompileMain(['--project', 'tsconfig.json', '--dict', 'binlog.dict.json']);
 */
import { relative } from 'node:path';
import { formatDiagnostic } from './diagnostic.js';
import { precompileJsDir } from './emitted-js.js';
import { PrecompileError } from './errors.js';
import { type PassResult, precompileProject } from './project.js';

export const PRECOMPILE_USAGE = `usage:
  binlog precompile --project tsconfig.json [--out-dir DIR] [--dict FILE] [options]
  binlog precompile --in DIR --out DIR [--dict FILE] [options]

Replaces the literal format of each log call (trace/debug/info/warn/error/fatal) with a stable
numeric id, checks the arguments against the format, writes the dictionary JSON and a generated
module (binlog-dict.js at the root of the output) that registers it; each rewritten file imports it.

  -p, --project FILE  compile this TypeScript project with the pass (as tsc -p FILE)
      --out-dir DIR   overrides the project's outDir
      --in DIR        rewrite the JavaScript files (.js .mjs .cjs) under DIR instead ...
      --out DIR       ... into DIR (every other file is copied; DIR may equal the input)
      --dict FILE     dictionary JSON: its ids are reused, then it is rewritten
                      (default: binlog.dict.json beside the tsconfig, or in the current directory)
      --check         check only: print the errors, write nothing
      --prune         drop formats no call uses any more (default: keep them, so old logs decode)
      --no-types      check argument counts only, not types
  -q, --quiet         no summary line
  -h, --help          this text

Specifiers want: %d %i %u %x number|bigint, %f number, %s string, %j %o anything but a function or
symbol; any-typed arguments are not checked. Exit status: 0 ok, 1 errors in the sources (printed as
file:line:col: message), 2 bad usage, configuration, dictionary or I/O.
`;

interface Args {
  project?: string;
  outDir?: string;
  inDir?: string;
  out?: string;
  dict?: string;
  check: boolean;
  prune: boolean;
  types: boolean;
  quiet: boolean;
  help: boolean;
}

const VALUE_FLAGS: Record<string, 'project' | 'outDir' | 'inDir' | 'out' | 'dict'> = {
  '-p': 'project',
  '--project': 'project',
  '--out-dir': 'outDir',
  '--in': 'inDir',
  '--out': 'out',
  '--dict': 'dict',
};

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { check: false, prune: false, types: true, quiet: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const key = VALUE_FLAGS[flag];
    if (key) {
      const v = eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new PrecompileError('USAGE', `${flag} needs a value`);
      a[key] = v;
    } else if (flag === '--check') a.check = true;
    else if (flag === '--prune') a.prune = true;
    else if (flag === '--no-types') a.types = false;
    else if (flag === '-q' || flag === '--quiet') a.quiet = true;
    else if (flag === '-h' || flag === '--help') a.help = true;
    else throw new PrecompileError('USAGE', `unknown argument '${raw}' (see binlog precompile --help)`);
  }
  if (a.help) return a;
  if (a.project !== undefined && (a.inDir !== undefined || a.out !== undefined)) {
    throw new PrecompileError('USAGE', '--project and --in/--out cannot be combined');
  }
  if (a.project === undefined && a.inDir === undefined) {
    throw new PrecompileError(
      'USAGE',
      'give --project FILE or --in DIR --out DIR (see binlog precompile --help)',
    );
  }
  if (a.inDir !== undefined && a.out === undefined && !a.check)
    throw new PrecompileError('USAGE', '--in needs --out DIR');
  if (a.outDir !== undefined && a.project === undefined)
    throw new PrecompileError('USAGE', '--out-dir goes with --project');
  return a;
}

function run(a: Args): PassResult {
  const common = { dictPath: a.dict, check: a.check, prune: a.prune, checkTypes: a.types };
  if (a.project !== undefined) return precompileProject({ ...common, project: a.project, outDir: a.outDir });
  const inDir = a.inDir as string;
  return precompileJsDir({ ...common, inDir, outDir: a.out ?? inDir });
}

/** Mode-1 warnings printed at most (the rest are counted). */
const MAX_WARNINGS = 50;

/**
 * Run `binlog precompile` with `argv` (the arguments after `precompile`); resolves to the exit status.
 *
 * @example
 * process.exitCode = await precompileMain(['--check', '-p', 'tsconfig.json']);
 */
export async function precompileMain(argv: string[]): Promise<number> {
  try {
    const a = parseArgs(argv);
    if (a.help) {
      process.stdout.write(PRECOMPILE_USAGE);
      return 0;
    }
    const r = run(a);
    for (const d of r.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    const shown = r.mode1.slice(0, MAX_WARNINGS);
    for (const d of shown) process.stderr.write(`${formatDiagnostic(d)}\n`);
    if (r.mode1.length > shown.length)
      process.stderr.write(
        `binlog precompile: ${r.mode1.length - shown.length} more mode-1 warnings not shown\n`,
      );
    if (r.diagnostics.length > 0) {
      const n = r.diagnostics.length;
      process.stderr.write(
        `binlog precompile: ${n} error${n === 1 ? '' : 's'}${a.check ? '' : ', nothing written'}\n`,
      );
      return 1;
    }
    if (!a.quiet) {
      const formats = r.dictionary?.formats.length ?? 0;
      const what = a.check ? 'checked' : 'rewritten';
      process.stdout.write(
        `binlog precompile: ${r.callCount} calls ${what} in ${r.fileCount} files, ${formats} formats` +
          (a.check
            ? '\n'
            : `, dictionary ${relative(process.cwd(), r.dictPath ?? '') || r.dictPath} (hash ${r.dictionary?.hash})\n`),
      );
      const first = r.leftAlone[0];
      if (first) {
        const more = r.leftAlone.length > 1 ? ` (and ${r.leftAlone.length - 1} more like it)` : '';
        process.stdout.write(`binlog precompile: note: ${formatDiagnostic(first)}${more}\n`);
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof PrecompileError) {
      process.stderr.write(`binlog precompile: ${e.message}\n`);
      return e.code === 'BUILD_ERRORS' ? 1 : 2;
    }
    process.stderr.write(
      `binlog precompile: internal error: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return 2;
  }
}
