import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NullSink } from '../xfer/index.js';
import { readSentPages, SENT_PAGES_FILE, SentPagesSink, writeSentPages } from './sent-pages.js';

const root = mkdtempSync(join(tmpdir(), 'ckpt-sent-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const P = 4096;

test('the sink records data and holes per process, merged, and the file round-trips', async () => {
  const sink = new SentPagesSink(new NullSink());
  await sink.begin(10);
  sink.addHole(0x10000, 2);
  sink.addPages(0x12000, 1, new Uint8Array(P)); // adjacent to the hole: one range
  sink.addPages(0x20000, 3, new Uint8Array(3 * P));
  await sink.end();
  await sink.begin(11);
  await sink.end();
  await sink.close();
  assert.deepEqual(sink.sent.get(10), [
    { start: 0x10000, end: 0x13000 },
    { start: 0x20000, end: 0x23000 },
  ]);
  assert.equal(sink.bytesWritten, 4 * P);
  writeSentPages(root, sink.sent);
  const doc = JSON.parse(readFileSync(join(root, SENT_PAGES_FILE), 'utf8'));
  assert.deepEqual(doc.tasks['10'], [0x10, 3, 0xd, 3]); // gap, length in pages
  const back = readSentPages(root);
  assert.deepEqual(back.get(10), sink.sent.get(10));
  assert.deepEqual(back.get(11), []);
});

test('a missing, damaged or foreign file covers nothing', () => {
  const d = mkdtempSync(join(root, 'bad-'));
  assert.equal(readSentPages(d).size, 0);
  for (const text of [
    'not json',
    '{"format":"other","version":1,"tasks":{}}',
    '{"format":"ckpt-sent","version":2,"tasks":{}}',
  ]) {
    writeFileSync(join(d, SENT_PAGES_FILE), text);
    assert.equal(readSentPages(d).size, 0, text);
  }
  // a malformed process entry is dropped, the others stay
  writeFileSync(
    join(d, SENT_PAGES_FILE),
    '{"format":"ckpt-sent","version":1,"tasks":{"1":[1,0],"2":[1],"3":[-1,2],"4":[1,1.5],"5":[2,2]}}',
  );
  assert.deepEqual([...readSentPages(d).keys()], [5]);
  assert.deepEqual(readSentPages(d).get(5), [{ start: 2 * P, end: 4 * P }]);
});
