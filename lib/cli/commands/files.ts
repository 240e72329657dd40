import type { Command } from 'commander';
import type { CommandContext, Io } from '../shared.ts';

export function filesCommand(cli: Command, { io, done }: CommandContext): void {
  cli
    .command('files')
    .description('list the files --from DIR reads and the AWS CLI commands that produce them (--org: those of run --org --from DIR)')
    .option('--org', 'the organization export: the Organizations listings, and one account export per account')
    .action((flags: { org?: boolean }) => done(flags.org ? organizationFiles(io) : accountFiles(io)));
}

async function accountFiles(io: Io): Promise<number> {
  const { OFFLINE_FILES } = await import('#lib/inventory/registry.ts');
  for (const f of OFFLINE_FILES) io.stdout(`${f.file}\n    ${f.command}\n    feeds: ${f.feeds}\n`);
  return 0;
}

async function organizationFiles(io: Io): Promise<number> {
  const { ORGANIZATION_FILES } = await import('#lib/organization/offline.ts');
  io.stdout(
    'Run with the credentials of the management account or a delegated administrator; each account folder with its member role.\n\n',
  );
  for (const f of ORGANIZATION_FILES) io.stdout(`${f.file}\n    ${f.command}\n    feeds: ${f.feeds}\n`);
  io.stdout('\nEach accounts/<account-id>/ folder holds the files `account-auditor files` lists.\n');
  return 0;
}
