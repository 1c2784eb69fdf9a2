/**
 * inventory.img: one `inventory_entry` after the single INVENTORY header word. Written last, so its
 * presence marks a complete image set. Also the pid-reuse check a later iteration makes against its
 * parent's `dump_uptime`.
 *
 * @example
 * writeInventory(join(dir, 'inventory.img'), preDumpInventory(PRE_DUMP_MODE.READ));
 * readInventory(join(dir, 'inventory.img')).pre_dump_mode === 2; // true
 */
import { readFileSync } from 'node:fs';
import { fsCall, ImageError } from './errors.js';
import { decodeImageOf, encodeImage, singleEntry } from './image-file.js';
import { MAGIC } from './magics.js';
import { type InventoryEntry, inventoryEntryCodec } from './schema.js';
import { writeFileAtomic } from './temp-file.js';

/** inventory.img bytes for `entry`: `16 31 31 58`, length, message. */
export function encodeInventoryImage(entry: InventoryEntry): Buffer {
  return encodeImage(MAGIC.INVENTORY, [inventoryEntryCodec.encode(entry)]);
}

/** The one inventory_entry of inventory.img bytes. */
export function decodeInventoryImage(bytes: Uint8Array): InventoryEntry {
  return inventoryEntryCodec.decode(singleEntry(decodeImageOf(bytes, MAGIC.INVENTORY), 'inventory'));
}

/** Read and decode an inventory.img file. */
export function readInventory(path: string): InventoryEntry {
  return decodeInventoryImage(fsCall(`read ${path}`, () => readFileSync(path)));
}

/** Write inventory.img atomically (fsync'ed with `sync`: temp-file.ts). */
export function writeInventory(path: string, entry: InventoryEntry, sync = false): void {
  writeFileAtomic(path, encodeInventoryImage(entry), sync);
}

/**
 * µs since boot, as CRIU stores `dump_uptime` (from /proc/uptime, 10 ms resolution).
 *
 * @example
 * dumpUptimeNow() > 0; // true
 */
export function dumpUptimeNow(uptimeText?: string): number {
  const text = uptimeText ?? fsCall('read /proc/uptime', () => readFileSync('/proc/uptime', 'utf8'));
  const m = /^(\d+)\.(\d{1,2})/.exec(text);
  if (!m) throw new ImageError('CORRUPT_IMAGE', `cannot parse /proc/uptime: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1_000_000 + Number(m[2]!.padEnd(2, '0')) * 10_000;
}

/**
 * The inventory a pre-dump writes (CRIU writes no more than this on pre-dump: img_version is left 0).
 *
 * @example
 * preDumpInventory(PRE_DUMP_MODE.READ, dumpUptimeNow());
 */
export function preDumpInventory(preDumpMode: number, dumpUptime: number = dumpUptimeNow()): InventoryEntry {
  return { img_version: 0, dump_uptime: dumpUptime, pre_dump_mode: preDumpMode, plugins_entry: {} };
}

/**
 * Whether a task that started at `startTimeTicks` (field 22 of /proc/pid/stat, clock ticks since boot) is
 * not the task the parent dump saw: it started at or after the parent's `dump_uptime` (µs). Then its
 * memory must be dumped in full, without parent holes.
 *
 * @example
 * isPidReused(500, 4_000_000, 100); // true: started at 5 s, parent dumped at 4 s
 */
export function isPidReused(startTimeTicks: number, parentDumpUptime: number, clockTicks = 100): boolean {
  const dumpTicks = Math.floor((parentDumpUptime / 1_000_000) * clockTicks);
  return startTimeTicks >= dumpTicks;
}
