import { type Logger, log } from './log.js';

export class Worker {
  private readonly log: Logger;

  constructor(readonly name: string) {
    this.log = log.child({ worker: name });
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) this.log.trace('step %i of %u', i, steps);
    this.log.info('worker %s finished after %d steps (mask 0x%x)', this.name, steps, 255);
  }
}
