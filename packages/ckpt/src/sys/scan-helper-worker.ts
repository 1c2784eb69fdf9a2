/**
 * The scan helper's thread (scan-helper.ts): waits on the shared control word, walks the posted range
 * with PAGEMAP_SCAN (pagemap-scan.ts scanOnce, its own koffi and buffers), writes the regions and the
 * result into the shared buffers, and marks the walk DONE. Runs until QUIT.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PAGE_REGION_SIZE, PM_SCAN_ARG_SIZE } from './constants.js';
import { KernelUnsupportedError, SysError } from './errors.js';
import { libc } from './libc.js';
import { scanOnce } from './pagemap-scan.js';
import { HELPER_STATE, type HelperShared } from './scan-helper.js';

const TWO32 = 4294967296;
const VEC = 4096;

const shared = workerData as HelperShared;
const control = new Int32Array(shared.control);
const request = new Float64Array(shared.request);
const result = new Float64Array(shared.result);
const regions = new Float64Array(shared.regions);
const arg = new Uint32Array(PM_SCAN_ARG_SIZE / 4);
const vec = new Uint32Array((VEC * PAGE_REGION_SIZE) / 4);
const vecAddr = libc().address(vec);

/** Walk the posted range into `regions`; returns [count, resumeAt]. */
function walk(): [number, number] {
  const [fd, pid, start, end, flags, inverted, mask, anyof, ret] = request as unknown as number[];
  const o = { flags, categoryInverted: inverted, categoryMask: mask, anyofMask: anyof, returnMask: ret };
  let count = 0;
  let from = start!;
  for (;;) {
    const room = Math.min(VEC, shared.room - count);
    if (room === 0) return [count, from];
    const { regions: r, walkEnd } = scanOnce(fd!, arg, vecAddr, room, from, end!, o, pid!);
    let lastEnd = from;
    for (let i = 0; i < r; i++) {
      const k = i * 6;
      const j = (count + i) * 3;
      regions[j] = vec[k]! + vec[k + 1]! * TWO32;
      regions[j + 1] = lastEnd = vec[k + 2]! + vec[k + 3]! * TWO32;
      regions[j + 2] = vec[k + 4]!;
    }
    count += r;
    if (r < room) return [count, end!];
    from = Math.max(walkEnd, lastEnd);
    if (from >= end!) return [count, end!];
    if (Atomics.load(control, 0) === HELPER_STATE.QUIT) return [count, from];
  }
}

parentPort?.postMessage('ready');
for (;;) {
  // IDLE, or DONE until the caller took the result: sleep on whichever it is
  let state = Atomics.load(control, 0);
  while (state === HELPER_STATE.IDLE || state === HELPER_STATE.DONE) {
    Atomics.wait(control, 0, state);
    state = Atomics.load(control, 0);
  }
  if (state === HELPER_STATE.QUIT) break;
  result.fill(0);
  try {
    const [count, resumeAt] = walk();
    result[0] = count;
    result[1] = resumeAt;
  } catch (e) {
    result[2] = e instanceof SysError ? e.errno : 5; // EIO
    result[3] = e instanceof KernelUnsupportedError ? 1 : 0;
  }
  Atomics.store(control, 0, HELPER_STATE.DONE);
  Atomics.notify(control, 0);
}
