/**
 * The whole report page: one self-contained HTML document (inline CSS and SVG, no script, no fonts or
 * images to fetch; a Content-Security-Policy that forbids loading anything) built from a validated run.
 *
 * ```
 * header   title, host, time
 * summary  throughput, chain check, mismatched pages, counts
 * modes    (if the run has them)      six bar charts, read vs splice, each with its table; all rows
 * chain    (if the run has iterations) pages per iteration, time per iteration, with tables
 * ```
 *
 * @example
 * writeFileSync('report.html', renderReport(parseRun(readFileSync('RUN.json', 'utf8'))));
 */

import { iterationsSection } from './iterations-section.js';
import { el, fragment, type Markup, trusted } from './markup.js';
import { ModeComparison, type ModeMetric } from './mode-comparison.js';
import { modesSection } from './modes-section.js';
import type { IterationResult, Run } from './schema.js';
import { STYLE } from './style.js';
import { figure, table } from './table.js';
import { exact, formatBytes, formatCount, formatRate, formatRatio, human } from './units.js';

/** Ratios the summary leads with. */
const HEADLINES: readonly [ModeMetric, string][] = [
  ['stoppedMs', 'Stopped time'],
  ['totalMs', 'Total time'],
];

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function when(iso: string): Markup {
  const d = new Date(iso);
  const shown = `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return el('time', { datetime: iso }, shown);
}

function header(run: Run, title: string): Markup {
  const h = run.host;
  return el(
    'header',
    {},
    el('h1', {}, title),
    el(
      'p',
      { class: 'meta' },
      'Linux ',
      el('b', {}, h.kernel),
      ' · ',
      el('b', {}, formatCount(h.cpus)),
      h.cpus === 1 ? ' CPU' : ' CPUs',
      ' · ',
      el('b', {}, formatBytes(h.memBytes)),
      ' memory · recorded ',
      el('b', {}, when(run.createdAt)),
    ),
  );
}

function summary(run: Run): Markup {
  const s = run.summary;
  const rows: Markup[][] = [
    [
      fragment('Throughput'),
      figure(formatRate(s.throughputBytesPerSec), `${exact('bytes', s.throughputBytesPerSec)}/s`),
    ],
    [fragment('Chain check'), el('span', { class: `badge ${s.chainCheck}` }, s.chainCheck)],
    [fragment('Mismatched pages'), fragment(formatCount(s.mismatchedPages))],
  ];
  if (run.modes) {
    rows.push([fragment('Mode measurements'), fragment(formatCount(run.modes.length))]);
    const c = new ModeComparison(run.modes);
    for (const [metric, name] of HEADLINES) {
      const r = c.ratioRange(metric);
      if (!r) continue;
      const span =
        r.min === r.max ? formatRatio(r.min, 1) : `${formatRatio(r.min, 1)} to ${formatRatio(r.max, 1)}`;
      const over = r.groups === 1 ? '' : ` over ${r.groups} sizes and scenarios`;
      rows.push([fragment(`${name}, splice ÷ read`), fragment(`${span}${over}`)]);
    }
  }
  const its = run.iterations;
  if (its) {
    const sum = (f: (i: IterationResult) => number) => its.reduce((a, i) => a + f(i), 0);
    rows.push([fragment('Iterations'), fragment(formatCount(its.length))]);
    rows.push([fragment('Pages written, all iterations'), fragment(formatCount(sum((i) => i.pagesWritten)))]);
    rows.push([
      fragment('Bytes written, all iterations'),
      figure(
        formatBytes(sum((i) => i.bytes)),
        exact(
          'bytes',
          sum((i) => i.bytes),
        ),
      ),
    ]);
    rows.push([
      fragment('Stopped time, all iterations'),
      figure(
        human(
          'ms',
          sum((i) => i.stoppedMs),
        ),
        exact(
          'ms',
          sum((i) => i.stoppedMs),
        ),
      ),
    ]);
  }
  return el(
    'section',
    { id: 'summary' },
    el('h2', {}, 'Summary'),
    table('Summary of the run', [{ head: 'figure' }, { head: 'value', numeric: true }], rows, 'summary'),
  );
}

/**
 * Render a validated run as a complete HTML document.
 *
 * @example
 * renderReport(run).startsWith('<!DOCTYPE html>'); // true
 */
export function renderReport(run: Run): string {
  const title = run.title !== undefined && run.title.trim() !== '' ? run.title : 'ckpt run';
  const nothing = !run.modes && !run.iterations;
  const page = el(
    'html',
    { lang: 'en' },
    el(
      'head',
      {},
      el('meta', { charset: 'utf-8' }),
      el('meta', { 'http-equiv': 'Content-Security-Policy', content: CSP }),
      el('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
      el('meta', { name: 'generator', content: 'ckpt report' }),
      el('title', {}, `${title} · ckpt report`),
      el('style', {}, trusted(STYLE)),
    ),
    el(
      'body',
      {},
      el(
        'main',
        {},
        header(run, title),
        summary(run),
        run.modes && modesSection(run.modes),
        run.iterations && iterationsSection(run.iterations),
        nothing && el('p', { class: 'lead' }, 'This run holds neither a mode comparison nor iterations.'),
        el(
          'footer',
          {},
          `Made by ckpt report from a ckpt-run file, version ${run.version}. Lower is better for every time `,
          'and memory figure. Hover a bar or a point for its value; the tables hold the exact figures.',
        ),
      ),
    ),
  );
  return `<!DOCTYPE html>\n${page}\n`;
}
