import { type Command, Option } from 'commander';
import type { PipelineResult } from '#lib/audit/pipeline.ts';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { SEVERITIES } from '#lib/model/finding.ts';
import type { SecurityHubClient } from '@aws-sdk/client-securityhub';
import {
  type CommandContext,
  DEMO_DIR,
  type Io,
  integer,
  list,
  ORGANIZATION_FLAGS,
  type OrganizationFlags,
  processIo,
  type RunFlags,
  stateOptions,
  UsageError,
} from '../shared.ts';

export function runCommand(cli: Command, { io, done }: CommandContext): void {
  stateOptions(
    cli
      .command('run')
      .description(
        'run the audit: live with the default AWS credential chain, or offline from AWS CLI exports (--from), or on the demo account (--demo); --org: every account of the organization',
      ),
  )
    .option('--region <name>', 'a region to audit for ElastiCache and DAX (repeatable; default: the SDK default region)', list)
    .option('--regions <list>', 'comma-separated regions to audit', list)
    .option('--checks <list>', `comma-separated subset of checks: ${CHECK_IDS.join(', ')}`, list)
    .option('--max-key-age <days>', 'FAIL access keys older than this (default 90)', integer)
    .option('--warn-key-age <days>', 'WARN from this age (default 8/9 of the maximum age: 80 for 90)', integer)
    .option('--key-id-lookups <n>', 'at most this many ListAccessKeys calls to name over-age keys (default 50)', integer)
    .option('--report-wait <seconds>', 'how long to wait for the credential report (default 60)', integer)
    .option('--config <file>', 'a JSON settings file (flags override it)')
    .option('--from <dir>', 'audit AWS CLI exports in DIR instead of live APIs (see `account-auditor files`)')
    .option('--demo', 'audit the bundled demo account (no AWS account needed)')
    .option('--no-store', 'keep no state: nothing is compared with earlier runs')
    .option('--topic <arn>', 'publish the alert to this SNS topic when there is something to say')
    .option('--show-alert', 'print the alert (published or not) after the report')
    .option(
      '--security-hub',
      'after the run is saved, import its FAIL/WARN/ERROR findings and those it resolved into Security Hub (your credentials, the SDK default region)',
    )
    .addOption(
      new Option('--format <format>', 'output format (asff: AWS Security Finding Format; ocsf: OCSF 1.1.0 Compliance Finding)')
        .choices(['table', 'json', 'csv', 'asff', 'ocsf'])
        .default('table'),
    )
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 on a FAIL at or above this severity (none: never; ERROR still exits 2)')
        .choices([...SEVERITIES, 'none'])
        .default('high'),
    )
    .option('--all', 'list every PASS finding in the table')
    .option('--quiet', 'no progress lines on stderr')
    .option('--org', 'audit every account of the organization (live; --from DIR: an organization export; --demo: the demo organization)')
    .option('--accounts <list>', 'with --org: only these account IDs', list)
    .option('--exclude-accounts <list>', 'with --org: never these account IDs', list)
    .option('--ous <list>', 'with --org: only the accounts under these OUs (at any depth)', list)
    .option('--exclude-ous <list>', 'with --org: never the accounts under these OUs', list)
    // The defaults are lib/organization/settings.ts's (test/cli/run-org.test.ts compares): importing
    // it here would load zod for every command's --help.
    .option('--role-name <name>', 'with --org: the member role assumed in each account (default AccountAuditorMemberRole)')
    .option('--external-id <id>', 'with --org: the ExternalId of every AssumeRole into a member role')
    .option(
      '--management-role-arn <arn>',
      'with --org: a role in the management account that lists the accounts and their SCPs (default: your own credentials)',
    )
    .option('--concurrency <n>', 'with --org: accounts audited at once (default 20, 1 to 900)', integer)
    .action((flags: RunFlags & OrganizationFlags) => done(flags.org ? runOrganization(flags, io) : run(flags, io)));
}

/** Loaded only for `run --org`. */
async function runOrganization(flags: RunFlags & OrganizationFlags, io: Io): Promise<number> {
  const { runOrganization: organizationRun } = await import('../organization.ts');
  return organizationRun(flags, io);
}

