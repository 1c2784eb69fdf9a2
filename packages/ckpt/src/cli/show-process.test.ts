/**
 * `ckpt show DIR` on a real full dump (the restorable fixture, 3 threads, a pipe holding data, left
 * running): the process state (threads with registers, VMAs, fds), the decoded full-dump images, the
 * pipes-data blob, and the same as JSON.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finalDump } from '../dump/full/index.js';
import { Scratch } from '../testing/index.js';
import { renderShow } from './show.js';
import type { ProcessReport } from './show-process.js';

const scratch = new Scratch('ckpt-show-process-test-');

test('ckpt show DIR of a full dump: threads and registers, VMAs, fds; every image decoded', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('restorable', ['1', '2', '-', 'pipe']);
  const r = await finalDump({ pid: f.pid, imagesDir: dir, leaveRunning: true });
  const text = renderShow(dir);
  assert.match(
    text,
    new RegExp(
      `^process ${f.pid} \\(ppid 0, pgid \\d+, sid \\d+\\) restorable: 3 threads, \\d+ VMAs, \\d+ fds`,
      'm',
    ),
  );
  const tids = r.states[0]!.threads.map((t) => t.state.tid);
  for (const tid of tids)
    assert.match(text, new RegExp(`^  thread ${tid} restorable  ip=0x[0-9a-f]+ sp=0x[0-9a-f]+ `, 'm'));
  assert.match(text, /^ {2}vma 0x[0-9a-f]+-0x[0-9a-f]+ +rw-p {2}REGULAR\|HEAP\|ANON_PRIVATE/m);
  assert.match(text, /^ {2}vma .* r-xp {2}REGULAR\|VDSO\|ANON_PRIVATE/m);
  assert.match(text, /^ {2}fd +3 {2}PIPE pipe:\[\d+\]$/m);
  assert.match(text, /^ {2}fd +0 {2}REG +\/dev\/null pos 0$/m);
  assert.match(text, /pipes-data\.img +PIPES_DATA pipe_id=\d+ bytes=5 size=\d+ data=68656c6c6f/); // "hello"
  assert.match(text, /core-\d+\.img +CORE \(core_entry\)/);
  assert.doesNotMatch(text, /TRUNCATED|BAD_|error/i);
  const json = JSON.parse(renderShow(dir, { json: true })) as { processes: ProcessReport[] };
  assert.equal(json.processes.length, 1);
  assert.deepEqual(
    json.processes[0]!.threads.map((t) => t.tid),
    tids,
  );
  assert.equal(
    json.processes[0]!.threads[0]!.ip,
    `0x${r.states[0]!.threads[0]!.state.gpregs.ip.toString(16)}`,
  );
  const core = JSON.parse(renderShow(`${dir}/core-${f.pid}.img`, { json: true })) as {
    entries: { fields: { tc: { comm: string } } }[];
  };
  assert.equal(core.entries[0]!.fields.tc.comm, 'restorable');
});

test('ckpt show DIR names sockets and event-loop descriptors: listeners with their backlog, a connected UDP socket, epolls and eventfds', async () => {
  const dir = scratch.newDir();
  const f = await scratch.start('socketed', []);
  await finalDump({ pid: f.pid, imagesDir: dir, leaveRunning: true });
  const text = renderShow(dir);
  assert.match(
    text,
    new RegExp(`^ {2}fd +3 {2}INETSK tcp 127\\.0\\.0\\.1:${f.num('l4')} LISTEN backlog 17$`, 'm'),
  );
  assert.match(text, new RegExp(`^ {2}fd +4 {2}INETSK tcp6 \\[::1\\]:${f.num('l6')} LISTEN backlog 5$`, 'm'));
  assert.match(text, /^ {2}fd +5 {2}INETSK udp 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:9$/m);
  assert.match(text, /^ {2}fd +6 {2}INETSK tcp 0\.0\.0\.0:0$/m);
  assert.match(text, /^ {2}fd +7 {2}EVENTPOLL epoll watching fd 3, fd 4$/m);
  const g = await scratch.start('evented', []);
  const dir2 = scratch.newDir();
  await finalDump({ pid: g.pid, imagesDir: dir2, leaveRunning: true });
  assert.match(renderShow(dir2), new RegExp(`^ {2}fd +${g.num('a')} {2}EVENTFD eventfd counter 7$`, 'm'));
});
