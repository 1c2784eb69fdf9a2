/**
 * uffd-wp splits transparent huge pages on write; release() must give them back (MADV_COLLAPSE from
 * outside). The fixture writes one byte per 2 MiB block every 50 ms, so every huge page is written (and
 * split) soon after tracking starts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readMaps } from '../../proc/index.js';
import { Fixture } from '../../testing/index.js';
import { trackableRanges, UffdWpTracker, uffdWpUnsupportedReason } from './index.js';

function thpUnavailable(): string | false {
  try {
    const mode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
    if (mode === 'never') return 'transparent huge pages are disabled (enabled = never)';
  } catch {
    return 'no transparent huge pages in this kernel';
  }
  return uffdWpUnsupportedReason() ?? false;
}

/** AnonHugePages of `pid`, in kB. */
function anonHugeKb(pid: number): number {
  const m = /^AnonHugePages:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('release() gives back the huge pages write-protection split', { skip: thpUnavailable() }, async (t) => {
  await using f = await Fixture.start('huge', ['64', '50']);
  const before = anonHugeKb(f.pid);
  if (before < 0.95 * 64 * 1024) {
    t.skip(`the kernel gave the fixture only ${before} kB of huge pages (no free huge pages?)`);
    return;
  }
  const tr = new UffdWpTracker(f.pid, { persist: true });
  try {
    tr.start(trackableRanges(readMaps(f.pid)));
    let split = before;
    for (let i = 0; i < 100 && split > before / 2; i++) {
      await sleep(50);
      split = anonHugeKb(f.pid);
    }
    t.diagnostic(`AnonHugePages: ${before} kB before tracking, ${split} kB while tracked`);
    assert.ok(split < before / 2, 'tracking splits them (else this test shows nothing)');
  } finally {
    tr.release();
  }
  const after = anonHugeKb(f.pid);
  t.diagnostic(`after release(): ${after} kB (${tr.collapsed?.bytes ?? 0} bytes collapsed)`);
  assert.ok(after >= 0.95 * before, `AnonHugePages ${after} kB after release, ${before} kB before`);
});
