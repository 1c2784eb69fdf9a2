export interface Logger {
  info(format: string | number, ...args: unknown[]): void;
  warn(format: string | number, ...args: unknown[]): void;
  error(format: string | number, ...args: unknown[]): void;
}

export declare const log: Logger;
