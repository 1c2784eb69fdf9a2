/**
 * Batches of injected calls (call-batch.ts, the trampoline's loop) in a real traced clone of the helper:
 * many calls in one stop, in order, with their data and results; a failure in the middle names the call
 * and nothing after it runs; a batch larger than the argument area runs in parts; a single call joins
 * the batch queued before it; threads cloned in one batch (createThreads), each set up by its own.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { readMaps } from '../proc/index.js';
import { MAP, PAGE_SIZE, PR, PROT, RSYS, SYS } from '../sys/index.js';
import { RestoreError } from './errors.js';
import { cloneWithPid } from './helper-process.js';
import { RemoteTask } from './remote-task.js';
import { createThreads } from './task-clone.js';
import { findTrampoline, mapTrampoline } from './trampoline.js';

const tasks: RemoteTask[] = [];
after(() => {
  for (const t of tasks) t.kill();
});

/** A free pid: counted down from the top of the pid range (clear of the ones in use). */
function freePid(): number {
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  for (let pid = max - 1000 - Math.floor(Math.random() * 1000); pid > 300; pid--)
    if (!existsSync(`/proc/${pid}`)) return pid;
  throw new Error('no free pid');
}

/** A traced clone of the helper, its trampoline mapped: calls run from it. */
function taskWithTrampoline(): { task: RemoteTask; free: number } {
  const clone = cloneWithPid(freePid());
  const task = new RemoteTask(clone.pid, clone.syscallAt);
  tasks.push(task);
  const maps = readMaps(clone.pid).map((v) => [v.start, v.end] as const);
  const tramp = findTrampoline([maps], 0);
  mapTrampoline(task, tramp);
  // a free range below the trampoline for the test's own mappings (a guard page between)
  return { task, free: tramp - 64 * PAGE_SIZE };
}

const mapped = (pid: number, at: number) => readMaps(pid).some((v) => v.start <= at && at < v.end);
const anon = (task: RemoteTask, at: number, what = `mmap 0x${at.toString(16)}`) =>
  task.queue(what, RSYS.mmap, [at, PAGE_SIZE, PROT.READ, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0]);

test('a batch runs its calls in order in one stop, with their data and results', () => {
  const { task, free } = taskWithTrampoline();
  const stops = task.stops;
  const calls = task.calls;
  const got: number[] = [];
  task.queue('getpid', SYS.getpid, [], { onResult: (r) => got.push(r) });
  anon(task, free);
  const name = Buffer.alloc(16);
  name.write('batched');
  task.queue('prctl(PR_SET_NAME)', RSYS.prctl, (at) => [PR.SET_NAME, at], { data: name });
  task.queue('gettid', SYS.gettid, [], { onResult: (r) => got.push(r) });
  assert.equal(task.stops, stops, 'queued calls wait');
  assert.equal(mapped(task.pid, free), false);
  task.flush();
  assert.equal(task.stops, stops + 1);
  assert.equal(task.calls, calls + 4);
  assert.equal(got[0], task.pid);
  assert.ok(got[1]! > 0, 'gettid ran after the others');
  assert.equal(got.length, 2);
  assert.equal(mapped(task.pid, free), true);
  assert.equal(readFileSync(`/proc/${task.pid}/comm`, 'utf8').trim(), 'batched');
});

test('a failing call in the middle of a batch is reported by name; the calls after it do not run', () => {
  const { task, free } = taskWithTrampoline();
  const [a, b, c] = [free, free + 2 * PAGE_SIZE, free + 4 * PAGE_SIZE];
  anon(task, a);
  task.queue('close fd 999 (may fail)', RSYS.close, [999], { mayFail: true });
  anon(task, b);
  task.queue('dup2 of a closed fd', RSYS.dup2, [998, 5]);
  anon(task, c);
  const stops = task.stops;
  assert.throws(
    () => task.flush(),
    (e: unknown) =>
      e instanceof RestoreError &&
      e.code === 'EIO' &&
      e.message === `dup2 of a closed fd in process ${task.pid}: EBADF`,
  );
  assert.equal(task.stops, stops + 2, 'one stop past the failure that may fail, one to the failure');
  assert.equal(mapped(task.pid, a), true);
  assert.equal(mapped(task.pid, b), true, 'a call that may fail does not stop the batch');
  assert.equal(mapped(task.pid, c), false, 'nothing after the failure ran');
  // the batch is empty after it: the next call runs alone
  assert.equal(task.call('getpid', SYS.getpid), task.pid);
});

test('a batch larger than the argument area runs in parts, in order; a single call joins the batch', () => {
  const { task, free } = taskWithTrampoline();
  const stops = task.stops;
  const results: number[] = [];
  for (let i = 0; i < 300; i++)
    task.queue(`getpid ${i}`, SYS.getpid, [], { onResult: (r) => results.push(r) });
  anon(task, free);
  assert.ok(task.stops > stops, 'a full batch ran before the queue took more');
  const parts = task.stops - stops;
  assert.equal(task.call('gettid', SYS.gettid) > 0, true);
  assert.equal(task.stops, stops + parts + 1, 'the rest and the call: one stop');
  assert.equal(results.length, 300);
  assert.ok(results.every((r) => r === task.pid));
  assert.equal(mapped(task.pid, free), true);
});

test('threads cloned in one batch of the leader: one stop, each traced and set up by a batch of its own', () => {
  const { task, free } = taskWithTrampoline();
  const tramp = free + 64 * PAGE_SIZE;
  const first = freePid();
  let second = freePid();
  while (second === first) second = freePid();
  const tids = [first, second];
  const stops = task.stops;
  const threads = createThreads(task, tids, tramp);
  tasks.push(...threads);
  assert.equal(task.stops, stops + 1, 'every clone3 in one stop');
  assert.deepEqual(
    threads.map((t) => t.pid),
    tids,
  );
  for (const tid of tids)
    assert.ok(existsSync(`/proc/${task.pid}/task/${tid}`), `thread ${tid} in the process`);
  for (const [i, t] of threads.entries()) {
    const name = Buffer.alloc(16);
    name.write(`thread${i}`);
    t.queue('prctl(PR_SET_NAME)', RSYS.prctl, (at) => [PR.SET_NAME, at], { data: name });
    t.queue('gettid', SYS.gettid, [], { onResult: (r) => assert.equal(r, tids[i]) });
    t.queue('dup2 of a closed fd', RSYS.dup2, [998, 5]);
    assert.throws(
      () => t.flush(),
      (e: unknown) =>
        e instanceof RestoreError && e.message === `dup2 of a closed fd in process ${tids[i]}: EBADF`,
      "a failing call in a thread's table is reported by name",
    );
    assert.equal(t.stops, 1, 'its own batch: one stop');
    assert.equal(readFileSync(`/proc/${task.pid}/task/${tids[i]}/comm`, 'utf8').trim(), `thread${i}`);
  }
});

test('a taken thread id is refused before any clone3 runs', () => {
  const { task, free } = taskWithTrampoline();
  const stops = task.stops;
  assert.throws(
    () => createThreads(task, [freePid(), process.pid], free + 64 * PAGE_SIZE),
    (e: unknown) =>
      e instanceof RestoreError &&
      e.code === 'EBUSY' &&
      e.message.startsWith(`thread id ${process.pid} is taken`),
  );
  assert.equal(task.stops, stops);
  assert.deepEqual(readdirSync(`/proc/${task.pid}/task`), [String(task.pid)]);
});