async function run(flags: RunFlags & OrganizationFlags, io: Io): Promise<number> {
  const orgOnly = ORGANIZATION_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, name]) => name);
  if (orgOnly.length > 0) throw new UsageError(`${orgOnly.join(', ')} only apply with --org`);
  // Imported here, not at the top, so that the other commands and --help never load them.
  const { unsavedRun } = await import('#lib/audit/pipeline.ts');
  const { exitCodeFor } = await import('#lib/audit/run.ts');
  const { awsRetryConfig } = await import('#lib/settings.ts');
  const { renderAlert, renderChanges, renderCsv, renderJson, renderTable } = await import('#lib/report/render.ts');
  const { audit, defaultRegion, hubRegion, settingsFrom, withStore } = await import('../session.ts');
  if (flags.demo && flags.from) throw new UsageError('use either --demo or --from DIR, not both');
  const settings = await settingsFrom(flags);
  const dir = flags.demo ? DEMO_DIR : flags.from;
  if (dir) {
    const ignored = [
      flags.profile && !flags.table && !flags.topic && '--profile',
      flags.keyIdLookups !== undefined && '--key-id-lookups',
      flags.reportWait !== undefined && '--report-wait',
    ].filter(Boolean);
    if (ignored.length > 0 && !flags.quiet)
      io.stderr(`note: ${ignored.join(', ')} only apply to live audits; ignored with ${flags.demo ? '--demo' : '--from'}\n`);
  }
  const importing = flags.securityHub === true || settings.securityHub;
  if (importing && flags.demo) throw new UsageError("--security-hub imports your own account's findings: not the demo account's");
  if (importing && flags.store === false) {
    throw new UsageError(
      '--security-hub needs the state (drop --no-store): FirstObservedAt is the stored firstSeen, and only the state says what a run resolved',
    );
  }
  let hub: SecurityHubClient | null = null;
  let region: string | null = null;
  if (importing) {
    region = await defaultRegion(flags.profile);
    if (!region) throw new UsageError("--security-hub needs a region for Security Hub: set AWS_REGION (or the profile's region)");
    const { SecurityHubClient } = await import('@aws-sdk/client-securityhub');
    hub = new SecurityHubClient({ region, ...(flags.profile ? { profile: flags.profile } : {}), ...awsRetryConfig(settings) });
  }
  return withStore(
    flags,
    settings.historyTtlDays,
    async (opened) => {
      let p: PipelineResult;
      let saveError: unknown = null;
      try {
        p = await audit(flags, dir, settings, opened, io, hub, region);
      } catch (error) {
        // A save that failed still leaves an evaluated, alerted run: report it, then fail (exit 2).
        const evaluated = unsavedRun(error);
        if (!evaluated) throw error;
        p = evaluated;
        saveError = error;
      }
      let rendered: string;
      if (flags.format === 'asff') {
        const { renderAsff, runExportItems } = await import('#lib/report/formats.ts');
        const asffRegion = region ?? (await hubRegion(flags, p.result.run.regions));
        if (!asffRegion) throw new UsageError('--format asff needs a region for its ProductArn: set AWS_REGION or pass --region');
        rendered = renderAsff(runExportItems(p), { partition: p.result.run.partition, region: asffRegion, now: new Date() });
      } else if (flags.format === 'ocsf') {
        const { renderOcsf, runExportItems } = await import('#lib/report/formats.ts');
        rendered = renderOcsf(runExportItems(p), {
          partition: p.result.run.partition,
          region: region ?? (await hubRegion(flags, p.result.run.regions)),
          now: new Date(),
        });
      } else if (flags.format === 'json') rendered = renderJson(p);
      else if (flags.format === 'csv') rendered = renderCsv(p);
      else {
        rendered = [
          renderTable(p.result, { all: flags.all ?? false, ...(io.columns ? { width: io.columns } : {}) }),
          renderChanges(p, opened?.where ?? null),
        ].join('\n');
        if (flags.showAlert || p.alert.messageId) rendered += `\n\n${renderAlert(p)}`;
      }
      io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);
      // Machine formats keep stdout clean; the alert goes to stderr for them.
      if (flags.format !== 'table' && flags.showAlert) io.stderr(`${renderAlert(p)}\n`);
      if (saveError) throw saveError;
      hub?.destroy();
      if (p.securityHub) {
        const s = p.securityHub;
        const line = `Security Hub (${s.productArn}): ${s.imported} of ${s.selected} imported (${s.archived} archived, ${s.workflowNew} new)`;
        if (s.failed.length === 0) {
          if (!flags.quiet) io.stderr(`${line}\n`);
        } else {
          io.stderr(
            `${line}; ${s.failed.length} NOT imported:\n${s.failed
              .slice(0, 20)
              .map((f) => `  - ${f.id}: ${f.code}: ${f.message}`)
              .join('\n')}\n`,
          );
          // The run is saved and alerted; the import asked for did not complete.
          return 2;
        }
      }
      return exitCodeFor(p.result, flags.failOn);
    },
    {
      mode: 'run',
      exitOnStoreFailure: io === processIo,
      ...(flags.quiet ? {} : { progress: (message: string) => io.stderr(`… ${message}\n`) }),
    },
  );
}
