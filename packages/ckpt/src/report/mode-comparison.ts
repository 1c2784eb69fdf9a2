/**
 * The figures of a read-vs-splice run arranged for comparison: one group per target size and scenario
 * (static before churn, small before large), the value of each metric per mode and group (the median
 * when a group was measured more than once), and the splice ÷ read ratios.
 *
 * @example
 * const c = new ModeComparison(run.modes);
 * c.value('stoppedMs', 'splice', c.groups[0]); // 186.2
 * c.ratioRange('stoppedMs');                   // { min: 371, max: 826, groups: 4 }
 */
import type { ModeResult, PageMode, Scenario } from './schema.js';
import { formatBytes } from './units.js';

/** The figures of a mode measurement that can be compared. */
export type ModeMetric =
  | 'stoppedMs'
  | 'totalMs'
  | 'fds'
  | 'peakPipeBytes'
  | 'peakRssBytes'
  | 'memAvailableDropBytes';

/** One target size and scenario. */
export interface ModeGroup {
  scenario: Scenario;
  sizeBytes: number;
  /** Two lines for a chart axis, e.g. `['1 GiB', 'static']`. */
  label: string[];
}

/** The modes, in the order they are drawn. */
export const MODES: readonly PageMode[] = ['read', 'splice'];
const SCENARIOS: readonly Scenario[] = ['static', 'churn'];

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Mode measurements grouped by size and scenario.
 *
 * @example
 * new ModeComparison(run.modes ?? []).groups.map((g) => g.label.join(' ')); // ['1 GiB static', ...]
 */
export class ModeComparison {
  readonly groups: readonly ModeGroup[];
  /** Some mode, size and scenario was measured more than once. */
  readonly repeated: boolean;

  constructor(private readonly modes: readonly ModeResult[]) {
    const seen = new Map<string, ModeGroup>();
    for (const m of modes) {
      const key = `${m.scenario}|${m.sizeBytes}`;
      if (!seen.has(key)) {
        seen.set(key, {
          scenario: m.scenario,
          sizeBytes: m.sizeBytes,
          label: [formatBytes(m.sizeBytes), m.scenario],
        });
      }
    }
    this.groups = [...seen.values()].sort(
      (a, b) => SCENARIOS.indexOf(a.scenario) - SCENARIOS.indexOf(b.scenario) || a.sizeBytes - b.sizeBytes,
    );
    this.repeated = this.groups.some((g) => MODES.some((mode) => this.pick(mode, g).length > 1));
  }

  private pick(mode: PageMode, g: ModeGroup): ModeResult[] {
    return this.modes.filter(
      (m) => m.mode === mode && m.scenario === g.scenario && m.sizeBytes === g.sizeBytes,
    );
  }

  /** The metric for one mode and group (median of repeats), or undefined when that mode was not measured. */
  value(metric: ModeMetric, mode: PageMode, g: ModeGroup): number | undefined {
    return median(this.pick(mode, g).map((m) => m[metric]));
  }

  /** splice ÷ read for a group; undefined when a mode is missing or read is 0. */
  ratio(metric: ModeMetric, g: ModeGroup): number | undefined {
    const r = this.value(metric, 'read', g);
    const s = this.value(metric, 'splice', g);
    return r === undefined || s === undefined || r === 0 ? undefined : s / r;
  }

  /** The smallest and largest splice ÷ read over the groups that have one. */
  ratioRange(metric: ModeMetric): { min: number; max: number; groups: number } | undefined {
    const rs = this.groups.map((g) => this.ratio(metric, g)).filter((r): r is number => r !== undefined);
    if (rs.length === 0) return undefined;
    return { min: Math.min(...rs), max: Math.max(...rs), groups: rs.length };
  }
}
