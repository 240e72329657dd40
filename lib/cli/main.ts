import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { auditAndRecord, unsavedRun, type PipelineResult } from '#lib/audit/pipeline.ts';
import { exitCodeFor } from '#lib/audit/run.ts';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { CHECKS } from '#lib/checks/catalogue.ts';
import { SEVERITIES } from '#lib/model/finding.ts';
import type { Severity } from '#lib/model/finding.ts';
import { collectLive } from '#lib/inventory/live.ts';
import { loadOffline, OFFLINE_FILES, OfflineInputError } from '#lib/inventory/offline.ts';
import {
  renderAlert,
  renderChanges,
  renderCsv,
  renderHistory,
  renderJson,
  renderOpenFindings,
  renderRuns,
  renderTable,
} from '#lib/report/render.ts';
import { awsRetryConfig, parseSettings, SettingsError, type Settings } from '#lib/settings.ts';
import { AsffValidationError } from '#lib/export/asff.ts';
import { renderAsff, renderOcsf, runExportItems, storedExportItems } from '#lib/report/formats.ts';
import { LocalStoreError } from '#lib/store/local.ts';
import { StoreError } from '#lib/store/store.ts';
import { openStore, topicClient, type OpenedStore, type OpenOptions, type StateFlags } from './state.ts';

/** The bundled demo account, in the offline export format, and the same account one night later. */
export const DEMO_DIR = fileURLToPath(new URL('../../examples/demo-account', import.meta.url));
export const DEMO_NEXT_DIR = fileURLToPath(new URL('../../examples/demo-account-next', import.meta.url));

/** Bad usage: exits 2, like an audit that could not complete, and never prints findings. */
class UsageError extends Error {
  override name = 'UsageError';
}

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

interface RunFlags extends StateFlags {
  region?: string[];
  regions?: string[];
  checks?: string[];
  maxKeyAge?: number;
  warnKeyAge?: number;
  keyIdLookups?: number;
  reportWait?: number;
  config?: string;
  from?: string;
  demo?: boolean;
  topic?: string;
  showAlert?: boolean;
  format: 'table' | 'json' | 'csv' | 'asff' | 'ocsf';
  securityHub?: boolean;
  failOn: Severity | 'none';
  all?: boolean;
  quiet?: boolean;
}

/** Settings: the config file first, flags over it, then one validation that names bad fields. */
async function settingsFrom(flags: RunFlags): Promise<Settings> {
  let fromFile: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = await readFile(flags.config, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read the config file ${flags.config}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`the config file ${flags.config} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const regions = [...(flags.region ?? []), ...(flags.regions ?? [])];
  return parseSettings({
    ...fromFile,
    ...(flags.maxKeyAge !== undefined ? { maxKeyAgeDays: flags.maxKeyAge } : {}),
    ...(flags.warnKeyAge !== undefined ? { warnKeyAgeDays: flags.warnKeyAge } : {}),
    ...(flags.keyIdLookups !== undefined ? { keyIdLookups: flags.keyIdLookups } : {}),
    ...(flags.reportWait !== undefined ? { reportWaitSeconds: flags.reportWait } : {}),
    ...(regions.length > 0 ? { regions } : {}),
    ...(flags.checks ? { checks: flags.checks } : {}),
  });
}

/** Opens the state store for the duration of `use`, and always closes it (the local one holds a lock). */
async function withStore<T>(flags: StateFlags, historyTtlDays: number, use: (opened: OpenedStore | null) => Promise<T>, options?: OpenOptions): Promise<T> {
  const opened = await openStore(flags, historyTtlDays, options);
  try {
    return await use(opened);
  } finally {
    await opened?.close();
  }
}

/** The region the SDK's default chain (or the profile) names, as Security Hub clients resolve it; null when none is configured. */
async function defaultRegion(profile: string | undefined): Promise<string | null> {
  const client = new SecurityHubClient({ ...(profile ? { profile } : {}) });
  try {
    return (await client.config.region()) || null;
  } catch {
    return null;
  } finally {
    client.destroy();
  }
}

/** Security Hub's region for the import and for ASFF's ProductArn: the SDK's default region, else the first audited one. */
async function hubRegion(flags: { profile?: string }, fallback: readonly string[]): Promise<string | null> {
  return (await defaultRegion(flags.profile)) ?? fallback[0] ?? null;
}

async function audit(flags: RunFlags, dir: string | undefined, settings: Settings, opened: OpenedStore | null, io: Io, securityHub: SecurityHubClient | null = null, region: string | null = null): Promise<PipelineResult> {
  const progress = (message: string) => {
    if (!flags.quiet) io.stderr(`… ${message}\n`);
  };
  if (flags.topic && !/^arn:[^:]+:sns:[^:]+:\d{12}:.+$/.test(flags.topic)) {
    throw new UsageError(`--topic must be an SNS topic ARN, got ${JSON.stringify(flags.topic)}`);
  }
  return auditAndRecord({
    settings,
    trigger: 'local',
    store: opened?.store ?? null,
    ...(opened ? { tableName: opened.tableName } : {}),
    topic: flags.topic ? { client: topicClient(flags.topic, flags.profile), topicArn: flags.topic } : null,
    securityHub: securityHub && region ? { client: securityHub, region } : null,
    collect: dir
      ? () =>
          loadOffline(dir, {
            ...(settings.regions.length > 0 ? { regions: settings.regions } : {}),
            ...(dir === DEMO_DIR || dir === DEMO_NEXT_DIR ? { origin: 'demo' } : {}),
          })
      : () => collectLive({ settings, ...(flags.profile ? { profile: flags.profile } : {}), onProgress: progress }),
  });
}

async function run(flags: RunFlags, io: Io): Promise<number> {
  if (flags.demo && flags.from) throw new UsageError('use either --demo or --from DIR, not both');
  const settings = await settingsFrom(flags);
  const dir = flags.demo ? DEMO_DIR : flags.from;
  if (dir) {
    const ignored = [flags.profile && !flags.table && !flags.topic && '--profile', flags.keyIdLookups !== undefined && '--key-id-lookups', flags.reportWait !== undefined && '--report-wait'].filter(Boolean);
    if (ignored.length > 0 && !flags.quiet) io.stderr(`note: ${ignored.join(', ')} only apply to live audits; ignored with ${flags.demo ? '--demo' : '--from'}\n`);
  }
  const importing = flags.securityHub === true || settings.securityHub;
  if (importing && flags.demo) throw new UsageError('--security-hub imports your own account\'s findings: not the demo account\'s');
  if (importing && flags.store === false) {
    throw new UsageError('--security-hub needs the state (drop --no-store): FirstObservedAt is the stored firstSeen, and only the state says what a run resolved');
  }
  let hub: SecurityHubClient | null = null;
  let region: string | null = null;
  if (importing) {
    region = await defaultRegion(flags.profile);
    if (!region) throw new UsageError('--security-hub needs a region for Security Hub: set AWS_REGION (or the profile\'s region)');
    hub = new SecurityHubClient({ region, ...(flags.profile ? { profile: flags.profile } : {}), ...awsRetryConfig(settings) });
  }
  return withStore(flags, settings.historyTtlDays, async (opened) => {
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
      const asffRegion = region ?? (await hubRegion(flags, p.result.run.regions));
      if (!asffRegion) throw new UsageError('--format asff needs a region for its ProductArn: set AWS_REGION or pass --region');
      rendered = renderAsff(runExportItems(p), { partition: p.result.run.partition, region: asffRegion, now: new Date() });
    } else if (flags.format === 'ocsf') {
      rendered = renderOcsf(runExportItems(p), { partition: p.result.run.partition, region: region ?? (await hubRegion(flags, p.result.run.regions)), now: new Date() });
    } else if (flags.format === 'json') rendered = renderJson(p);
    else if (flags.format === 'csv') rendered = renderCsv(p);
    else {
      rendered = [renderTable(p.result, { all: flags.all ?? false, ...(io.columns ? { width: io.columns } : {}) }), renderChanges(p, opened?.where ?? null)].join('\n');
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
        io.stderr(`${line}; ${s.failed.length} NOT imported:\n${s.failed.slice(0, 20).map((f) => `  - ${f.id}: ${f.code}: ${f.message}`).join('\n')}\n`);
        // The run is saved and alerted; the import asked for did not complete.
        return 2;
      }
    }
    return exitCodeFor(p.result, flags.failOn);
  }, { mode: 'run', exitOnStoreFailure: io === processIo, ...(flags.quiet ? {} : { progress: (message: string) => io.stderr(`… ${message}\n`) }) });
}

/**
 * The whole path on the bundled account, in a throw-away state folder: the first night, the
 * next night (a key rotated, a new admin), what changed, and the alert it would publish.
 */
async function demo(flags: { all?: boolean }, io: Io): Promise<number> {
  const stateDir = await mkdtemp(join(tmpdir(), 'account-auditor-demo-'));
  try {
    const settings = parseSettings({});
    const base: RunFlags = { stateDir, format: 'table', failOn: 'none', quiet: true };
    return await withStore(base, settings.historyTtlDays, async (opened) => {
      const first = await audit(base, DEMO_DIR, settings, opened, io);
      io.stdout(`# Night 1: examples/demo-account (${first.result.run.collectedAt})\n\n`);
      io.stdout(`${renderTable(first.result, { all: flags.all ?? false, ...(io.columns ? { width: io.columns } : {}) })}\n${renderChanges(first, 'a temporary folder')}\n\n`);
      const second = await audit(base, DEMO_NEXT_DIR, settings, opened, io);
      io.stdout(`# Night 2: examples/demo-account-next (${second.result.run.collectedAt}): what changed\n\n`);
      io.stdout(`${renderChanges(second, 'a temporary folder')}\n\n${renderAlert(second)}\n`);
      return 0;
    });
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

interface ReadFlags extends StateFlags {
  account?: string;
  format: 'table' | 'json' | 'asff' | 'ocsf';
}

/** The account to read: the one given, or the only one the store knows. */
async function accountOf(opened: OpenedStore, flags: ReadFlags): Promise<string> {
  if (flags.account) return flags.account;
  const accounts = await opened.store.accounts();
  if (accounts.length === 1) return accounts[0]!.accountId;
  if (accounts.length === 0) throw new UsageError(`no runs stored in ${opened.where} yet: run \`account-auditor run\` first`);
  throw new UsageError(`${opened.where} holds several accounts (${accounts.map((a) => a.accountId).join(', ')}): pass --account`);
}

/** `table` is rendered only for --format table: laying out thousands of rows takes seconds. */
async function readState(flags: ReadFlags, io: Io, read: (opened: OpenedStore) => Promise<{ json: unknown; table: () => string; text?: string }>): Promise<number> {
  if (flags.store === false) throw new UsageError('--no-store leaves nothing to read');
  return withStore(flags, parseSettings({}).historyTtlDays, async (opened) => {
    const out = await read(opened!);
    io.stdout(out.text !== undefined ? `${out.text}\n` : flags.format === 'json' ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.table()}\n`);
    return 0;
  }, { mode: 'read', exitOnStoreFailure: io === processIo });
}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  columns?: number;
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
};

/** Options every command that touches state shares. */
function stateOptions(command: Command): Command {
  return command
    .option('--state-dir <dir>', 'local state folder (default: .account-auditor in the current folder)')
    .option('--table <name>', 'keep state in this DynamoDB table instead (default credential chain and region)')
    .option('--profile <name>', 'AWS profile to use (default: the SDK default credential chain)');
}

function program(io: Io, done: (code: Promise<number>) => void): Command {
  const cli = new Command('account-auditor')
    .description('Audit an AWS account: root access keys, access key age, full-access users, DAX and ElastiCache service roles.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  stateOptions(
    cli
      .command('run')
      .description('run the audit: live with the default AWS credential chain, or offline from AWS CLI exports (--from), or on the demo account (--demo)'),
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
    .option('--security-hub', 'after the run is saved, import its FAIL/WARN/ERROR findings and those it resolved into Security Hub (your credentials, the SDK default region)')
    .addOption(new Option('--format <format>', 'output format (asff: AWS Security Finding Format; ocsf: OCSF 1.1.0 Compliance Finding)').choices(['table', 'json', 'csv', 'asff', 'ocsf']).default('table'))
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 on a FAIL at or above this severity (none: never; ERROR still exits 2)')
        .choices([...SEVERITIES, 'none'])
        .default('high'),
    )
    .option('--all', 'list every PASS finding in the table')
    .option('--quiet', 'no progress lines on stderr')
    .action((flags: RunFlags) => done(run(flags, io)));

  stateOptions(cli.command('findings').description('list the open findings from the state, most severe first'))
    .addOption(new Option('--severity <severity>', 'only this severity').choices([...SEVERITIES]))
    .addOption(new Option('--check <id>', 'only this check').choices([...CHECK_IDS]))
    .option('--account <id>', 'the account (default: the only one in the state)')
    .addOption(new Option('--format <format>', 'output format (asff, ocsf: the stored open findings as Security Hub or OCSF findings)').choices(['table', 'json', 'asff', 'ocsf']).default('table'))
    .action((flags: ReadFlags & { severity?: Severity; check?: string }) =>
      done(
        readState(flags, io, async (opened) => {
          const found = await opened.store.openFindings(await accountOf(opened, flags), {
            ...(flags.severity ? { severity: flags.severity } : {}),
            ...(flags.check ? { checkId: flags.check } : {}),
          });
          if (flags.format === 'asff' || flags.format === 'ocsf') {
            const partition = found[0]?.resource.split(':')[1] || 'aws';
            const region = await hubRegion(flags, []);
            if (flags.format === 'ocsf') return { json: null, table: () => '', text: renderOcsf(storedExportItems(found), { partition, region, now: new Date() }) };
            if (!region) throw new UsageError('--format asff needs a region for its ProductArn: set AWS_REGION (or the profile\'s region)');
            return { json: null, table: () => '', text: renderAsff(storedExportItems(found), { partition, region, now: new Date() }) };
          }
          return { json: found, table: () => renderOpenFindings(found, io.columns) };
        }),
      ),
    );

  stateOptions(cli.command('runs').description('list the latest runs, newest first'))
    .option('--limit <n>', 'how many (default 10)', integer, 10)
    .option('--account <id>', 'the account (default: the only one in the state)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: ReadFlags & { limit: number }) =>
      done(
        readState(flags, io, async (opened) => {
          if (flags.limit < 1) throw new UsageError('--limit must be at least 1');
          const runs = await opened.store.latestRuns(await accountOf(opened, flags), flags.limit);
          return { json: runs, table: () => renderRuns(runs, io.columns) };
        }),
      ),
    );

  stateOptions(cli.command('history').description('every change of status of one finding, oldest first').argument('<finding-id>', 'as `findings` lists it: <account>#<check>#<resource>'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((findingId: string, flags: ReadFlags) =>
      done(
        readState(flags, io, async (opened) => {
          const entries = await opened.store.history(findingId);
          return { json: entries, table: () => renderHistory(entries, io.columns) };
        }),
      ),
    );

  cli
    .command('demo')
    .description('audit the bundled demo account on two nights in a temporary state folder: findings, what changed, the alert')
    .option('--all', 'list every PASS finding in the table')
    .action((flags: { all?: boolean }) => done(demo(flags, io)));

  cli
    .command('files')
    .description('list the files --from DIR reads and the AWS CLI commands that produce them')
    .action(() => {
      for (const f of OFFLINE_FILES) io.stdout(`${f.file}\n    ${f.command}\n    feeds: ${f.feeds}\n`);
      done(Promise.resolve(0));
    });

  cli
    .command('checks')
    .description('list the checks with their severity and references')
    .action(() => {
      for (const c of CHECKS) io.stdout(`${c.id} [${c.severity}]  ${c.title}\n`);
      done(Promise.resolve(0));
    });
  return cli;
}

/** Runs the command line; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let pending: Promise<number> | undefined;
  const cli = program(io, (code) => {
    pending = code;
  });
  try {
    await cli.parseAsync(argv);
    if (!pending) {
      io.stderr(cli.helpInformation());
      return 2;
    }
    return await pending;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are not failures.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof AsffValidationError) {
      io.stderr(`account-auditor: refusing to write ASFF that Security Hub would reject: ${error.message}\n`);
      return 2;
    }
    if (error instanceof UsageError || error instanceof SettingsError || error instanceof OfflineInputError || error instanceof LocalStoreError) {
      io.stderr(`account-auditor: ${error.message}\n`);
      return 2;
    }
    if (error instanceof StoreError) {
      io.stderr(`account-auditor: the findings were evaluated but the state was not saved (with --topic, the run's alert was published, then one saying the state was not saved): ${error.message}\n`);
      return 2;
    }
    io.stderr(`account-auditor: ${(error as Error).message ?? String(error)}\n`);
    if (process.env.ACCOUNT_AUDITOR_DEBUG) io.stderr(`${(error as Error).stack ?? ''}\n`);
    return 2;
  }
}
