/**
 * The logging interface dump/ writes to: printf-style formats (`%d %s %x %j`), at most six arguments,
 * never throwing. binlog's Logger satisfies it; `silentLogger` drops everything.
 *
 * @example
 * log.info('pre-dump of %d: %d VMAs', pid, vmas.length);
 */
export interface Logger {
  trace(format: string, ...args: unknown[]): void;
  debug(format: string, ...args: unknown[]): void;
  info(format: string, ...args: unknown[]): void;
  warn(format: string, ...args: unknown[]): void;
  error(format: string, ...args: unknown[]): void;
  fatal(format: string, ...args: unknown[]): void;
}

const drop = () => {};

/** A Logger that drops everything. */
export const silentLogger: Logger = {
  trace: drop,
  debug: drop,
  info: drop,
  warn: drop,
  error: drop,
  fatal: drop,
};
