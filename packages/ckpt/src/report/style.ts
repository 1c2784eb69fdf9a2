/**
 * The page's style sheet, inlined in `<head>`: system fonts only (no web fonts, no network), a light
 * card layout, two charts per row on wide screens, one on narrow screens and in print.
 *
 * @example
 * el('style', {}, trusted(STYLE));
 */
export const STYLE = `
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 28px 24px 40px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0 0 6px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 30px 0 6px; }
h3 { font-size: 15px; margin: 0 0 6px; }
.meta { color: var(--muted); margin: 0; }
.meta b { color: var(--ink); font-weight: 600; }
.lead { color: var(--muted); margin: 0 0 14px; max-width: 80ch; }
.key { font-weight: 600; color: var(--c); }
.key::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  background: var(--c); margin-right: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
.card.wide { grid-column: 1 / -1; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 14px 10px; margin: 0;
  min-width: 0; overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 0 auto 6px; font-family: inherit; }
svg .tick { font-size: 10.5px; fill: var(--muted); }
svg .cat { font-size: 11.5px; fill: var(--ink); }
svg .axis { font-size: 11.5px; fill: var(--muted); }
svg .legend { font-size: 11.5px; fill: var(--ink); }
svg .value { font-size: 10.5px; fill: var(--ink); font-variant-numeric: tabular-nums; }
svg .value.inside { fill: #fff; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0 4px; background: #fff; }
caption { text-align: left; font-weight: 600; padding: 4px 0 6px; color: var(--ink); }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { color: var(--muted); font-weight: 600; border-bottom: 1px solid #cbd5e1; white-space: normal; }
tbody th { font-weight: 500; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.exact { display: block; color: var(--muted); font-size: 11px; }
section > table { border: 1px solid var(--line); margin-top: 16px; }
section > table caption { padding-left: 2px; }
table.summary { width: auto; min-width: 420px; border: 1px solid var(--line); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
.badge.ok { background: #dcfce7; color: #166534; }
.badge.failed { background: #fee2e2; color: #991b1b; }
.badge.skipped { background: #f1f5f9; color: #475569; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
@media (max-width: 640px) { .grid { grid-template-columns: 1fr; } }
@media print { body { background: #fff; } .grid { grid-template-columns: 1fr; } .card { break-inside: avoid; } }
`;
