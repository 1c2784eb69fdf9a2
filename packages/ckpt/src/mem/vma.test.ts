import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMaps } from '../proc/index.js';
import { planVmas } from './vma.js';

const MAPS = `55d000000000-55d000001000 r--p 00000000 fd:01 1234 /usr/bin/app
55d000001000-55d000002000 rw-p 00001000 fd:01 1234 /usr/bin/app
55d000100000-55d000200000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000110000 rw-s 00000000 00:01 77 /dev/zero (deleted)
7f0000110000-7f0000120000 rw-s 00000000 00:01 78 /memfd:buf (deleted)
7f0000120000-7f0000130000 r--s 00000000 fd:01 99 /var/lib/data.db
7f0000130000-7f0000140000 rw-p 00000000 00:10 5 /anon_hugepage (deleted)
7f0000140000-7f0000150000 rw-p 00000000 00:00 0 [anon:arena]
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7ffd00100000-7ffd00104000 r--p 00000000 00:00 0 [vvar]
7ffd00104000-7ffd00106000 r--p 00000000 00:00 0 [vvar_vclock]
7ffd00106000-7ffd00108000 r-xp 00000000 00:00 0 [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
`;

test('planVmas sorts VMAs as a read-mode pre-dump must', () => {
  const plan = planVmas(parseMaps(MAPS));
  const kinds = plan.dump.map((d) => `${d.kind}:${d.vma.path || 'anon'}`);
  assert.deepEqual(kinds, [
    'file:/usr/bin/app',
    'file:/usr/bin/app',
    'anon:[heap]',
    'anon:anon',
    'anon:[anon:arena]',
    'anon:[stack]',
    'anon:[vdso]',
  ]);
  assert.deepEqual(
    plan.deferred.map((d) => `${d.reason}:${d.vma.path || 'anon'}`),
    [
      'no-prot-read:anon',
      'anon-shared:/dev/zero (deleted)',
      'anon-shared:/memfd:buf (deleted)',
      'hugetlb:/anon_hugepage (deleted)',
    ],
  );
  assert.deepEqual(
    plan.skipped.map((s) => `${s.reason}:${s.vma.path}`),
    ['file-shared:/var/lib/data.db', 'vvar:[vvar]', 'vvar:[vvar_vclock]'],
  );
});

test('a private /dev/zero mapping is anonymous memory', () => {
  const plan = planVmas(parseMaps('7f0000000000-7f0000010000 rw-p 00000000 00:01 12 /dev/zero\n'));
  assert.equal(plan.dump[0]?.kind, 'anon');
});
