import { type Command, Option } from 'commander';
import { type CommandContext, integer, type Io, type ReadFlags, stateOptions, UsageError } from '../shared.ts';

export function runsCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(cli.command('runs').description('list the latest runs, newest first'))
    .option('--limit <n>', 'how many (default 10)', integer, 10)
    .option('--account <id>', 'the account (default: the only one in the state)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: ReadFlags & { limit: number }) => done(runs(flags, io)));
}

async function runs(flags: ReadFlags & { limit: number }, io: Io): Promise<number> {
  const { renderRuns } = await import('#lib/report/render.ts');
  const { accountOf, readState } = await import('../session.ts');
  return readState(flags, io, async (opened) => {
    if (flags.limit < 1) throw new UsageError('--limit must be at least 1');
    const latest = await opened.store.latestRuns(await accountOf(opened, flags), flags.limit);
    return { json: latest, table: () => renderRuns(latest, io.columns) };
  });
}
