/**
 * Line chart over categories (e.g. the iterations of a pre-dump chain): one polyline per series, a dot on
 * every point, and the values printed next to the dots while there are few enough points to read them.
 * Shares its axes with the bar chart (`seriesChartFrame`), log scale included.
 *
 * @example
 * lineChart({
 *   id: 'iter-time', title: 'Time per iteration', desc: '...', axisName: 'time', format: formatMs,
 *   categories: [['1'], ['2']],
 *   series: [{ name: 'total', color: '#2563eb', values: [420, 80] }],
 * });
 */
import { seriesChartFrame } from './chart-frame.js';
import { coord, el, type Markup } from './markup.js';
import { chooseScale } from './scale.js';

/** One series: a value per category. */
export interface LineSeries {
  name: string;
  color: string;
  values: readonly number[];
  /** Print values above (default) or below the points, so two series do not write over each other. */
  labels?: 'above' | 'below';
}

/** What `lineChart` draws. */
export interface LineChartSpec {
  id: string;
  title: string;
  desc: string;
  axisName: string;
  categories: readonly (readonly string[])[];
  series: readonly LineSeries[];
  format: (v: number) => string;
  width?: number;
  height?: number;
}

/** Most points per series whose values are still printed. */
const MAX_LABELLED = 12;

/**
 * Draw the chart as an `<svg>` element.
 *
 * @example
 * lineChart(spec).toString().includes('<path'); // true
 */
export function lineChart(spec: LineChartSpec): Markup {
  const scale = chooseScale(spec.series.flatMap((s) => s.values));
  const frame = seriesChartFrame(spec, scale);
  const marks: Markup[] = [];
  for (const s of spec.series) {
    const pts = s.values.map((v, i) => ({ x: frame.bandX(i) + frame.bandWidth / 2, y: frame.y(v), v }));
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${coord(p.x)} ${coord(p.y)}`).join(' ');
    const dots = pts.map((p, i) =>
      el(
        'circle',
        { cx: p.x, cy: p.y, r: 3.5, fill: s.color },
        el('title', {}, `${s.name}, ${spec.categories[i]!.join(' ')}: ${spec.format(p.v)}`),
      ),
    );
    const below = s.labels === 'below';
    const texts =
      pts.length <= MAX_LABELLED
        ? pts.map((p) =>
            el(
              'text',
              // Below the point unless that would reach the category labels under the axis.
              {
                x: p.x,
                y: below && p.y + 15 < frame.top + frame.height - 2 ? p.y + 15 : p.y - 8,
                'text-anchor': 'middle',
                class: 'value',
              },
              spec.format(p.v),
            ),
          )
        : [];
    marks.push(
      el(
        'g',
        {},
        el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round' }),
        dots,
        texts,
      ),
    );
  }
  return frame.svg(marks);
}
