// A full disk, for real: a 1 MiB tmpfs mounted for this test. Every record either decodes from the file
// or is counted as lost (stats().lost), the error is emitted, and the count reaches the log once space
// is free again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeFile } from '../decode/index.js';
import { createLogger } from './logger.js';

const mnt = mkdtempSync(join(tmpdir(), 'binlog-full-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
const skip =
  mounted.status === 0
    ? false
    : `cannot mount a tmpfs here (${String(mounted.stderr).trim() || mounted.error}): needs root`;

test('ENOSPC: every record is in the file or counted lost; the error is emitted', { skip }, async () => {
  try {
    const file = join(mnt, 'app.blog');
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(512 * 1024)); // half of the disk, freed later
    const errors: string[] = [];
    const log = createLogger({ dest: file });
    log.on('error', (e) => errors.push(e.code ?? '?'));
    const N = 200000;
    for (let i = 0; i < N; i++) log.info('record %d of %s', i, 'a fairly long string argument');
    log.flush();
    const s = log.stats();
    assert.ok(s.lost > 0, 'the disk filled up');
    assert.ok(s.writeErrors > 0);
    assert.equal(s.lastError, 'ENOSPC');
    assert.equal(s.dropped, 0);
    await new Promise((r) => setImmediate(r));
    assert.ok(errors.length > 0 && errors.every((c) => c === 'ENOSPC'), errors.join());
    const { events: before } = decodeFile(file);
    assert.equal(before.length + s.lost, N, `${before.length} in the file + ${s.lost} lost`);
    // space is freed: the next write carries the loss count into the log
    unlinkSync(filler);
    log.info('after %d', 1);
    log.close();
    const { events, stats } = decodeFile(file);
    assert.equal(stats.lost, s.lost, 'the log reports the loss');
    assert.equal(events.length - 1 + s.lost, N);
    assert.equal(events[events.length - 1]!.msg, 'after 1');
    const seq = events.slice(0, -1).map((e) => e.args[0] as number);
    for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!);
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});
