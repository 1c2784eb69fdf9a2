'use strict';
const { log } = require('../log.cjs');

log.error('legacy %d of %d', 1, 2);
module.exports = { done: true };
