// The lines of a ckpt binary log (binlog decode) that tell where a frozen window went: the freeze, the
// window's phases (dump/phase-timer.ts), the thaw, pre-copy passes and finish()'s steps. Used by the dump
// and migrate benchmarks' --log-dir.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const binlog = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'binlog', 'bin', 'binlog.js');

/** The phase lines of binary log `file` (or one line saying why it could not be decoded). */
export function phaseLines(file) {
  const r = spawnSync(process.execPath, [binlog, 'decode', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return [`(binlog decode ${file}: ${r.stderr.trim()})`];
  return r.stdout
    .split('\n')
    .filter((l) => /froze |frozen phase|before the freeze:|thawed|pre-copy pass|finish: /.test(l));
}
