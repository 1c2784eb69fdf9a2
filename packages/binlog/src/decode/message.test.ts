import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ArgValue, JsonArg } from '../codec/index.js';
import { LineFormatter } from './line.js';
import { compileFormat, formatMessage } from './message.js';
import type { DecodedEvent } from './reader.js';

test('rendering per specifier', () => {
  const f = compileFormat('%d|%i|%u|%x|%f|%s|%o|%j');
  assert.equal(
    formatMessage(f, [-0, 7, 1.5, -255, 1e21, 's', 's', new JsonArg('{"a":1}')]),
    '-0|7|1.5|-ff|1e+21|s|"s"|{"a":1}',
  );
  assert.equal(formatMessage(f, [10n, null, undefined, 255n, true]), '10|null|undefined|ff|true|%s|%o|%j');
  assert.equal(
    formatMessage(f, [Number.NaN, 2 ** 53 + 2, -1.5, 0, -0, 5, 7n, 'q']),
    'NaN|9007199254740994|-1.5|0|-0|5|7|"q"',
  );
  assert.equal(formatMessage(f, [1, 2, 3, 4, 5, 6, 7, 8, 'extra']), '1|2|3|4|5|6|7|8 extra');
  const g = compileFormat('a "quoted" \\ %s%d\n');
  assert.equal(formatMessage(g, ['x', -7]), 'a "quoted" \\ x-7\n');
});

test('renderJson gives the JSON string of the rendered text', () => {
  const cases: [string, ArgValue[]][] = [
    ['%d|%i|%u|%f|%x|%o|%j|%s', [Number.NaN, 2 ** 53 + 2, -1.5, 0, -0, 5, 7n, 'q']],
    ['a "quoted" \\ %s%d\n\u2028', ['x"\n\u0001\ud800', -7]],
    ['%s and %d', [3, 'not a number "q"']],
    ['%o %j %x', [new JsonArg('{"a":"\\n"}'), 'str"', 255]],
    ['plain', []],
  ];
  for (const [fmt, args] of cases) {
    const f = compileFormat(fmt);
    assert.equal(f.renderJson?.(args), JSON.stringify(formatMessage(f, args)).slice(1, -1), fmt);
  }
});

test('text and JSON lines', () => {
  const e: DecodedEvent = {
    level: 30,
    time: Date.UTC(2026, 10, 25, 21, 4, 5, 7) + 0.6,
    msg: 'hi "x"',
    msgJson: 'hi \\"x\\"',
    fields: '{"req":7}',
    id: 1,
    fmt: 'hi',
    args: [],
    pid: 42,
  };
  const lf = new LineFormatter();
  assert.equal(lf.text(e), '2026-11-25T21:04:05.007Z INFO hi "x" {"req":7}');
  assert.deepEqual(JSON.parse(lf.json(e)), {
    level: 30,
    time: Date.UTC(2026, 10, 25, 21, 4, 5, 7),
    pid: 42,
    req: 7,
    msg: 'hi "x"',
  });
  assert.equal(lf.text({ ...e, fields: null, level: 60 }), '2026-11-25T21:04:05.007Z FATAL hi "x"');
});
