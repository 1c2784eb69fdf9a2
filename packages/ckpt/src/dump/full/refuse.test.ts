/**
 * Refusals: the classification of fds and mappings (pure), and finalDump on the refusable fixture, one
 * kind at a time: refused before anything is frozen or created, the target left running as it was.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { FdInfo } from '../../proc/index.js';
import { beatsAfter, type Fixture, logLines, Scratch } from '../../testing/index.js';
import { DumpError } from '../errors.js';
import { finalDump } from './final-dump.js';
import { fdRefusal, mappingRefusal } from './refuse.js';

const fd = (over: Partial<FdInfo>): FdInfo => ({
  fd: 3,
  kind: 'file',
  target: '/tmp/x',
  path: '/tmp/x',
  deleted: false,
  flags: 0,
  pos: 0,
  inode: 0,
  mode: 0o100644,
  size: 0,
  dev: 0,
  ino: 0,
  rdev: 0,
  fdinfo: '',
  ...over,
});

test('fdRefusal: regular files, /dev/null and pipes go; sockets, anon inodes, FIFOs, ttys, deleted files do not', () => {
  assert.equal(fdRefusal(fd({})), undefined);
  assert.equal(fdRefusal(fd({ path: '/dev/null', target: '/dev/null', mode: 0o20666 })), undefined);
  assert.equal(fdRefusal(fd({ kind: 'pipe', target: 'pipe:[12]', mode: 0o10600 })), undefined);
  assert.match(fdRefusal(fd({ kind: 'socket', target: 'socket:[9]', mode: 0o140777 })) ?? '', /socket/);
  assert.match(fdRefusal(fd({ kind: 'anon', target: 'anon_inode:[userfaultfd]' })) ?? '', /userfaultfd/);
  assert.match(fdRefusal(fd({ kind: 'anon', target: 'anon_inode:[io_uring]' })) ?? '', /io_uring/);
  assert.match(fdRefusal(fd({ mode: 0o10644 })) ?? '', /FIFO/);
  assert.match(
    fdRefusal(fd({ path: '/dev/pts/0', target: '/dev/pts/0', mode: 0o20620 })) ?? '',
    /character device/,
  );
  assert.match(fdRefusal(fd({ deleted: true })) ?? '', /deleted/);
});

test('mappingRefusal: private files and anonymous memory go; shared anonymous, SysV, memfd, hugetlb, AIO do not', () => {
  assert.equal(mappingRefusal('/usr/lib/libc.so.6', true, 5), undefined);
  assert.equal(mappingRefusal('', true, 0), undefined);
  assert.equal(mappingRefusal('/data/file', false, 7), undefined); // shared file mapping: FILE_SHARED
  assert.match(mappingRefusal('/dev/zero (deleted)', false, 3) ?? '', /anonymous shared/);
  assert.match(mappingRefusal('', false, 0) ?? '', /anonymous shared/);
  assert.match(mappingRefusal('/SYSV00000000 (deleted)', false, 4) ?? '', /SysV/);
  assert.match(mappingRefusal('/memfd:x (deleted)', false, 4) ?? '', /memfd/);
  assert.match(mappingRefusal('/anon_hugepage (deleted)', false, 4) ?? '', /hugetlb/);
  assert.match(mappingRefusal('/[aio] (deleted)', false, 4) ?? '', /AIO/);
  assert.match(mappingRefusal('/tmp/gone (deleted)', true, 4) ?? '', /deleted/);
});

const scratch = new Scratch('ckpt-refuse-test-');

const KINDS: readonly (readonly [string, (f: Fixture) => RegExp])[] = [
  [
    'inotify',
    (f) => new RegExp(`^process ${f.pid} fd 3: inotify \\(anonymous inode\\): anon_inode:inotify$`),
  ],
  ['eventfd', (f) => new RegExp(`^process ${f.pid} fd 3: an eventfd in semaphore mode `)],
  [
    'tcp-conn',
    (f) =>
      new RegExp(
        `^process ${f.pid} fd 4: a TCP connection \\(ESTABLISHED; dump it with --tcp-established\\)`,
      ),
  ],
  [
    'tcp-waiting',
    (f) =>
      new RegExp(
        `^process ${f.pid} fd 3: a listening socket with 1 connection\\(s\\) waiting to be accepted`,
      ),
  ],
  [
    'unix',
    (f) => new RegExp(`^process ${f.pid} fd 3: a unix socket with descriptors or credentials in flight`),
  ],
  ['epoll', (f) => new RegExp(`^process ${f.pid} fd 3: an epoll instance watching fd 4, which is closed `)],
  [
    'io_uring',
    (f) => new RegExp(`^process ${f.pid} mapping [0-9a-f]+-[0-9a-f]+ anon_inode:\\[io_uring\\]: `),
  ],
  [
    'sysv-shm',
    (f) => new RegExp(`^process ${f.pid} mapping [0-9a-f]+-[0-9a-f]+ /SYSV0+ \\(deleted\\): SysV`),
  ],
  ['memfd', (f) => new RegExp(`^process ${f.pid} fd 3: a memfd: /memfd:refusable`)],
  [
    'shared',
    (f) => new RegExp(`^process ${f.pid} mapping [0-9a-f-]+ /dev/zero \\(deleted\\): anonymous shared`),
  ],
  ['uts', (f) => new RegExp(`^process ${f.pid}: uts namespace uts:\\[\\d+\\] differs from ours`)],
  ['traced', (f) => new RegExp(`^process ${f.pid}: traced by process ${f.num('child')}$`)],
];

for (const [kind, line] of KINDS) {
  test(`ckpt dump refuses ${kind} up front: one line naming it, nothing written, the target running`, async () => {
    const dir = scratch.newDir();
    const f = await scratch.start('refusable', [kind]);
    const tracer = /TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${f.pid}/status`, 'utf8'))?.[1];
    await assert.rejects(finalDump({ pid: f.pid, imagesDir: dir }), (e: unknown) => {
      assert.ok(e instanceof DumpError && e.code === 'ENOTSUP', String(e));
      assert.match(e.message, new RegExp(line(f).source, 'm'));
      return true;
    });
    assert.equal(existsSync(dir), false, 'nothing created');
    assert.match(f.state(), /^[RS]$/);
    assert.equal(/TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${f.pid}/status`, 'utf8'))?.[1], tracer);
    assert.ok(await beatsAfter(f, /^BEAT /, logLines(f, /^BEAT /).length), 'the refused target kept running');
  });
}
