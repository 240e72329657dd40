import { type Command, Option } from 'commander';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { SEVERITIES, type Severity } from '#lib/model/finding.ts';
import { type CommandContext, list, type ReadFlags, stateOptions, UsageError } from '../shared.ts';

type FindingsFlags = Omit<ReadFlags, 'account'> & { severity?: Severity; check?: string; account?: string[] };

export function findingsCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(cli.command('findings').description('list the open findings from the state, most severe first'))
    .addOption(new Option('--severity <severity>', 'only this severity').choices([...SEVERITIES]))
    .addOption(new Option('--check <id>', 'only this check').choices([...CHECK_IDS]))
    .option('--account <ids>', 'only these accounts, comma-separated or repeated (default: the only one in the state)', list)
    .addOption(
      new Option('--format <format>', 'output format (asff, ocsf: the stored open findings as Security Hub or OCSF findings)')
        .choices(['table', 'json', 'asff', 'ocsf'])
        .default('table'),
    )
    .action((flags: FindingsFlags) => done(findings(flags, io)));
}

async function findings(flags: FindingsFlags, io: CommandContext['io']): Promise<number> {
  const { renderOpenFindings } = await import('#lib/report/render.ts');
  const { renderAsff, renderOcsf, storedExportItems } = await import('#lib/report/formats.ts');
  const { severityRank } = await import('#lib/model/finding.ts');
  const { accountsOf, hubRegion, readState } = await import('../session.ts');
  const { account, ...rest } = flags;
  return readState(rest, io, async (opened) => {
    const filter = { ...(flags.severity ? { severity: flags.severity } : {}), ...(flags.check ? { checkId: flags.check } : {}) };
    // One Query per account (the open index is per account); merged most severe first, accounts in the order given.
    const found: Awaited<ReturnType<typeof opened.store.openFindings>> = [];
    for (const id of await accountsOf(opened, account)) found.push(...(await opened.store.openFindings(id, filter)));
    found.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
    if (flags.format === 'asff' || flags.format === 'ocsf') {
      const partition = found[0]?.resource.split(':')[1] || 'aws';
      const region = await hubRegion(flags, []);
      if (flags.format === 'ocsf')
        return { json: null, table: () => '', text: renderOcsf(storedExportItems(found), { partition, region, now: new Date() }) };
      if (!region) throw new UsageError("--format asff needs a region for its ProductArn: set AWS_REGION (or the profile's region)");
      return { json: null, table: () => '', text: renderAsff(storedExportItems(found), { partition, region, now: new Date() }) };
    }
    return { json: found, table: () => renderOpenFindings(found, io.columns) };
  });
}
