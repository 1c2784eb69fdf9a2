import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FdInfo } from '../../proc/index.js';
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
