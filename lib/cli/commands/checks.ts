import type { Command } from 'commander';
import { CHECKS } from '#lib/checks/catalogue.ts';
import type { CommandContext } from '../shared.ts';

export function checksCommand(cli: Command, { io, done }: CommandContext): void {
  cli
    .command('checks')
    .description('list the checks with their severity and references')
    .action(() => {
      for (const c of CHECKS) io.stdout(`${c.id} [${c.severity}]  ${c.title}\n`);
      done(Promise.resolve(0));
    });
}
