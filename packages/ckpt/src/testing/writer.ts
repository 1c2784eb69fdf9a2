/**
 * The writer fixture (test/fixtures/writer.c: a region whose pages are written at a steady rate by
 * several threads) driven through its command fifo: each command line is answered by "OK <seq> <result>"
 * in the fixture's log.
 *
 * @example
 * const w = await Writer.start(scratch, 16, 2, 100, true); // 16 MiB, 2 threads, 100 pages/s, populated
 * const a = await w.addr('m 32'); // mmap 32 new pages
 * await w.cmd('w 300'); // write 300 random pages of the region
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fixture } from './fixture.js';
import type { Scratch } from './scratch.js';

export class Writer {
  private seq = 0;

  private constructor(
    readonly f: Fixture,
    private readonly fifo: string,
  ) {}

  /**
   * Start `writer MIB THREADS FIFO RATE POPULATE` with its fifo in `scratch`'s directory (killed after the
   * file's tests). `rate`: pages written per second in total; `populate`: every page filled (else every
   * other page).
   */
  static async start(
    scratch: Scratch,
    mib: number,
    threads: number,
    rate: number,
    populate: boolean,
  ): Promise<Writer> {
    const fifo = join(scratch.root, `fifo-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    spawnSync('mkfifo', [fifo]);
    const f = await scratch.start('writer', [
      String(mib),
      String(threads),
      fifo,
      String(rate),
      populate ? '1' : '0',
    ]);
    return new Writer(f, fifo);
  }

  get pid(): number {
    return this.f.pid;
  }

  /** Send one command, wait (10 s at most) for its OK line, return the result text. */
  async cmd(line: string): Promise<string> {
    const want = `OK ${++this.seq} `;
    appendFileSync(this.fifo, `${line}\n`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const hit = readFileSync(this.f.logFile, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(want));
      if (hit) return hit.slice(want.length);
      if (Date.now() > deadline) throw new Error(`writer: no answer to ${line}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Send a command that answers addr=0x...; return the address. */
  async addr(line: string): Promise<number> {
    const m = /addr=(0x[0-9a-f]+)/.exec(await this.cmd(line));
    assert.ok(m, `no address from ${line}`);
    return Number(m[1]);
  }
}
