import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  listThreads,
  ProcError,
  parseMaps,
  readMaps,
  readStartTimeMicros,
  readStatus,
  readUptimeMicros,
} from './index.js';

test('parses maps lines, skips [vsyscall]', () => {
  const text =
    '55d0a000-55d0b000 r-xp 00001000 08:01 1234   /usr/bin/cat\n' +
    '7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n' +
    '7ffd93b16000-7ffd93b37000 rw-p 00000000 00:00 0    [stack]\n' +
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]\n';
  const v = parseMaps(text);
  assert.equal(v.length, 3);
  assert.deepEqual(v[0], {
    start: 0x55d0a000,
    end: 0x55d0b000,
    read: true,
    write: false,
    exec: true,
    private: true,
    offset: 0x1000,
    dev: '08:01',
    inode: 1234,
    path: '/usr/bin/cat',
  });
  assert.equal(v[1]!.path, '');
  assert.equal(v[2]!.path, '[stack]');
  assert.throws(() => parseMaps('garbage\n'), ProcError);
});

test('reads our own process', () => {
  const maps = readMaps(process.pid);
  assert.ok(maps.some((v) => v.path === '[stack]'));
  assert.equal(readStatus(process.pid).tgid, process.pid);
  assert.equal(listThreads(process.pid)[0], process.pid);
  assert.ok(readStartTimeMicros(process.pid) <= readUptimeMicros() + 20_000);
});

test('a missing process is ESRCH', () => {
  assert.throws(
    () => readMaps(0x3fffffff),
    (e: unknown) => e instanceof ProcError && e.code === 'ESRCH',
  );
});
