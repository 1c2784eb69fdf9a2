import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRun, ReportError, validateRun } from './index.js';

const SAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/report-sample.json');
const sample = (): Record<string, unknown> => JSON.parse(readFileSync(SAMPLE, 'utf8'));

function rejects(mutate: (run: Record<string, unknown>) => void, field: string): void {
  const run = sample();
  mutate(run);
  assert.throws(
    () => validateRun(run),
    (e: unknown) => {
      assert.ok(e instanceof ReportError, String(e));
      assert.equal(e.code, 'BAD_RUN_FILE');
      assert.ok(e.message.startsWith(`${field}: `), `"${e.message}" should name ${field}`);
      return true;
    },
  );
}

type Rec = Record<string, unknown>;
const mode0 = (r: Rec) => (r.modes as Rec[])[0]!;
const iter1 = (r: Rec) => (r.iterations as Rec[])[1]!;

test('the sample is a valid run', () => {
  const run = parseRun(readFileSync(SAMPLE, 'utf8'));
  assert.equal(run.version, 1);
  assert.equal(run.host.cpus, 2);
  assert.equal(run.modes?.length, 8);
  assert.equal(run.iterations?.length, 5);
  assert.equal(run.iterations?.[4]?.frozen, true);
  assert.equal(run.summary.chainCheck, 'ok');
});

test('unknown fields are ignored and dropped; optional parts may be absent', () => {
  const raw = sample();
  raw.extra = { deep: true };
  mode0(raw).note = 'x';
  (raw.host as Rec).arch = 'x86_64';
  const run = validateRun(raw);
  assert.equal('extra' in run, false);
  assert.equal('note' in run.modes![0]!, false);
  assert.equal('arch' in run.host, false);
  delete raw.modes;
  delete raw.iterations;
  delete raw.title;
  const bare = validateRun(raw);
  assert.equal(bare.modes, undefined);
  assert.equal(bare.iterations, undefined);
  assert.equal(bare.title, undefined);
});

test('text that is not JSON, or JSON that is not an object', () => {
  assert.throws(() => parseRun('{"kind": '), { code: 'BAD_RUN_FILE', message: /^not JSON: / });
  assert.throws(() => parseRun('[]'), { code: 'BAD_RUN_FILE', message: /^the run file: expected an object/ });
  assert.throws(() => parseRun('null'), { code: 'BAD_RUN_FILE' });
});

test('kind, version and createdAt', () => {
  rejects((r) => {
    r.kind = 'criu-run';
  }, 'kind');
  rejects((r) => {
    r.version = 2;
  }, 'version');
  rejects((r) => {
    r.version = '1';
  }, 'version');
  rejects((r) => {
    delete r.createdAt;
  }, 'createdAt');
  rejects((r) => {
    r.createdAt = 'yesterday';
  }, 'createdAt');
  rejects((r) => {
    r.createdAt = '2026-13-45T99:99:00Z';
  }, 'createdAt');
  rejects((r) => {
    r.title = 42;
  }, 'title');
});

test('host fields', () => {
  rejects((r) => {
    r.host = 'linux';
  }, 'host');
  rejects((r) => {
    delete (r.host as Rec).kernel;
  }, 'host.kernel');
  rejects((r) => {
    (r.host as Rec).cpus = 1.5;
  }, 'host.cpus');
  rejects((r) => {
    (r.host as Rec).memBytes = -1;
  }, 'host.memBytes');
});

test('mode fields: enums, numbers finite and >= 0, counts whole', () => {
  rejects((r) => {
    r.modes = {};
  }, 'modes');
  rejects((r) => {
    (r.modes as unknown[])[2] = 7;
  }, 'modes[2]');
  rejects((r) => {
    mode0(r).mode = 'copy';
  }, 'modes[0].mode');
  rejects((r) => {
    mode0(r).scenario = 'idle';
  }, 'modes[0].scenario');
  rejects((r) => {
    mode0(r).stoppedMs = -0.5;
  }, 'modes[0].stoppedMs');
  rejects((r) => {
    mode0(r).totalMs = '812';
  }, 'modes[0].totalMs');
  rejects((r) => {
    mode0(r).sizeBytes = null;
  }, 'modes[0].sizeBytes');
  rejects((r) => {
    mode0(r).fds = 2.5;
  }, 'modes[0].fds');
  rejects((r) => {
    delete mode0(r).pipes;
  }, 'modes[0].pipes');
  rejects((r) => {
    mode0(r).peakRssBytes = Number.POSITIVE_INFINITY;
  }, 'modes[0].peakRssBytes');
  rejects((r) => {
    mode0(r).sizeBytes = 1e300;
  }, 'modes[0].sizeBytes');
  rejects((r) => {
    (r.modes as Rec[])[7]!.memAvailableDropBytes = Number.NaN;
  }, 'modes[7].memAvailableDropBytes');
});

test('iteration fields', () => {
  rejects((r) => {
    iter1(r).frozen = 'no';
  }, 'iterations[1].frozen');
  rejects((r) => {
    iter1(r).pagesWritten = -3;
  }, 'iterations[1].pagesWritten');
  rejects((r) => {
    iter1(r).index = 1.5;
  }, 'iterations[1].index');
  rejects((r) => {
    iter1(r).tracker = 3;
  }, 'iterations[1].tracker');
  rejects((r) => {
    delete iter1(r).ms;
  }, 'iterations[1].ms');
});

test('summary fields', () => {
  rejects((r) => {
    delete r.summary;
  }, 'summary');
  rejects((r) => {
    (r.summary as Rec).chainCheck = 'maybe';
  }, 'summary.chainCheck');
  rejects((r) => {
    (r.summary as Rec).throughputBytesPerSec = -1;
  }, 'summary.throughputBytesPerSec');
  rejects((r) => {
    (r.summary as Rec).mismatchedPages = 0.5;
  }, 'summary.mismatchedPages');
});

test('a number too big for a double parses as Infinity and is refused', () => {
  const text = readFileSync(SAMPLE, 'utf8').replace('"peakRssBytes": 60817408', '"peakRssBytes": 1e999');
  assert.throws(() => parseRun(text), {
    message: 'modes[0].peakRssBytes: expected a finite number >= 0 (at most 2^53 - 1), got Infinity',
  });
});

test('an error message shows what it got, shortened', () => {
  const run = sample();
  (run.host as Rec).kernel = 5;
  assert.throws(() => validateRun(run), { message: 'host.kernel: expected a string, got 5' });
  run.kind = 'x'.repeat(100);
  assert.throws(() => validateRun(run), { message: /^kind: expected "ckpt-run", got "x{40}\.\.\."$/ });
});
