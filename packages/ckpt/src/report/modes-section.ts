/**
 * The "read vs splice" section: one grouped bar chart per metric (stopped time, total time, fds, peak
 * pipe bytes, peak RSS, MemAvailable drop), a group per target size and scenario, a bar per mode; under
 * each chart its figures and the splice ÷ read ratio; at the end every measurement as recorded.
 *
 * Several measurements of the same mode, size and scenario are drawn as their median (the table says so).
 *
 * @example
 * modesSection(run.modes).toString(); // '<section id="modes">...'
 */
import { barChart } from './bar-chart.js';
import { card } from './card.js';
import { chartWidth } from './chart-frame.js';
import { el, type Markup } from './markup.js';
import { MODES, ModeComparison, type ModeMetric } from './mode-comparison.js';
import type { ModeResult, PageMode } from './schema.js';
import { figure, table } from './table.js';
import { exact, formatCount, formatRatio, human, type Quantity } from './units.js';

/** Colours of the two modes, also used by the page's legend text. */
export const MODE_COLORS: Record<PageMode, string> = { read: '#2563eb', splice: '#ea580c' };

interface Metric {
  key: ModeMetric;
  title: string;
  axis: string;
  q: Quantity;
  desc: string;
}

const METRICS: readonly Metric[] = [
  {
    key: 'stoppedMs',
    title: 'Stopped time',
    axis: 'stopped',
    q: 'ms',
    desc: 'How long the target was stopped.',
  },
  {
    key: 'totalMs',
    title: 'Total time',
    axis: 'total time',
    q: 'ms',
    desc: 'Wall time of the whole pre-dump.',
  },
  {
    key: 'fds',
    title: 'File descriptors',
    axis: 'fds at peak',
    q: 'count',
    desc: 'Descriptors held at the peak.',
  },
  {
    key: 'peakPipeBytes',
    title: 'Peak pipe bytes',
    axis: 'bytes in pipes',
    q: 'bytes',
    desc: 'Most page bytes held in pipes at once.',
  },
  {
    key: 'peakRssBytes',
    title: 'Peak RSS',
    axis: 'peak RSS',
    q: 'bytes',
    desc: 'Peak resident set of the dumper.',
  },
  {
    key: 'memAvailableDropBytes',
    title: 'MemAvailable drop',
    axis: 'MemAvailable drop',
    q: 'bytes',
    desc: 'How far MemAvailable fell during the pre-dump.',
  },
];

function metricFigure(metric: Metric, c: ModeComparison): Markup {
  const groups = c.groups;
  const values = MODES.map((mode) => groups.map((g) => c.value(metric.key, mode, g)));
  const id = `mode-${metric.key}`;
  const width = chartWidth(groups.length, MODES.length);
  const chart = barChart({
    id,
    width,
    title: `${metric.title}: read vs splice`,
    desc: `${metric.desc} One group of bars per target size and scenario; lower is better.`,
    axisName: metric.axis,
    categories: groups.map((g) => g.label),
    series: MODES.map((mode, i) => ({ name: mode, color: MODE_COLORS[mode], values: values[i]! })),
    format: (v) => human(metric.q, v),
    binary: metric.q === 'bytes',
  });
  const cell = (v: number | undefined) =>
    v === undefined ? '—' : figure(human(metric.q, v), exact(metric.q, v));
  const rows = groups.map((g, i) => {
    const r = values[0]![i];
    const s = values[1]![i];
    return [
      g.label.join(' '),
      cell(r),
      cell(s),
      r === undefined || s === undefined ? '—' : formatRatio(s, r),
    ];
  });
  return card(
    metric.title,
    width,
    chart,
    table(
      `${metric.title}${c.repeated ? ' (median of repeated runs)' : ''}`,
      [
        { head: 'size, scenario' },
        { head: 'read', numeric: true },
        { head: 'splice', numeric: true },
        { head: 'splice ÷ read', numeric: true },
      ],
      rows,
    ),
  );
}

function allMeasurements(modes: readonly ModeResult[]): Markup {
  const f = (q: Quantity, v: number) => figure(human(q, v), exact(q, v));
  return table(
    'Every mode measurement, as recorded',
    [
      { head: 'mode' },
      { head: 'scenario' },
      { head: 'size', numeric: true },
      { head: 'stopped', numeric: true },
      { head: 'total', numeric: true },
      { head: 'pipes', numeric: true },
      { head: 'fds', numeric: true },
      { head: 'peak pipe bytes', numeric: true },
      { head: 'peak RSS', numeric: true },
      { head: 'MemAvailable drop', numeric: true },
    ],
    modes.map((m) => [
      m.mode,
      m.scenario,
      f('bytes', m.sizeBytes),
      f('ms', m.stoppedMs),
      f('ms', m.totalMs),
      formatCount(m.pipes),
      formatCount(m.fds),
      f('bytes', m.peakPipeBytes),
      f('bytes', m.peakRssBytes),
      f('bytes', m.memAvailableDropBytes),
    ]),
  );
}

/**
 * Render the section (charts, their tables, the full table). An empty list gives a short note instead.
 *
 * @example
 * modesSection([{ mode: 'read', scenario: 'static', sizeBytes: 1 << 30, stoppedMs: 0.4, ... }]);
 */
export function modesSection(modes: readonly ModeResult[]): Markup {
  const comparison = new ModeComparison(modes);
  return el(
    'section',
    { id: 'modes' },
    el('h2', {}, 'read vs splice'),
    el(
      'p',
      { class: 'lead' },
      'Each group is one target size and scenario, pre-dumped in both modes in the same run. ',
      el('span', { class: 'key', style: `--c:${MODE_COLORS.read}` }, 'read'),
      ' copies pages with process_vm_readv while the target runs; ',
      el('span', { class: 'key', style: `--c:${MODE_COLORS.splice}` }, 'splice'),
      ' is the older way: the frozen target vmsplices its pages into pipes. Lower is better everywhere.',
    ),
    modes.length === 0
      ? el('p', {}, 'This run lists no mode measurements.')
      : [
          el(
            'div',
            { class: 'grid' },
            METRICS.map((m) => metricFigure(m, comparison)),
          ),
          allMeasurements(modes),
        ],
  );
}
