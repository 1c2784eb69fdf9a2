#!/usr/bin/env node
/**
 * The fault campaign (src/testing/faults/campaign.ts): SIGKILL/SIGINT/SIGTERM of `ckpt pre-dump` and `ckpt dump --leave-running` at
 * random moments of each phase against real targets; prints one line per trial and the per-phase table.
 *
 *   npm run faults -w ckpt -- [--trials 300] [--seed 1] [--targets injectee,redis,python] [--ckpt bin/ckpt.js]
 *                             [--phases attach,injection,read,collect,freeze,write,dump]
 *
 * --ckpt runs another build of ckpt (e.g. an older one) against the same trials: same seed, same draws.
 * Exit status 1 when a target was harmed, an image set was wrong, SIGINT/SIGTERM left something in a
 * target, or something was still left after `ckpt track --stop`.
 */
import { parseArgs } from 'node:util';
import { formatReport, PHASES, runCampaign } from '../dist/testing/faults/campaign.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    targets: { type: 'string', default: 'injectee,redis,python' },
    ckpt: { type: 'string' },
    phases: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const unknown = values.phases?.split(',').filter((p) => !PHASES.includes(p)) ?? [];
if (unknown.length > 0) {
  console.error(`faults: no phase ${unknown.join(', ')} (the phases: ${PHASES.join(', ')})`);
  process.exit(2);
}
const report = await runCampaign({
  trials: Number(values.trials),
  seed: Number(values.seed),
  targets: values.targets.split(','),
  phases: values.phases?.split(','),
  ckptBin: values.ckpt,
  log: values.quiet ? undefined : (line) => console.log(line),
});
console.log(formatReport(report));
const t = report.totals;
process.exitCode = t.harmed + t.wrongImages + t.leftByCatchable + t.leftAfterStop > 0 ? 1 : 0;
