type LogMethod = (format: string | number, ...args: unknown[]) => void;

export interface Logger {
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  child(fields: Record<string, unknown>): Logger;
}

function make(): Logger {
  const m: LogMethod = () => {};
  return { trace: m, debug: m, info: m, warn: m, error: m, fatal: m, child: () => make() };
}

export const log: Logger = make();
