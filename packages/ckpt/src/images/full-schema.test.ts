import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GPREG_NAMES } from '../ptrace/index.js';
import { type CoreEntry, coreEntryCodec, MTYPE_X86_64, TASK_ALIVE } from './core-schema.js';
import { ImageError } from './errors.js';
import { encodeImage } from './image-file.js';
import { MAGIC } from './magics.js';
import { FD_TYPE, fileEntryCodec, type MmEntry, mmEntryCodec, VMA_STATUS } from './task-schema.js';

const BIG = 0xfedcba9876543210n; // beyond 2^53: a number would lose its low bits
const regs = (v: bigint) =>
  Object.fromEntries(GPREG_NAMES.map((k, i) => [k, v + BigInt(i)])) as unknown as NonNullable<
    CoreEntry['thread_info']
  >['gpregs'];

function core(): CoreEntry {
  return {
    mtype: MTYPE_X86_64,
    thread_info: {
      clear_tid_addr: 0x7f0000001234n,
      gpregs: { ...regs(BIG), mode: 1 },
      fpregs: {
        cwd: 0x37f,
        swd: 0,
        twd: 0,
        fop: 0,
        rip: BIG,
        rdp: 0n,
        mxcsr: 0x1f80,
        mxcsr_mask: 0xffff,
        st_space: new Array(32).fill(0xffffffff),
        xmm_space: new Array(64).fill(7),
        xsave: { xstate_bv: 0xe7n, ymmh_space: new Array(64).fill(1), opmask_reg: new Array(8).fill(BIG) },
      },
    },
    tc: {
      task_state: TASK_ALIVE,
      exit_code: 0,
      personality: 0,
      flags: 0x400000,
      blk_sigset: 0xfffffffffffbfeffn,
      comm: 'fixture',
      rlimits: { rlimits: [{ cur: 2n ** 64n - 1n, max: 2n ** 64n - 1n }] },
      sigactions: [{ sigaction: BIG, flags: 0x14000000n, restorer: BIG + 1n, mask: 2n ** 63n }],
    },
    thread_core: { futex_rla: 0x7f00000abcd0n, futex_rla_len: 24, sched_nice: -5, blk_sigset: BIG },
  };
}

test('core_entry round-trips 64-bit registers, masks and rlimits exactly', () => {
  const c = core();
  const back = coreEntryCodec.decode(coreEntryCodec.encode(c));
  assert.equal(back.thread_info?.gpregs.ip, BIG + 16n);
  assert.equal(back.thread_info?.fpregs.xsave?.opmask_reg?.[7], BIG);
  assert.equal(back.tc?.blk_sigset, 0xfffffffffffbfeffn);
  assert.equal(back.tc?.rlimits?.rlimits[0]?.cur, 2n ** 64n - 1n);
  assert.equal(back.tc?.sigactions?.[0]?.mask, 2n ** 63n);
  assert.equal(back.thread_core?.sched_nice, -5);
  assert.deepEqual(back.thread_info?.fpregs.st_space, c.thread_info?.fpregs.st_space);
});

test('a missing required field is an ImageError, not a silently short image', () => {
  const c = core();
  delete (c.tc as Partial<NonNullable<CoreEntry['tc']>>).comm;
  assert.throws(() => coreEntryCodec.encode(c), ImageError);
});

test('mm_entry keeps sint64 fd -1 and addresses above 2^47', () => {
  const mm: MmEntry = {
    mm_start_code: 0x555555554000n,
    mm_end_code: 0x555555556000n,
    mm_start_data: 0n,
    mm_end_data: 0n,
    mm_start_stack: 0x7ffffffde000n,
    mm_start_brk: 0n,
    mm_brk: 0n,
    mm_arg_start: 0n,
    mm_arg_end: 0n,
    mm_env_start: 0n,
    mm_env_end: 0n,
    exe_file_id: 1,
    mm_saved_auxv: new Array(44).fill(0n),
    vmas: [
      {
        start: 0xffffffffff600000n,
        end: 0xffffffffff601000n,
        pgoff: 0n,
        shmid: 0n,
        prot: 4,
        flags: 0x22,
        status: VMA_STATUS.VSYSCALL | VMA_STATUS.ANON_PRIVATE,
        fd: -1n,
      },
    ],
  };
  const back = mmEntryCodec.decode(mmEntryCodec.encode(mm));
  assert.equal(back.vmas[0]?.start, 0xffffffffff600000n);
  assert.equal(back.vmas[0]?.fd, -1n);
  assert.equal(back.mm_saved_auxv.length, 44);
});

test('crit decodes our core, mm and files images', (t) => {
  if (!existsSync('/usr/bin/crit')) {
    t.skip('crit is not installed (/usr/bin/crit)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-full-schema-'));
  try {
    const files = fileEntryCodec.encode({
      type: FD_TYPE.REG,
      id: 1,
      reg: {
        id: 1,
        flags: 0x8002,
        pos: 37n,
        fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 },
        name: '/x',
        size: 100n,
        mode: 0o100600,
      },
    });
    writeFileSync(join(dir, 'core-1.img'), encodeImage(MAGIC.CORE, [coreEntryCodec.encode(core())]));
    writeFileSync(join(dir, 'files.img'), encodeImage(MAGIC.FILES, [files]));
    for (const name of ['core-1.img', 'files.img']) {
      const r = spawnSync('/usr/bin/crit', ['decode', '-i', join(dir, name)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `crit decode ${name}: ${r.stderr}`);
      if (name === 'core-1.img') {
        // read the number from the text: JSON.parse would round it to a double
        const ip = /"ip": "?(0x[0-9a-f]+|\d+)"?/.exec(r.stdout)?.[1];
        assert.equal(BigInt(ip ?? -1), BIG + 16n);
        assert.equal(JSON.parse(r.stdout).entries[0].tc.comm, 'fixture');
      } else assert.equal(JSON.parse(r.stdout).entries[0].reg.pos, 37);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
