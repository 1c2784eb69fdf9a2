/**
 * Two network namespaces joined by a veth pair, for tests that need a real link between two "hosts" on
 * one machine (the page server's, the migration's): `a` at 10.x.y.1, `b` at 10.x.y.2.
 *
 * ```
 * NetnsPair.create(tag) -> ip netns add A, B; veth A<->B; addresses; links up   (or the reason it cannot)
 * pair.exec(ns, argv)   -> ['ip', 'netns', 'exec', NAME, ...argv]: run something inside
 * pair.close()          -> both namespaces deleted (the veth goes with them); safe to call twice
 * ```
 *
 * @example
 * const p = NetnsPair.create('mig');
 * if (typeof p === 'string') skip(p); else { spawn(...p.exec('b', ['node', 'ckpt.js', 'receive', ...])); p.close(); }
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function ip(...args: string[]): string | undefined {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return r.status === 0 ? undefined : (r.stderr || r.error?.message || `exit ${r.status}`).trim();
}

export class NetnsPair {
  private closed = false;

  private constructor(
    readonly names: { readonly a: string; readonly b: string },
    readonly ips: { readonly a: string; readonly b: string },
  ) {}

  /**
   * Create the pair; `subnet` (1..254) picks 10.214.<subnet>.0/24. Returns the pair, or why it cannot be
   * made here (no `ip`, no permission): the caller skips with that reason.
   */
  static create(tag: string, subnet: number): NetnsPair | string {
    if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command is missing';
    const t = `${tag}${process.pid % 100000}`;
    const names = { a: `ckpt-a-${t}`, b: `ckpt-b-${t}` };
    const veth = { a: `cka${t}`.slice(0, 15), b: `ckb${t}`.slice(0, 15) };
    const ips = { a: `10.214.${subnet}.1`, b: `10.214.${subnet}.2` };
    const pair = new NetnsPair(names, ips);
    const steps: string[][] = [
      ['netns', 'add', names.a],
      ['netns', 'add', names.b],
      ['link', 'add', veth.a, 'type', 'veth', 'peer', 'name', veth.b],
      ['link', 'set', veth.a, 'netns', names.a],
      ['link', 'set', veth.b, 'netns', names.b],
      ['-n', names.a, 'addr', 'add', `${ips.a}/24`, 'dev', veth.a],
      ['-n', names.b, 'addr', 'add', `${ips.b}/24`, 'dev', veth.b],
      ['-n', names.a, 'link', 'set', veth.a, 'up'],
      ['-n', names.b, 'link', 'set', veth.b, 'up'],
      ['-n', names.a, 'link', 'set', 'lo', 'up'],
      ['-n', names.b, 'link', 'set', 'lo', 'up'],
    ];
    for (const s of steps) {
      const err = ip(...s);
      if (err !== undefined) {
        pair.close();
        return `cannot create network namespaces (ip ${s.join(' ')}: ${err})`;
      }
    }
    return pair;
  }

  /**
   * argv running `argv` in namespace `ns`'s network only (nsenter --net: same mount namespace, and the
   * command execs in place), for processes that ckpt dumps (it refuses foreign mount namespaces).
   */
  enter(ns: 'a' | 'b', argv: readonly string[] = []): string[] {
    return ['nsenter', `--net=/run/netns/${this.names[ns]}`, ...argv];
  }

  /** argv running `argv` inside namespace `ns` (`ip netns exec`: its own mount namespace too). */
  exec(ns: 'a' | 'b', argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.names[ns], ...argv];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    ip('netns', 'del', this.names.a);
    ip('netns', 'del', this.names.b);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The pid, in our pid namespace, of the process that is `nsPid` inside a child pid namespace (a
 * destination restored under `unshare --pid`), or undefined: /proc/PID/status's NSpid line.
 */
export function pidInChildNamespace(nsPid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^NSpid:\s+(\d+)\s+(\d+)\s*$/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'));
      if (m && Number(m[2]) === nsPid && Number(m[1]) !== nsPid) return Number(m[1]);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}
