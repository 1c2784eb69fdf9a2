/**
 * Grouped bar chart: one group per category (e.g. "1 GiB static"), one bar per series in each group
 * (e.g. read and splice), every bar labelled with its value. The value axis turns logarithmic by itself
 * when the values span a huge range (see `chooseScale`), and its name says so.
 *
 * @example
 * barChart({
 *   id: 'stopped', title: 'Stopped time', desc: 'read vs splice', axisName: 'stopped time',
 *   categories: [['1 GiB', 'static']], format: formatMs,
 *   series: [{ name: 'read', color: '#2563eb', values: [0.4] }, { name: 'splice', color: '#ea580c', values: [180] }],
 * });
 */
import { seriesChartFrame } from './chart-frame.js';
import { el, type Markup } from './markup.js';
import { chooseScale } from './scale.js';

/** One series: a value (or none) per category. */
export interface BarSeries {
  name: string;
  color: string;
  values: readonly (number | undefined)[];
}

/** What `barChart` draws. */
export interface BarChartSpec {
  id: string;
  title: string;
  desc: string;
  axisName: string;
  categories: readonly (readonly string[])[];
  series: readonly BarSeries[];
  format: (v: number) => string;
  /** Byte values: binary ticks. */
  binary?: boolean;
  width?: number;
  height?: number;
}

/** Rough width of one character of a value label (10.5 px type), to decide when labels stand upright. */
const LABEL_CHAR_PX = 5.8;
/** Bars narrower than this get no printed value. */
const MIN_LABELLED_BAR = 11;

function flatLabel(label: string, cx: number, top: number): Markup {
  return el('text', { x: cx, y: top - 4, 'text-anchor': 'middle', class: 'value' }, label);
}

/** An upright label above the bar, or inside its top when the bar reaches too close to the top. */
function uprightLabel(label: string, cx: number, top: number, plotTop: number, h: number): Markup {
  const need = label.length * LABEL_CHAR_PX + 6;
  const inside = top - need < plotTop - 24 && h > need;
  const x = cx + 3.5;
  const y = inside ? top + 5 : top - 4;
  return el(
    'text',
    {
      x,
      y,
      transform: `rotate(-90 ${x} ${y})`,
      'text-anchor': inside ? 'end' : 'start',
      class: inside ? 'value inside' : 'value',
    },
    label,
  );
}

/**
 * Draw the chart as an `<svg>` element.
 *
 * @example
 * barChart(spec).toString(); // '<svg xmlns=... role="img" ...><title>Stopped time</title>...'
 */
export function barChart(spec: BarChartSpec): Markup {
  const all = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const scale = chooseScale(all, { binary: spec.binary ?? false });
  const frame = seriesChartFrame(spec, scale);
  const k = Math.max(1, spec.series.length);
  const barW = Math.min(56, (frame.bandWidth * 0.88) / k);
  const labelWidth = (text: string) => text.length * LABEL_CHAR_PX;
  // Labels wider than a bar are turned upright, so neighbours do not write over each other.
  const vertical = all.some((v) => labelWidth(spec.format(v)) > barW);
  const base = frame.y(scale.min);
  const marks: Markup[] = [];
  spec.categories.forEach((_, i) => {
    const groupLeft = frame.bandX(i) + (frame.bandWidth - barW * k) / 2;
    spec.series.forEach((s, j) => {
      const v = s.values[i];
      if (v === undefined) return;
      const x = groupLeft + j * barW;
      const top = frame.y(v);
      // A value > 0 always shows at least a sliver; zero sits on the axis.
      const h = v > 0 ? Math.max(1.5, base - top) : 0;
      const cx = x + barW / 2;
      const label = spec.format(v);
      marks.push(
        el(
          'g',
          {},
          el(
            'rect',
            { x: x + 1, y: base - h, width: barW - 2, height: h, fill: s.color },
            el('title', {}, `${s.name}, ${spec.categories[i]!.join(' ')}: ${label}`),
          ),
          // Too narrow for any label: the bar's tooltip and the table carry the value.
          barW < MIN_LABELLED_BAR
            ? null
            : vertical
              ? uprightLabel(label, cx, base - h, frame.top, h)
              : flatLabel(label, cx, base - h),
        ),
      );
    });
  });
  return frame.svg(marks);
}
