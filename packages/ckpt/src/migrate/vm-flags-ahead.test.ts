/** VmFlagsAhead: the root's VmFlags read on a libuv thread while a migration iterates, for its final dump. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readVmFlags } from '../proc/index.js';
import { Fixture } from '../testing/index.js';
import { VmFlagsAhead } from './vm-flags-ahead.js';

test('VmFlagsAhead: the flags read ahead are smaps VmFlags of the same VMAs; a process gone gives none', async () => {
  const f = await Fixture.start('static', ['4']);
  try {
    const ahead = new VmFlagsAhead(f.pid);
    ahead.refresh();
    ahead.refresh(); // one read in flight at a time
    const got = (await ahead.take()).get(f.pid);
    assert.ok(got, 'flags for the pid');
    const now = readVmFlags(f.pid);
    assert.deepEqual([...got.vmFlags.keys()], [...now.keys()]);
    for (const [start, flags] of now) assert.deepEqual([...got.vmFlags.get(start)!], [...flags]);
    for (const v of got.maps) assert.ok(got.vmFlags.has(v.start), `VmFlags of 0x${v.start.toString(16)}`);
  } finally {
    f.kill();
  }
  const gone = new VmFlagsAhead(f.pid);
  gone.refresh();
  assert.equal((await gone.take()).size, 0);
});
