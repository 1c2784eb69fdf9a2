import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ReportError } from '../report/index.js';
import { defaultReportPath, reportCommand } from './report.js';

const SAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/report-sample.json');
const dir = mkdtempSync(join(tmpdir(), 'ckpt-report-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Run with stdout captured. */
function quietly(fn: () => void): string {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('writes the page to -o and says where', () => {
  const out = join(dir, 'report.html');
  const said = quietly(() => reportCommand(SAMPLE, { output: out }));
  assert.match(said, /^wrote .*report\.html \(\d+(\.\d+)? KiB\)\n$/);
  const html = readFileSync(out, 'utf8');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.includes('Sample run: read vs splice'));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
  const input = join(dir, 'keep.json');
  copyFileSync(SAMPLE, input);
  assert.throws(() => reportCommand(input, { output: input }), {
    code: 'IO',
    message: /is the run file itself/,
  });
  assert.equal(readFileSync(input, 'utf8'), readFileSync(SAMPLE, 'utf8'));
});

test('without -o the page goes beside the input; "-" means stdout', () => {
  const input = join(dir, 'RUN.json');
  copyFileSync(SAMPLE, input);
  quietly(() => reportCommand(input, {}));
  assert.ok(existsSync(join(dir, 'RUN.html')));
  assert.equal(defaultReportPath('/a/b/run-1.JSON'), '/a/b/run-1.html');
  assert.equal(defaultReportPath('x'), 'x.html');
  const html = quietly(() => reportCommand(input, { output: '-' }));
  assert.ok(html.startsWith('<!DOCTYPE html>') && html.endsWith('</html>\n'));
});

test('a bad run file is one clear error naming the file and the field', () => {
  const input = join(dir, 'bad.json');
  const run = JSON.parse(readFileSync(SAMPLE, 'utf8'));
  run.modes[3].fds = -1;
  writeFileSync(input, JSON.stringify(run));
  const out = join(dir, 'bad.html');
  assert.throws(
    () => reportCommand(input, { output: out }),
    (e: unknown) =>
      e instanceof ReportError &&
      e.code === 'BAD_RUN_FILE' &&
      e.message === `${input}: modes[3].fds: expected a finite number >= 0 (at most 2^53 - 1), got -1` &&
      !e.message.includes('\n'),
  );
  assert.equal(existsSync(out), false, 'no page is written');
});

test('missing input and unwritable output are IO errors', () => {
  assert.throws(() => reportCommand(join(dir, 'nope.json'), {}), {
    code: 'IO',
    message: `cannot read ${join(dir, 'nope.json')}: no such file or directory`,
  });
  assert.throws(() => reportCommand(SAMPLE, { output: join(dir, 'no-dir', 'x.html') }), {
    code: 'IO',
    message: /^cannot write .*x\.html: no such file or directory$/,
  });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});
