import { type Command, Option } from 'commander';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { SEVERITIES, type Severity } from '#lib/model/finding.ts';
import { type CommandContext, type ReadFlags, stateOptions, UsageError } from '../shared.ts';

export function findingsCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(cli.command('findings').description('list the open findings from the state, most severe first'))
    .addOption(new Option('--severity <severity>', 'only this severity').choices([...SEVERITIES]))
    .addOption(new Option('--check <id>', 'only this check').choices([...CHECK_IDS]))
    .option('--account <id>', 'the account (default: the only one in the state)')
    .addOption(
      new Option('--format <format>', 'output format (asff, ocsf: the stored open findings as Security Hub or OCSF findings)')
        .choices(['table', 'json', 'asff', 'ocsf'])
        .default('table'),
    )
    .action((flags: ReadFlags & { severity?: Severity; check?: string }) => done(findings(flags, io)));
}

async function findings(flags: ReadFlags & { severity?: Severity; check?: string }, io: CommandContext['io']): Promise<number> {
  const { renderOpenFindings } = await import('#lib/report/render.ts');
  const { renderAsff, renderOcsf, storedExportItems } = await import('#lib/report/formats.ts');
  const { accountOf, hubRegion, readState } = await import('../session.ts');
  return readState(flags, io, async (opened) => {
    const found = await opened.store.openFindings(await accountOf(opened, flags), {
      ...(flags.severity ? { severity: flags.severity } : {}),
      ...(flags.check ? { checkId: flags.check } : {}),
    });
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
