/**
 * stats-dump: a service image (IMG_SERVICE + STATS) holding one `stats_entry` whose `dump` field has the
 * dump's timings (µs) and page counters.
 *
 * @example
 * writeStats(join(dir, 'stats-dump'), { freezing_time: 10, frozen_time: 20, memdump_time: 5, memwrite_time: 3,
 *   pages_scanned: 100, pages_skipped_parent: 0, pages_written: 100, pages_lazy: 0 });
 */
import { readFileSync } from 'node:fs';
import { fsCall } from './errors.js';
import { decodeImageOf, encodeImage, singleEntry } from './image-file.js';
import { MAGIC } from './magics.js';
import { type DumpStatsEntry, type StatsEntry, statsEntryCodec } from './schema.js';
import { writeFileAtomic } from './temp-file.js';

/** stats-dump bytes: `40 59 10 55 06 33 09 57`, length, message. */
export function encodeStatsImage(entry: StatsEntry): Buffer {
  return encodeImage(MAGIC.STATS, [statsEntryCodec.encode(entry)]);
}

/** The one stats_entry of stats image bytes. */
export function decodeStatsImage(bytes: Uint8Array): StatsEntry {
  return statsEntryCodec.decode(singleEntry(decodeImageOf(bytes, MAGIC.STATS), 'stats'));
}

/** Read and decode a stats-dump file. */
export function readStats(path: string): StatsEntry {
  return decodeStatsImage(fsCall(`read ${path}`, () => readFileSync(path)));
}

/** Write stats-dump atomically. */
export function writeStats(path: string, dump: DumpStatsEntry): void {
  writeFileAtomic(path, encodeStatsImage({ dump }));
}
