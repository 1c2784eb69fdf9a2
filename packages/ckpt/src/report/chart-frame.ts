/**
 * What every chart of the page shares: the `<svg>` element with its `<title>` and `<desc>`, the value
 * axis (grid lines, tick labels, the axis name saying when it is logarithmic), the category axis (one
 * band per category, labels of one or two lines) and the legend.
 *
 * ```
 *  +----------------------------------------------+
 *  |  legend: [#] read  [#] splice                 |  top margin
 *  |1 GiB -+----------------------------------   |
 *  | axis  |   ##                                 |
 *  | name  |   ## ##        ## ##                 |  plot area
 *  |   0  -+---##-##--------##-##---------------  |
 *  |           1 GiB         2 GiB                |  category labels
 *  +----------------------------------------------+
 * ```
 *
 * @example
 * const f = chartFrame({ id: 'stopped', title: 'Stopped time', ... });
 * f.svg([el('rect', { x: f.bandX(0), y: f.y(3), width: 10, height: f.y(0) - f.y(3) })]);
 */
import { type Child, el, type Markup } from './markup.js';
import type { Scale } from './scale.js';

/** One entry of the legend. */
export interface LegendEntry {
  name: string;
  color: string;
}

/** What `chartFrame` needs. */
export interface FrameSpec {
  /** Unique on the page: prefixes the ids of `<title>` and `<desc>`. */
  id: string;
  title: string;
  desc: string;
  scale: Scale;
  format: (v: number) => string;
  /** Name of the value axis, e.g. "stopped time"; " (log scale)" is added when it is. */
  axisName: string;
  /** One label per category; each label is one or two lines. */
  categories: readonly (readonly string[])[];
  legend: readonly LegendEntry[];
  width?: number;
  height?: number;
}

/** The plot area of a chart and the functions to place marks on it. */
export interface Frame {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Left edge and width of the band of category `i`. */
  bandX(i: number): number;
  readonly bandWidth: number;
  /** Vertical pixel position of value `v` (bigger values are higher up, so smaller y). */
  y(v: number): number;
  /** The whole `<svg>` around the given marks. */
  svg(marks: Child): Markup;
}

const MARGIN = { left: 78, right: 14, top: 44, bottom: 46 };

/** Width of a chart in a two-column grid cell, and of one that spans the row. */
export const NARROW_WIDTH = 540;
export const WIDE_WIDTH = 1100;

/**
 * The width a chart needs for `categories` groups of `marks` bars (or points) each, between
 * `NARROW_WIDTH` and `WIDE_WIDTH`; a chart wider than `NARROW_WIDTH` should span the whole row.
 *
 * @example
 * chartWidth(4, 2);  // 540
 * chartWidth(14, 2); // 1100
 */
export function chartWidth(categories: number, marks: number): number {
  const need = MARGIN.left + MARGIN.right + categories * (marks * 34 + 14);
  return Math.max(NARROW_WIDTH, Math.min(WIDE_WIDTH, need));
}

const INK = '#334155';
const GRID = '#e2e8f0';

/**
 * Lay out a chart and return its frame.
 *
 * @example
 * chartFrame(spec).svg(bars).toString().startsWith('<svg'); // true
 */
