/**
 * `ckpt report RUN.json [-o report.html]`: render a run file as one self-contained HTML page.
 *
 * Without `-o` the page goes beside the input, `RUN.json` -> `RUN.html`; `-o -` writes it to stdout.
 * The page is written to a temporary file and renamed, so a reader never sees half a page.
 * Failures throw `ReportError` (`BAD_RUN_FILE` for a bad input, `IO` for reading or writing), whose
 * message is one line fit for the user; the caller turns it into an exit status.
 *
 * @example
 * reportCommand('bench-results/RUN.json', { output: 'report.html' }); // prints "wrote report.html (41 KiB)"
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { formatBytes, parseRun, ReportError, renderReport } from '../report/index.js';

function io<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : (code ?? (e as Error).message);
    throw new ReportError('IO', `${what}: ${why}`, { cause: e });
  }
}

/**
 * Where the page goes when no `-o` is given.
 *
 * @example
 * defaultReportPath('out/RUN.json'); // 'out/RUN.html'
 */
export function defaultReportPath(input: string): string {
  const name = basename(input).replace(/\.json$/i, '');
  return join(dirname(input), `${name}.html`);
}

/**
 * Read `input`, validate it, render the page and write it to `opts.output` (see the module comment).
 *
 * @example
 * reportCommand('RUN.json', {}); // writes RUN.html
 */
export function reportCommand(input: string, opts: { output?: string }): void {
  const text = io(`cannot read ${input}`, () => readFileSync(input, 'utf8'));
  let html: string;
  try {
    html = renderReport(parseRun(text));
  } catch (e) {
    if (e instanceof ReportError) throw new ReportError(e.code, `${input}: ${e.message}`, { cause: e });
    throw e;
  }
  const output = opts.output ?? defaultReportPath(input);
  if (output !== '-' && resolve(output) === resolve(input)) {
    throw new ReportError('IO', `${output}: is the run file itself; choose another output`);
  }
  if (output === '-') {
    process.stdout.write(html);
    return;
  }
  const tmp = `${output}.${process.pid}.tmp`;
  io(`cannot write ${output}`, () => {
    try {
      writeFileSync(tmp, html);
      renameSync(tmp, output);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  });
  process.stdout.write(`wrote ${output} (${formatBytes(Buffer.byteLength(html))})\n`);
}
