import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { skipUnlessAvailable } from '../testing/index.js';
import { parseRun, renderReport } from './index.js';
import { chromiumMissing, runChromium } from './testing/chromium.js';
import { decodePng, type PngImage, pixelStats } from './testing/png.js';
import { checkNesting, type Element, elements, findAll } from './testing/tag-scan.js';

const SAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/report-sample.json');
const opts = { skip: skipUnlessAvailable('chromium', chromiumMissing()), timeout: 240_000 };
const RUN_LIMIT = { timeoutMs: 90_000 };

const dir = mkdtempSync(join(tmpdir(), 'ckpt-report-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function page(name: string, html: string): string {
  const path = join(dir, name);
  writeFileSync(path, html);
  return pathToFileURL(path).href;
}

async function chromium(args: string[]): Promise<string> {
  const r = await runChromium(args, RUN_LIMIT);
  assert.equal(r.timedOut, false, 'chromium finished in time');
  assert.deepEqual(r.leftovers, [], 'no chromium process is left behind');
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  return r.stdout;
}

function count(img: PngImage, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const o = i * img.channels;
    if (img.pixels[o] === rgb[0] && img.pixels[o + 1] === rgb[1] && img.pixels[o + 2] === rgb[2]) n++;
  }
  return n;
}

function drawnShapes(svg: Element): number {
  const n = (e: Element, k: string) => Number(e.attrs.get(k) ?? '0');
  return (
    findAll([svg], 'rect').filter((e) => n(e, 'width') > 0 && n(e, 'height') > 0).length +
    findAll([svg], 'circle').filter((e) => n(e, 'r') > 0).length +
    findAll([svg], 'path').filter((e) => (e.attrs.get('d') ?? '').includes('L')).length
  );
}

test('the sample, screenshot in headless Chromium: a picture with both modes drawn', opts, async () => {
  const url = page('sample.html', renderReport(parseRun(readFileSync(SAMPLE, 'utf8'))));
  const shot = join(dir, 'shot.png');
  await chromium([`--screenshot=${shot}`, '--window-size=1280,2000', '--hide-scrollbars', url]);
  assert.ok(statSync(shot).size > 20_000, `screenshot of ${statSync(shot).size} bytes`);
  const img = decodePng(readFileSync(shot));
  assert.equal(img.width, 1280);
  assert.equal(img.height, 2000);
  const stats = pixelStats(img);
  assert.ok(stats.lumaStdDev > 10, `luma varies (${stats.lumaStdDev})`);
  assert.ok(stats.distinctColours > 100, `${stats.distinctColours} colours`);
  assert.ok(stats.nonBackground > 0.05, `${stats.nonBackground} of the pixels are not background`);
  // Bar interiors are painted in the exact colours of the modes.
  assert.ok(count(img, [0x25, 0x63, 0xeb]) > 2000, 'read bars are drawn');
  assert.ok(count(img, [0xea, 0x58, 0x0c]) > 2000, 'splice bars are drawn');
});

test('the sample, DOM as Chromium parsed it: eight charts, each with marks', opts, async () => {
  const url = page('sample-dom.html', renderReport(parseRun(readFileSync(SAMPLE, 'utf8'))));
  const dom = await chromium(['--dump-dom', url]);
  checkNesting(dom);
  const tree = elements(dom);
  const svgs = findAll(tree, 'svg');
  assert.equal(svgs.length, 8);
  for (const svg of svgs) {
    assert.equal(svg.children[0]?.name, 'title');
    assert.equal(svg.children[1]?.name, 'desc');
    assert.ok(drawnShapes(svg) >= 4, `${svg.children[0]?.name} chart has marks`);
  }
  assert.equal(findAll(tree, 'table').length, 10);
  assert.equal(findAll(tree, 'script').length, 0);
});

test('the charts parse as XML too (an .svg file in Chromium shows no parser error)', opts, async () => {
  const html = renderReport(parseRun(readFileSync(SAMPLE, 'utf8')));
  const parts: string[] = [];
  for (let i = html.indexOf('<svg'); i >= 0; i = html.indexOf('<svg', i + 1)) {
    parts.push(html.slice(i, html.indexOf('</svg>', i) + 6));
  }
  assert.equal(parts.length, 8);
  const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
  const dom = await chromium(['--dump-dom', page('charts.svg', doc)]);
  assert.ok(!dom.includes('parsererror'), dom.slice(0, 2000));
  assert.equal(findAll(elements(dom), 'svg').length, 9);
});

test('a hostile title stays text in Chromium', opts, async () => {
  const run = parseRun(readFileSync(SAMPLE, 'utf8'));
  run.title = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">';
  const dom = await chromium(['--dump-dom', page('hostile.html', renderReport(run))]);
  const tree = elements(dom);
  assert.equal(findAll(tree, 'script').length, 0);
  assert.equal(findAll(tree, 'img').length, 0);
  assert.ok(dom.includes('<h1>&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img'));
  assert.ok(!dom.includes('<title>pwned'));
});
