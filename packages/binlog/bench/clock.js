// Clock sources for record timestamps: on-CPU ns per read of each, and what the coarse clock's helper
// thread costs the process (CPU while it ticks, CPU once idle, RSS).
// usage: node bench/clock.js      (after npm run build)
import { CoarseClock, preciseMicros } from '../dist/runtime/clock.js';
import { processCpu, threadSched } from './cpu.js';

const N = 5_000_000;
const threadCpu = () => threadSched()[0];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const coarse = new CoarseClock();
const reads = {
  'process.hrtime() (precise clock)': () => preciseMicros(),
  'performance.now()': () => performance.now(),
  'Date.now()': () => Date.now(),
  'process.hrtime.bigint()': () => Number(process.hrtime.bigint() & 1n),
  'coarse clock cell (helper ticking)': () => coarse.micros(),
};

// start the helper with a burst and wait until its cell is in use
while (!coarse.ticking) {
  for (let i = 0; i < 1000; i++) coarse.micros();
  await sleep(1);
}

const rows = [];
for (const [name, read] of Object.entries(reads)) {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    let sink = 0;
    const c0 = threadCpu();
    for (let i = 0; i < N; i++) sink += read();
    best = Math.min(best, (threadCpu() - c0) / N);
    if (sink === 0.5) console.log(sink); // keep the reads alive
  }
  rows.push([name, best]);
}

// the helper's cost: CPU of the whole process minus this thread while the helper ticks (kept ticking by
// a read every 0.2 ms), then once it sleeps
async function helperCpuPerSecond(keepTicking, ms) {
  const p0 = processCpu();
  const t0 = threadCpu();
  const w0 = Date.now();
  while (Date.now() - w0 < ms) {
    if (keepTicking) for (let i = 0; i < 100; i++) coarse.micros();
    await sleep(keepTicking ? 0.2 : 50);
  }
  const other = processCpu() - p0 - (threadCpu() - t0);
  return other / 1e6 / ((Date.now() - w0) / 1000);
}
const ticking = await helperCpuPerSecond(true, 2000);
await sleep(500); // 40 idle ticks put it to sleep
const idle = await helperCpuPerSecond(false, 2000);

console.log('| clock read | on-CPU ns/read (best of 3) |');
console.log('|---|---:|');
for (const [name, ns] of rows) console.log(`| ${name} | ${ns.toFixed(1)} |`);
console.log('');
console.log(
  `coarse clock helper: ${ticking.toFixed(1)} ms of CPU per second while it ticks, ${idle.toFixed(1)} ms/s once idle (asleep: ${!coarse.ticking})`,
);
console.log(`process RSS with the helper started: ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
