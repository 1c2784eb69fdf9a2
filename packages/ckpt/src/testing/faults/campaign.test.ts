/**
 * The fault campaign, reduced (`npm run faults -w ckpt` runs the full one): 20 trials against the C
 * injectee, ckpt (pre-dump, dump --leave-running) killed by SIGKILL/SIGINT/SIGTERM at random moments of
 * each phase. No target may be
 * harmed, no complete-marked image set may differ from the target's memory, SIGINT/SIGTERM leave nothing
 * in the target, and `ckpt track --stop` removes whatever a SIGKILL left.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, runCampaign } from './campaign.js';

test('20 random kills of ckpt pre-dump and ckpt dump --leave-running: no target harmed, no wrong images', {
  timeout: 900_000,
}, async () => {
  const r = await runCampaign({ trials: 20, seed: 20261206, targets: ['injectee'] });
  const table = formatReport(r);
  assert.equal(r.trials.length, 20, table);
  assert.ok(
    r.trials.some((t) => t.hit),
    `no trial killed a running ckpt: the aim is off\n${table}`,
  );
  assert.equal(r.totals.harmed, 0, table);
  assert.equal(r.totals.wrongImages, 0, table);
  assert.equal(r.totals.leftByCatchable, 0, table);
  assert.equal(r.totals.leftAfterStop, 0, table);
});
