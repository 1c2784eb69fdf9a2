'use strict';
const noop = () => {};
exports.log = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };
