import { Command } from 'commander';

/** Entry point of the `ckpt` command. Only cli/ reads argv and env and sets the exit status. */
export function main(argv: string[]): void {
  const program = new Command('ckpt')
    .description('Checkpoint the memory of running Linux processes')
    .version('0.1.0');
  program.parse(argv, { from: 'user' });
}
