import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRun, type Run, renderReport } from './index.js';
import { checkNesting, type Element, elements, findAll } from './testing/tag-scan.js';

const SAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/report-sample.json');
const sample = (): Run => parseRun(readFileSync(SAMPLE, 'utf8'));

function svgs(html: string): Element[] {
  checkNesting(html);
  return findAll(elements(html), 'svg');
}

/** Every `&` starts one of the entities XML knows, so each SVG also parses as XML. */
function checkEntities(html: string): void {
  for (let i = html.indexOf('&'); i >= 0; i = html.indexOf('&', i + 1)) {
    const ok = ['&amp;', '&lt;', '&gt;', '&quot;', '&#39;'].some((e) => html.startsWith(e, i));
    assert.ok(ok, `stray & at ${i}: ${html.slice(i, i + 12)}`);
  }
}

/** A shape that covers some area (or, for a path or line, has some length). */
function drawn(e: Element): boolean {
  const n = (k: string) => Number(e.attrs.get(k) ?? '0');
  if (e.name === 'rect') return n('width') > 0 && n('height') > 0;
  if (e.name === 'circle') return n('r') > 0;
  if (e.name === 'line') return n('x1') !== n('x2') || n('y1') !== n('y2');
  if (e.name === 'path') return (e.attrs.get('d') ?? '').includes('L');
  return false;
}

function shapes(svg: Element): Element[] {
  return ['rect', 'circle', 'line', 'path'].flatMap((name) => findAll([svg], name)).filter(drawn);
}

test('the sample: a well-formed page with eight labelled charts', () => {
  const html = renderReport(sample());
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
  checkEntities(html);
  const charts = svgs(html);
  assert.equal(charts.length, 8);
  const ids = new Set<string>();
  for (const svg of charts) {
    assert.equal(svg.attrs.get('role'), 'img');
    const [title, desc] = svg.children;
    assert.equal(title?.name, 'title');
    assert.equal(desc?.name, 'desc');
    assert.equal(svg.attrs.get('aria-labelledby'), `${title.attrs.get('id')} ${desc.attrs.get('id')}`);
    for (const id of [title.attrs.get('id')!, desc.attrs.get('id')!]) {
      assert.ok(!ids.has(id), `id ${id} twice`);
      ids.add(id);
    }
    assert.ok(shapes(svg).length >= 4, 'each chart draws marks');
  }
  // One table under each chart, the full mode table and the summary.
  assert.equal(findAll(elements(html), 'table').length, 10);
  assert.equal(findAll(elements(html), 'caption').length, 10);
});

test('figures are in human units, with the exact value beside them', () => {
  const html = renderReport(sample());
  for (const s of [
    '400 µs',
    '186 ms',
    '1.41 s',
    '2,051',
    '1 GiB',
    '58 MiB',
    '1,073,741,824 B',
    '465×',
    '23.3 GiB',
  ]) {
    assert.ok(html.includes(s), s);
  }
  assert.ok(html.includes('2026-11-25 22:40:00 UTC'));
});

test('a huge range is drawn on a log axis, and the chart says so', () => {
  const html = renderReport(sample());
  const stopped = svgs(html).find((s) => s.children[0]?.attrs.get('id') === 'mode-stoppedMs-title')!;
  assert.ok(stopped);
  const i = html.indexOf('id="mode-stoppedMs-desc"');
  assert.ok(html.slice(i, i + 300).includes('logarithmic'));
  assert.ok(html.includes('stopped (log scale)'));
  assert.ok(html.includes('>total time</text>'), 'total time stays linear');
});

test('strings from the run file are text, never markup', () => {
  const run = sample();
  run.title = '<script>alert(1)</script>';
  run.host.kernel = '"><img src=x onerror=alert(2)>';
  run.iterations![0]!.tracker = '</style><script>alert(3)</script>';
  const html = renderReport(run);
  assert.ok(!html.toLowerCase().includes('<script'));
  assert.ok(!html.toLowerCase().includes('<img'));
  assert.ok(html.includes('<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>'));
  assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'));
  checkNesting(html);
  checkEntities(html);
});

