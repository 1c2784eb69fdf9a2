/**
 * The "pre-dump chain" section: pages scanned and written per iteration (grouped bars), time and stopped
 * time per iteration (lines), each with a table of its exact figures. The frozen (last) iteration is
 * marked on the axis.
 *
 * @example
 * iterationsSection(run.iterations).toString(); // '<section id="iterations">...'
 */
import { barChart } from './bar-chart.js';
import { card } from './card.js';
import { chartWidth } from './chart-frame.js';
import { lineChart } from './line-chart.js';
import { el, type Markup } from './markup.js';
import type { IterationResult } from './schema.js';
import { figure, table } from './table.js';
import {
  exact,
  formatBytes,
  formatCompact,
  formatCount,
  formatMs,
  formatRate,
  human,
  NOT_A_FIGURE,
} from './units.js';

const COLORS = { scanned: '#94a3b8', written: '#2563eb', time: '#0f766e', stopped: '#dc2626' };

function label(it: IterationResult): string[] {
  return it.frozen ? [`#${it.index}`, 'frozen'] : [`#${it.index}`];
}

function percent(part: number, whole: number): string {
  const p = (part / whole) * 100;
  return Number.isFinite(p) ? `${p.toFixed(1)} %` : NOT_A_FIGURE;
}

function pagesFigure(its: readonly IterationResult[]): Markup {
  const width = chartWidth(its.length, 2);
  return card(
    'Pages per iteration',
    width,
    barChart({
      id: 'iter-pages',
      width,
      title: 'Pages scanned and written per iteration',
      desc: 'Pages the tracker reported (scanned) and pages copied to the images (written), per iteration.',
      axisName: 'pages',
      categories: its.map(label),
      series: [
        { name: 'scanned', color: COLORS.scanned, values: its.map((it) => it.pagesScanned) },
        { name: 'written', color: COLORS.written, values: its.map((it) => it.pagesWritten) },
      ],
      format: formatCompact,
    }),
    table(
      'Pages per iteration',
      [
        { head: 'iteration' },
        { head: 'tracker' },
        { head: 'scanned', numeric: true },
        { head: 'written', numeric: true },
        { head: 'written ÷ scanned', numeric: true },
        { head: 'bytes written', numeric: true },
      ],
      its.map((it) => [
        label(it).join(' '),
        it.tracker,
        formatCount(it.pagesScanned),
        formatCount(it.pagesWritten),
        percent(it.pagesWritten, it.pagesScanned),
        figure(formatBytes(it.bytes), exact('bytes', it.bytes)),
      ]),
    ),
  );
}

function timeFigure(its: readonly IterationResult[]): Markup {
  const width = chartWidth(its.length, 1);
  return card(
    'Time per iteration',
    width,
    lineChart({
      id: 'iter-time',
      width,
      title: 'Time and stopped time per iteration',
      desc: 'Wall time of each iteration, and how long the target was stopped during it.',
      axisName: 'time',
      categories: its.map(label),
      series: [
        { name: 'time', color: COLORS.time, values: its.map((it) => it.ms) },
        { name: 'stopped', color: COLORS.stopped, values: its.map((it) => it.stoppedMs), labels: 'below' },
      ],
      format: formatMs,
    }),
    table(
      'Time per iteration',
      [
        { head: 'iteration' },
        { head: 'time', numeric: true },
        { head: 'stopped', numeric: true },
        { head: 'stopped ÷ time', numeric: true },
        { head: 'rate', numeric: true },
      ],
      its.map((it) => [
        label(it).join(' '),
        figure(human('ms', it.ms), exact('ms', it.ms)),
        figure(human('ms', it.stoppedMs), exact('ms', it.stoppedMs)),
        percent(it.stoppedMs, it.ms),
        it.ms === 0 ? NOT_A_FIGURE : formatRate((it.bytes / it.ms) * 1000),
      ]),
    ),
  );
}

/**
 * Render the section. An empty list gives a short note instead of charts.
 *
 * @example
 * iterationsSection([{ index: 1, frozen: false, pagesScanned: 262144, pagesWritten: 262144, ... }]);
 */
export function iterationsSection(iterations: readonly IterationResult[]): Markup {
  const its = [...iterations].sort((a, b) => a.index - b.index);
  return el(
    'section',
    { id: 'iterations' },
    el('h2', {}, 'Pre-dump chain'),
    el(
      'p',
      { class: 'lead' },
      'Each iteration copies the pages written since the one before; the target runs meanwhile, except in ',
      'the frozen last iteration.',
    ),
    its.length === 0
      ? el('p', {}, 'This run lists no iterations.')
      : el('div', { class: 'grid' }, pagesFigure(its), timeFigure(its)),
  );
}
