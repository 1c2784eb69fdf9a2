/**
 * A progress bar on stderr, only when stderr is a terminal (cli-progress); a no-op otherwise.
 *
 * @example
 * using bar = ProgressBar.open('pre-dump', totalPages);
 * bar.update(done);
 */
import cliProgress from 'cli-progress';

export class ProgressBar {
  private bar: cliProgress.SingleBar | null;

  private constructor(bar: cliProgress.SingleBar | null) {
    this.bar = bar;
  }

  /** A bar counting pages (shown in MiB) up to `totalPages`; inactive unless stderr is a TTY. */
  static open(label: string, totalPages: number, enabled = process.stderr.isTTY === true): ProgressBar {
    if (!enabled || totalPages <= 0) return new ProgressBar(null);
    const options: cliProgress.Options & { throttleTime: number } = {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {mib}/{totalMib} MiB | {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      synchronousUpdate: true,
      throttleTime: 100,
    };
    const bar = new cliProgress.SingleBar(options, cliProgress.Presets.shades_classic);
    const mib = (p: number) => ((p * 4096) / 2 ** 20).toFixed(0);
    bar.start(totalPages, 0, { mib: '0', totalMib: mib(totalPages) });
    const b = new ProgressBar(bar);
    b.mib = mib;
    return b;
  }

  private mib: (p: number) => string = String;

  update(done: number): void {
    this.bar?.update(done, { mib: this.mib(done) });
  }

  /** Stop and erase the bar (safe to call twice). */
  close(): void {
    this.bar?.stop();
    this.bar = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
