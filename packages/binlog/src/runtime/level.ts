/**
 * Levels: pino's names and numbers, plus a logger's custom levels (pino's `customLevels`,
 * `useOnlyCustomLevels`). A record stores a standard level as its index (1..6: trace..fatal) in the
 * event tag; any other number as LV_CUSTOM plus the number (codec/record.ts).
 *
 * @example
 * levelNumber('warn'); // 40
 * levelNumber(35); // 35 (any number is a threshold)
 * const t = LevelTable.create({ audit: 35 }, false);
 * t.number('audit'); // 35
 * t.label(35); // 'audit'
 */
import { LV_CUSTOM } from '../codec/index.js';
import { LoggerError } from './errors.js';

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LevelName = keyof typeof LEVELS;
/** A level option: a name, 'silent' (nothing is logged) or a pino level number. */
export type LevelOption = LevelName | 'silent' | number;

/** The threshold number for a level option; throws LoggerError('BAD_OPTION') on anything else. */
export function levelNumber(level: LevelOption): number {
  return STANDARD.number(level);
}

/** The level index an event tag holds for pino number `n` (1..6), or LV_CUSTOM. */
export function levelIndex(n: number): number {
  return n >= 10 && n <= 60 && n % 10 === 0 ? n / 10 : LV_CUSTOM;
}

/** The level names and numbers of one logger family (pino's `logger.levels`). */
export class LevelTable {
  private constructor(
    /** name -> number, 'silent' included (Infinity) */
    readonly values: Readonly<Record<string, number>>,
    /** number -> name */
    readonly labels: Readonly<Record<number, string>>,
  ) {}

  /**
   * The table of pino's levels plus `custom` (or `custom` alone with `onlyCustom`). A custom name must
   * not shadow a standard level with another number, and numbers must be finite integers.
   */
  static create(custom: Record<string, number> | undefined, onlyCustom: boolean): LevelTable {
    if (custom === undefined) {
      if (onlyCustom) throw new LoggerError('BAD_OPTION', 'useOnlyCustomLevels needs customLevels');
      return STANDARD;
    }
    if (typeof custom !== 'object' || custom === null || Array.isArray(custom))
      throw new LoggerError('BAD_OPTION', 'customLevels must be an object of name: number');
    const values: Record<string, number> = onlyCustom ? {} : { ...LEVELS };
    for (const [name, n] of Object.entries(custom)) {
      if (!Number.isInteger(n) || n < 0) {
        throw new LoggerError(
          'BAD_OPTION',
          `custom level ${name} must be a non-negative integer, got ${String(n)}`,
        );
      }
      if (name === 'silent' || (Object.hasOwn(LEVELS, name) && LEVELS[name as LevelName] !== n)) {
        throw new LoggerError('BAD_OPTION', `custom level ${name} would redefine a standard level`);
      }
      if (!/^[A-Za-z_$][\w$]*$/.test(name) || name in Object.prototype) {
        throw new LoggerError('BAD_OPTION', `custom level name ${JSON.stringify(name)} is not a method name`);
      }
      values[name] = n;
    }
    return LevelTable.of(values);
  }

  private static of(values: Record<string, number>): LevelTable {
    const labels: Record<number, string> = {};
    for (const [name, n] of Object.entries(values)) labels[n] = name;
    return new LevelTable({ ...values, silent: Number.POSITIVE_INFINITY }, labels);
  }

  /** The threshold of a level option (a name of this table, 'silent' or a number); BAD_OPTION otherwise. */
  number(level: unknown): number {
    if (typeof level === 'number' && Number.isFinite(level)) return level;
    if (typeof level === 'string' && Object.hasOwn(this.values, level)) return this.values[level]!;
    throw new LoggerError(
      'BAD_OPTION',
      `level must be one of ${Object.keys(this.values).join('|')} or a number, got ${String(level)}`,
    );
  }

  /** The name of threshold `n` ('silent' for Infinity; the number as text when no level has it). */
  label(n: number): string {
    if (n === Number.POSITIVE_INFINITY) return 'silent';
    return this.labels[n] ?? String(n);
  }

  /** Custom level names (not pino's standard ones) with their numbers. */
  customs(): [string, number][] {
    return Object.entries(this.values).filter(([name]) => name !== 'silent' && !Object.hasOwn(LEVELS, name));
  }

  /** True when the standard level `name` is usable (not under useOnlyCustomLevels without it). */
  has(name: string): boolean {
    return Object.hasOwn(this.values, name);
  }
}

const STANDARD = LevelTable.create({}, false);
