/** A stand-in logger with binlog's method names; the pass only looks at the calls. */
const noop = () => {};
export const log = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };
