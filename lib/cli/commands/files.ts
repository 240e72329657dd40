import type { Command } from 'commander';
import type { CommandContext } from '../shared.ts';

export function filesCommand(cli: Command, { io, done }: CommandContext): void {
  cli
    .command('files')
    .description('list the files --from DIR reads and the AWS CLI commands that produce them')
    .action(() =>
      done(
        import('#lib/inventory/registry.ts').then(({ OFFLINE_FILES }) => {
          for (const f of OFFLINE_FILES) io.stdout(`${f.file}\n    ${f.command}\n    feeds: ${f.feeds}\n`);
          return 0;
        }),
      ),
    );
}
