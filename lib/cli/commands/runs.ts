import { type Command, Option } from 'commander';
import { type CommandContext, integer, type Io, type ReadFlags, stateOptions, UsageError } from '../shared.ts';

type RunsFlags = ReadFlags & { limit: number; org?: boolean };

export function runsCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(cli.command('runs').description('list the latest runs, newest first'))
    .option('--limit <n>', 'how many (default 10)', integer, 10)
    .option('--account <id>', 'the account (default: the only one in the state)')
    .option('--org', 'the organization runs instead: accounts complete, incomplete and not audited, the accounts in ERROR, the digest')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: RunsFlags) => done(runs(flags, io)));
}

async function runs(flags: RunsFlags, io: Io): Promise<number> {
  const { renderOrganizationRuns, renderRuns } = await import('#lib/report/render.ts');
  const { accountOf, readState } = await import('../session.ts');
  return readState(flags, io, async (opened) => {
    if (flags.limit < 1) throw new UsageError('--limit must be at least 1');
    if (flags.org) {
      if (flags.account) throw new UsageError('--org lists organization runs, which cover every account: leave out --account');
      const latest = await opened.store.listOrganizationRuns({ limit: flags.limit });
      return { json: latest, table: () => renderOrganizationRuns(latest, io.columns) };
    }
    const latest = await opened.store.latestRuns(await accountOf(opened, flags), flags.limit);
    return { json: latest, table: () => renderRuns(latest, io.columns) };
  });
}
