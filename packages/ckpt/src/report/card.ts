/**
 * A card of the page: a heading, a chart, and the table of its figures. Cards sit two to a row; a card
 * whose chart is wider than a grid cell (many sizes or iterations) spans the whole row.
 *
 * @example
 * card('Stopped time', chartWidth(4, 2), chart, figuresTable); // <figure class="card">...
 */
import { NARROW_WIDTH } from './chart-frame.js';
import { type Child, el, type Markup } from './markup.js';

/**
 * Build a card for a chart of the given width.
 *
 * @example
 * card('Pages per iteration', 1100, chart, table).toString().startsWith('<figure class="card wide">'); // true
 */
export function card(heading: string, chartWidth: number, ...children: Child[]): Markup {
  return el(
    'figure',
    { class: chartWidth > NARROW_WIDTH ? 'card wide' : 'card' },
    el('h3', {}, heading),
    children,
  );
}
