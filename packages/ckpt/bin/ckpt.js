#!/usr/bin/env node
import { HeapHold } from '../dist/dump/heap-hold.js';

// a chain of pre-dumps in this process: V8's young generation held from the start, before the modules
// load (dump/heap-hold.ts: the peak RSS stays the first iteration's); the process's whole life
if (process.argv.some((a) => a === '--iterations' || a.startsWith('--iterations='))) HeapHold.start();
const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2));
