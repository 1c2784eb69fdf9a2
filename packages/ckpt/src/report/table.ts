/**
 * Data tables with a caption: the exact figures under each chart, and the summary. Numeric columns are
 * right-aligned; a figure shows its human form (`1 GiB`) and, when that is rounded, the exact value on a
 * second, quieter line (`1,073,741,824 B`).
 *
 * @example
 * table('Stopped time', [{ head: 'size' }, { head: 'read', numeric: true }], [['1 GiB', figure('400 µs', '0.4 ms')]]);
 */
import { type Child, el, fragment, type Markup } from './markup.js';

/** A column of a table. */
export interface Column {
  head: string;
  numeric?: boolean;
}

/**
 * A figure for a table cell: the human form, plus the exact value when it says more.
 *
 * @example
 * figure('812 ms', '812.3 ms'); // 812 ms, and 812.3 ms below it
 */
export function figure(human: string, exact: string): Markup {
  if (human === exact) return fragment(human);
  return fragment(human, el('span', { class: 'exact' }, exact));
}

/**
 * Render a table, with an optional CSS class. Cells are escaped unless they are `Markup`.
 *
 * @example
 * table('Summary', [{ head: 'figure' }, { head: 'value' }], [['chain check', 'ok']]).toString();
 */
export function table(
  caption: string,
  columns: readonly Column[],
  rows: readonly (readonly Child[])[],
  className?: string,
): Markup {
  return el(
    'table',
    { class: className },
    el('caption', {}, caption),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map((c) => el('th', { scope: 'col', class: c.numeric ? 'num' : undefined }, c.head)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          r.map((cell, i) =>
            i === 0
              ? el('th', { scope: 'row' }, cell)
              : el('td', { class: columns[i]?.numeric ? 'num' : undefined }, cell),
          ),
        ),
      ),
    ),
  );
}