export function chartFrame(spec: FrameSpec): Frame {
  const width = spec.width ?? NARROW_WIDTH;
  const height = spec.height ?? 300;
  const left = MARGIN.left;
  const top = MARGIN.top;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const n = Math.max(1, spec.categories.length);
  const bandWidth = plotW / n;
  const y = (v: number) => top + plotH * (1 - spec.scale.fraction(v));
  const axisName = spec.scale.kind === 'log' ? `${spec.axisName} (log scale)` : spec.axisName;

  const grid = spec.scale.ticks.map((t) =>
    el(
      'g',
      {},
      el('line', { x1: left, x2: left + plotW, y1: y(t), y2: y(t), stroke: GRID, 'stroke-width': 1 }),
      el('text', { x: left - 6, y: y(t) + 3.5, 'text-anchor': 'end', class: 'tick' }, spec.format(t)),
    ),
  );
  // Label every category while the labels fit their bands, else every second, third, ... counted from
  // the last one (in a pre-dump chain, the frozen iteration).
  const widest = Math.max(0, ...spec.categories.flatMap((lines) => lines.map((l) => l.length * 6.6 + 8)));
  const every = Math.max(1, Math.ceil(widest / bandWidth));
  const labels = spec.categories.map((lines, i) =>
    (spec.categories.length - 1 - i) % every !== 0
      ? null
      : el(
          'text',
          { x: left + bandWidth * (i + 0.5), y: top + plotH + 16, 'text-anchor': 'middle', class: 'cat' },
          lines.map((line, j) =>
            el('tspan', { x: left + bandWidth * (i + 0.5), dy: j === 0 ? 0 : 13 }, line),
          ),
        ),
  );
  let lx = left + plotW;
  const legend: Markup[] = [];
  for (const entry of [...spec.legend].reverse()) {
    const textW = entry.name.length * 6.5;
    lx -= textW;
    legend.push(el('text', { x: lx, y: 14, class: 'legend' }, entry.name));
    lx -= 16;
    legend.push(el('rect', { x: lx, y: 4.5, width: 11, height: 11, rx: 2, fill: entry.color }));
    lx -= 14;
  }

  return {
    left,
    top,
    width: plotW,
    height: plotH,
    bandWidth,
    bandX: (i) => left + bandWidth * i,
    y,
    svg: (marks) =>
      el(
        'svg',
        {
          xmlns: 'http://www.w3.org/2000/svg',
          viewBox: `0 0 ${width} ${height}`,
          width,
          height,
          role: 'img',
          'aria-labelledby': `${spec.id}-title ${spec.id}-desc`,
          class: 'chart',
        },
        el('title', { id: `${spec.id}-title` }, spec.title),
        el(
          'desc',
          { id: `${spec.id}-desc` },
          spec.scale.kind === 'log' ? `${spec.desc} The value axis is logarithmic.` : spec.desc,
        ),
        grid,
        el(
          'text',
          {
            x: 14,
            y: top + plotH / 2,
            transform: `rotate(-90 14 ${top + plotH / 2})`,
            'text-anchor': 'middle',
            class: 'axis',
          },
          axisName,
        ),
        el('line', { x1: left, x2: left, y1: top, y2: top + plotH, stroke: INK, 'stroke-width': 1 }),
        marks,
        el('line', {
          x1: left,
          x2: left + plotW,
          y1: top + plotH,
          y2: top + plotH,
          stroke: INK,
          'stroke-width': 1,
        }),
        labels,
        legend,
      ),
  };
}

/** What the bar and line charts' specs share: the frame's texts, categories and size, and named series. */
export interface SeriesChartSpec {
  id: string;
  title: string;
  desc: string;
  axisName: string;
  categories: readonly (readonly string[])[];
  series: readonly LegendEntry[];
  format: (v: number) => string;
  width?: number;
  height?: number;
}

/**
 * The frame of a chart of series on `scale`: one legend entry per series.
 *
 * @example
 * const f = seriesChartFrame(spec, chooseScale([1, 2, 3]));
 * f.bandX(0); // left edge of the first category's band
 */
export function seriesChartFrame(spec: SeriesChartSpec, scale: Scale): Frame {
  return chartFrame({
    id: spec.id,
    title: spec.title,
    desc: spec.desc,
    scale,
    format: spec.format,
    axisName: spec.axisName,
    categories: spec.categories,
    legend: spec.series.map((s) => ({ name: s.name, color: s.color })),
    ...(spec.width ? { width: spec.width } : {}),
    ...(spec.height ? { height: spec.height } : {}),
  });
}