test('self-contained: no script, no external resources, a policy that forbids them', () => {
  const html = renderReport(sample());
  assert.ok(
    html.includes(`content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:"`),
  );
  const urls = html.split(/(?=https?:)/).slice(1);
  assert.ok(
    urls.every((u) => u.startsWith('http://www.w3.org/2000/svg"')),
    urls.join(' '),
  );
  for (const bad of ['<script', '<link', '<img', ' src=', ' href=', '@import', 'url(']) {
    assert.ok(!html.includes(bad), bad);
  }
});

test('a run with only iterations, only modes, or neither', () => {
  const full = sample();
  const onlyIterations: Run = { ...full };
  delete onlyIterations.modes;
  let html = renderReport(onlyIterations);
  assert.equal(svgs(html).length, 2);
  assert.ok(html.includes('id="iterations"') && !html.includes('id="modes"'));
  assert.ok(html.includes('frozen'));

  const onlyModes: Run = { ...full };
  delete onlyModes.iterations;
  html = renderReport(onlyModes);
  assert.equal(svgs(html).length, 6);
  assert.ok(html.includes('id="modes"') && !html.includes('id="iterations"'));

  const neither: Run = { ...onlyModes };
  delete neither.modes;
  html = renderReport(neither);
  assert.equal(svgs(html).length, 0);
  assert.ok(html.includes('neither a mode comparison nor iterations'));

  html = renderReport({ ...neither, modes: [], iterations: [] });
  assert.equal(svgs(html).length, 0);
  assert.ok(html.includes('no mode measurements') && html.includes('no iterations'));
});

test('repeated measurements are drawn as their median, and the table says so', () => {
  const run = sample();
  const first = run.modes![0]!;
  run.modes = [first, { ...first, stoppedMs: 0.9 }, { ...first, stoppedMs: 0.5 }, run.modes![1]!];
  const html = renderReport(run);
  assert.ok(html.includes('Stopped time (median of repeated runs)'));
  assert.ok(html.includes('>500 µs<'));
  assert.equal(svgs(html).length, 8);
});

test('a group measured in one mode only leaves its other bar out', () => {
  const run = sample();
  run.modes = run.modes!.filter((m) => !(m.mode === 'splice' && m.scenario === 'churn'));
  delete run.iterations;
  const html = renderReport(run);
  const charts = svgs(html);
  // 4 read bars + 2 splice bars + 2 legend swatches in the stopped-time chart.
  assert.equal(findAll([charts[0]!], 'rect').length, 8);
  assert.ok(html.includes('<td class="num">—</td>'));
});

test('odd figures (zeros, tiny, huge, many) never break the page', () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const odd = [0, 0, 1e-300, 1e-9, 0.5, 1, 3, 4096, 1e9, 2 ** 40, 2 ** 53 - 1];
  const pickNum = () =>
    rand() < 0.5 ? odd[Math.floor(rand() * odd.length)]! : rand() * 10 ** Math.floor(rand() * 12);
  const pickInt = () => Math.floor(pickNum() % 2 ** 40);
  for (let round = 0; round < 40; round++) {
    const run = sample();
    run.modes = Array.from({ length: Math.floor(rand() * 30) }, () => ({
      mode: rand() < 0.5 ? ('read' as const) : ('splice' as const),
      scenario: rand() < 0.5 ? ('static' as const) : ('churn' as const),
      sizeBytes: pickNum(),
      stoppedMs: pickNum(),
      totalMs: pickNum(),
      pipes: pickInt(),
      fds: pickInt(),
      peakPipeBytes: pickNum(),
      peakRssBytes: pickNum(),
      memAvailableDropBytes: pickNum(),
    }));
    run.iterations = Array.from({ length: Math.floor(rand() * 50) }, (_, i) => ({
      index: i + 1,
      frozen: rand() < 0.1,
      pagesScanned: pickInt(),
      pagesWritten: pickInt(),
      ms: pickNum(),
      stoppedMs: pickNum(),
      bytes: pickNum(),
      tracker: 'uffd-wp',
    }));
    const html = renderReport(run);
    checkNesting(html);
    checkEntities(html);
    for (const bad of ['NaN', 'Infinity', 'undefined']) {
      assert.ok(
        !html.includes(bad),
        `round ${round}: ${bad} at ${html.slice(html.indexOf(bad) - 80, html.indexOf(bad) + 20)}`,
      );
    }
  }
});
