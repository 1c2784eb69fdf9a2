/**
 * Levels: pino's names and numbers. The record stores the level index (1..6).
 *
 * @example
 * levelNumber('warn'); // 40
 * levelNumber(35); // 35 (any number is a threshold)
 */
import { LoggerError } from './errors.js';

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LevelName = keyof typeof LEVELS;
/** A level option: a name, 'silent' (nothing is logged) or a pino level number. */
export type LevelOption = LevelName | 'silent' | number;

/** The threshold number for a level option; throws LoggerError('BAD_OPTION') on anything else. */
export function levelNumber(level: LevelOption): number {
  if (typeof level === 'number' && Number.isFinite(level)) return level;
  if (level === 'silent') return Number.POSITIVE_INFINITY;
  if (typeof level === 'string' && Object.hasOwn(LEVELS, level)) return LEVELS[level as LevelName];
  throw new LoggerError(
    'BAD_OPTION',
    `level must be trace|debug|info|warn|error|fatal|silent or a number, got ${String(level)}`,
  );
}
