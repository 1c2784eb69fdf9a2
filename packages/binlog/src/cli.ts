/** `binlog` command line. */
export function main(argv: string[]): void {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write('usage: binlog decode|tail|stats|precompile ...\n');
    return;
  }
  process.stderr.write(`binlog: unknown command '${argv[0]}'\n`);
  process.exitCode = 2;
}
