/**
 * `run --org`: the organization mode of the command line (SPEC 8). The same per-account pipeline
 * as the Step Functions path, in-process over a bounded pool:
 *
 *   live      discover the accounts (your credentials, or --management-role-arn) and read their
 *             SCP chains once → each account through auditMemberAccount (AssumeRole into its
 *             member role; the account your credentials belong to with those credentials)
 *   offline   an organization export (--from DIR, or --demo: examples/demo-organization) → each
 *             account's folder through the offline collector, with its organization context
 *
 * Each account's run is saved under its own account ID (the store's keys carry it), the
 * organization run record lists them all, and one digest (new, regressed, resolved, accounts in
 * ERROR) is the alert. Loaded only when `run --org` runs.
 */
import { randomBytes } from 'node:crypto';
import type { PipelineResult } from '#lib/audit/pipeline.ts';
import { auditAndRecord, unsavedRun } from '#lib/audit/pipeline.ts';
import { exitCodeFor } from '#lib/audit/run.ts';
import { type CheckId, DEFAULT_CHECK_IDS } from '#lib/checks/catalogue.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { exclusion } from '#lib/organization/accounts.ts';
import type { MapAccount } from '#lib/organization/contract.ts';
import {
  DEFAULT_MAX_CONCURRENCY,
  MAX_MAX_CONCURRENCY,
  memberRoleArn,
  type OrganizationSettings,
  organizationSettingsSchema,
} from '#lib/organization/settings.ts';
import { auditAccounts, type AccountResult } from '#lib/organization/pool.ts';
import type { AccountRun } from '#lib/report/organization.ts';
import type { Settings } from '#lib/settings.ts';
import { settingsFrom, withStore } from './session.ts';
import { DEMO_ORGANIZATION_DIR, type Io, type OrganizationFlags, processIo, type RunFlags, UsageError } from './shared.ts';
import { type OpenedStore, topicPublisher } from './state.ts';

type Flags = RunFlags & OrganizationFlags;

/** Each flag of `run --org` by the organization setting it sets, for error messages in the user's terms. */
const FLAG_OF: Record<string, string> = {
  includeAccounts: '--accounts',
  excludeAccounts: '--exclude-accounts',
  includeOus: '--ous',
  excludeOus: '--exclude-ous',
  memberRoleName: '--role-name',
  externalId: '--external-id',
  managementRoleArn: '--management-role-arn',
  maxConcurrency: '--concurrency',
};

/** The organization settings the flags give, validated; a bad value is named by its flag. */
export function organizationSettingsFrom(flags: OrganizationFlags): OrganizationSettings {
  if (flags.concurrency !== undefined && (flags.concurrency < 1 || flags.concurrency > MAX_MAX_CONCURRENCY)) {
    throw new UsageError(
      `--concurrency must be from 1 to ${MAX_MAX_CONCURRENCY} accounts at once (default ${DEFAULT_MAX_CONCURRENCY}), got ${flags.concurrency}`,
    );
  }
  const parsed = organizationSettingsSchema.safeParse({
    ...(flags.accounts ? { includeAccounts: flags.accounts } : {}),
    ...(flags.excludeAccounts ? { excludeAccounts: flags.excludeAccounts } : {}),
    ...(flags.ous ? { includeOus: flags.ous } : {}),
    ...(flags.excludeOus ? { excludeOus: flags.excludeOus } : {}),
    ...(flags.roleName !== undefined ? { memberRoleName: flags.roleName } : {}),
    ...(flags.externalId !== undefined ? { externalId: flags.externalId } : {}),
    ...(flags.managementRoleArn !== undefined ? { managementRoleArn: flags.managementRoleArn } : {}),
    ...(flags.concurrency !== undefined ? { maxConcurrency: flags.concurrency } : {}),
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const [field, index] = issue.path;
      const flag = FLAG_OF[String(field)] ?? String(field);
      const values: unknown = field === undefined ? undefined : (flagValue(flags, String(field)) as unknown[] | undefined);
      const given = typeof index === 'number' && Array.isArray(values) ? ` (${JSON.stringify(values[index])})` : '';
      return `${flag}${given}: ${issue.message}`;
    });
    throw new UsageError(`invalid ${problems.join('; ')}`);
  }
  return parsed.data;
}

function flagValue(flags: OrganizationFlags, field: string): unknown {
  const key = Object.entries({
    includeAccounts: 'accounts',
    excludeAccounts: 'excludeAccounts',
    includeOus: 'ous',
    excludeOus: 'excludeOus',
  } as const).find(([f]) => f === field)?.[1];
  return key ? flags[key] : undefined;
}

/** The ID of a command line organization run: sortable by time, unique, named as a local one. */
export function localOrganizationRunId(at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, '')}-local-${randomBytes(4).toString('hex')}`;
}

/** The checks of an audited member account: the settings' (or the default ones) and `organization`, its access. */
function memberChecks(settings: Settings): CheckId[] {
  return [...new Set<CheckId>([...(settings.checks.length > 0 ? settings.checks : DEFAULT_CHECK_IDS), 'organization'])];
}

/** How an account's run ended, from its result: not audited when the organization check says so. */
export function accountStateOf(p: PipelineResult): Pick<AccountRun, 'state' | 'reason'> {
  const { findings, run } = p.result;
  const access = findings.find((f) => f.checkId === 'organization' && f.status === 'ERROR');
  if (access) return { state: 'failed', reason: access.title };
  if (p.notSaved) return { state: 'incomplete', reason: `the state was not saved: ${p.notSaved.message}` };
  const errors = findings.filter((f) => f.status === 'ERROR').length;
  if (run.complete && errors === 0) return { state: 'complete', reason: null };
  if (run.checksInError.length > 0) {
    return {
      state: 'incomplete',
      reason: `${errors} finding${errors === 1 ? '' : 's'} in ERROR (${run.checksInError.map((c) => c.checkId).join(', ')})`,
    };
  }
  const unread = run.sources.filter((s) => s.state === 'unread');
  return { state: 'incomplete', reason: `not every source was read: ${unread.map((s) => `${s.source} (${s.reason ?? s.call})`).join('; ')}` };
}

/** One pool result as the report takes it; an audit that threw is an account not audited, with why. */
function accountRunOf(result: AccountResult<PipelineResult>): AccountRun {
  const account = { id: result.account.id, name: result.account.name, roleArn: result.account.roleArn };
  if (result.status === 'fulfilled') return { account, pipeline: result.value, ...accountStateOf(result.value) };
  // A save that failed still leaves an evaluated run: it is reported, and the account is in ERROR.
  const evaluated = unsavedRun(result.reason);
  if (evaluated) return { account, pipeline: evaluated, ...accountStateOf(evaluated) };
  const error = result.reason;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { account, pipeline: null, state: 'failed', reason };
}

/** The progress line of one finished account: `[3/200] 222222222222 payments-prod: complete, 2 FAIL, 1 new`. */
export function progressLine(run: AccountRun, done: number, total: number): string {
  const head = `[${done}/${total}] ${run.account.id} ${run.account.name}`;
  if (run.state === 'failed' || !run.pipeline) return `${head}: failed: ${run.reason ?? 'not audited'}`;
  const { byStatus, new: created, regressed } = run.pipeline.reconciled.run.counts;
  const parts = [run.state, ...(byStatus.ERROR > 0 ? [`${byStatus.ERROR} ERROR`] : []), `${byStatus.FAIL} FAIL`, `${created + regressed} new`];
  return `${head}: ${parts.join(', ')}`;
}

/** What both paths hand the run: the accounts, and how to audit one. */
interface Plan {
  accounts: MapAccount[];
  auditOne: (account: MapAccount) => Promise<PipelineResult>;
  /** Said once the plan is known (accounts discovered, left out). */
  notes: string[];
}

interface PlanContext {
  flags: Flags;
  settings: Settings;
  organization: OrganizationSettings;
  organizationRunId: string;
  opened: OpenedStore | null;
  progress: (message: string) => void;
}

/** `run --org`: the organization run, its report on stdout, progress on stderr; the exit code. */
export async function runOrganization(flags: Flags, io: Io): Promise<number> {
  if (flags.demo && flags.from) throw new UsageError('use either --demo or --from DIR, not both');
  if (flags.securityHub) {
    throw new UsageError(
      '--security-hub is not available with --org: Security Hub takes the member accounts’ findings through its own administrator account',
    );
  }
  if (flags.topic && !/^arn:[^:]+:sns:[^:]+:\d{12}:.+$/.test(flags.topic)) {
    throw new UsageError(`--topic must be an SNS topic ARN, got ${JSON.stringify(flags.topic)}`);
  }
  const organization = organizationSettingsFrom(flags);
  const settings = await settingsFrom(flags);
  if (settings.checks.includes('organization')) {
    throw new UsageError('--checks organization: that check is added to every account of `run --org` by itself');
  }
  const dir = flags.demo ? DEMO_ORGANIZATION_DIR : flags.from;
  const progress = (message: string) => {
    if (!flags.quiet) io.stderr(`${message}\n`);
  };
  const ignored = [
    ...(dir
      ? [
          flags.profile && !flags.table && !flags.topic && '--profile',
          flags.keyIdLookups !== undefined && '--key-id-lookups',
          flags.reportWait !== undefined && '--report-wait',
          flags.externalId !== undefined && '--external-id',
          flags.managementRoleArn !== undefined && '--management-role-arn',
        ]
      : []),
    flags.all && '--all',
  ].filter(Boolean);
  if (ignored.length > 0 && !flags.quiet) io.stderr(`note: ${ignored.join(', ')} ignored with --org${dir ? (flags.demo ? ' --demo' : ' --from') : ''}\n`);

  const started = new Date();
  const organizationRunId = localOrganizationRunId(started);
  return withStore(
    flags,
    settings.historyTtlDays,
    async (opened) => {
      const context: PlanContext = { flags, settings, organization, organizationRunId, opened, progress };
      const plan = dir ? await offlinePlan(dir, context) : await livePlan(context);
      for (const note of plan.notes) progress(note);
      const results = await auditAccounts(plan.accounts, {
        concurrency: organization.maxConcurrency,
        auditOne: plan.auditOne,
        onProgress: (event) => {
          if (event.event === 'finished') progress(progressLine(accountRunOf(event.result), event.done, event.total));
        },
      });
      const runs = results.map(accountRunOf);
      await report(runs, { flags, io, organizationRunId, startedAt: started.toISOString(), opened });
      if (runs.some((r) => r.state !== 'complete')) return 2;
      return Math.max(0, ...runs.map((r) => exitCodeFor(r.pipeline!.result, flags.failOn)));
    },
    {
      mode: 'run',
      exitOnStoreFailure: io === processIo,
    },
  );
}

async function report(
  runs: AccountRun[],
  options: { flags: Flags; io: Io; organizationRunId: string; startedAt: string; opened: OpenedStore | null },
): Promise<void> {
  const { flags, io, organizationRunId } = options;
  const { renderOrganizationCsv, renderOrganizationJson, renderOrganizationTable } = await import('#lib/report/organization.ts');
  let rendered: string;
  if (flags.format === 'json') rendered = renderOrganizationJson(organizationRunId, runs);
  else if (flags.format === 'csv') rendered = renderOrganizationCsv(runs);
  else if (flags.format === 'asff' || flags.format === 'ocsf') rendered = await exportDocument(runs, flags);
  else {
    rendered = renderOrganizationTable(runs, {
      organizationRunId,
      where: options.opened?.where ?? null,
      ...(io.columns ? { width: io.columns } : {}),
    });
  }
  io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);
  await recordAndAlert(runs, options);
}

/** `--format asff|ocsf`: every account's findings in one document; each names its own account. */
async function exportDocument(runs: AccountRun[], flags: Flags): Promise<string> {
  const { renderAsff, renderOcsf, runExportItems } = await import('#lib/report/formats.ts');
  const { hubRegion } = await import('./session.ts');
  const audited = runs.flatMap((r) => (r.pipeline ? [r.pipeline] : []));
  const items = audited.flatMap(runExportItems);
  const partition = audited[0]?.result.run.partition ?? 'aws';
  const region = await hubRegion(flags, audited[0]?.result.run.regions ?? []);
  if (flags.format === 'asff') {
    if (!region) throw new UsageError('--format asff needs a region for its ProductArn: set AWS_REGION or pass --region');
    return renderAsff(items, { partition, region, now: new Date() });
  }
  return renderOcsf(items, { partition, region, now: new Date() });
}

/**
 * The organization run record (so `runs --org` lists it) and the digest: published with --topic
 * when something is worth saying, printed with --show-alert (to stderr for the machine formats).
 */
async function recordAndAlert(
  runs: AccountRun[],
  options: { flags: Flags; io: Io; organizationRunId: string; startedAt: string; opened: OpenedStore | null },
): Promise<void> {
  const { flags, io } = options;
  const digest = await organizationDigest(runs, options);
  let messageId: string | null = null;
  if (flags.topic && digest.wanted) messageId = (await topicPublisher(flags.topic, flags.profile).publish(digest.alert)).messageId;
  if (options.opened) await saveOrganizationRun(runs, options, options.opened);
  if (flags.showAlert || messageId) {
    const text = `${digest.text}${messageId ? `\n(published to ${flags.topic}: message ${messageId})` : ''}`;
    if (flags.format === 'table') io.stdout(`\n${text}\n`);
    else io.stderr(`${text}\n`);
  }
}

/** @todo wired to lib/notify/digest.ts once it lands. */
async function organizationDigest(
  runs: AccountRun[],
  options: { organizationRunId: string; startedAt: string },
): Promise<{ wanted: boolean; alert: import('#lib/notify/alert.ts').Alert<unknown>; text: string }> {
  void runs;
  void options;
  throw new Error('not wired yet');
}

/** @todo wired to lib/store/organization-runs.ts once it lands. */
async function saveOrganizationRun(
  runs: AccountRun[],
  options: { organizationRunId: string; startedAt: string },
  opened: OpenedStore,
): Promise<void> {
  void runs;
  void options;
  void opened;
}

/** The live plan: discovery and SCPs once, then each account through its member role. */
async function livePlan(context: PlanContext): Promise<Plan> {
  void context;
  throw new Error('not wired yet');
}

/** The offline plan: an organization export, each account's folder through the offline collector. */
async function offlinePlan(dir: string, context: PlanContext): Promise<Plan> {
  const { loadOrganizationExport, loadAccountExport } = await import('#lib/organization/offline.ts');
  const { flags, settings, organization, opened } = context;
  const exported = await loadOrganizationExport(dir);
  const accountIds = exported.accounts.map((a) => a.id);
  const include = new Set(organization.includeAccounts);
  const exclude = new Set(organization.excludeAccounts);
  const filtering = include.size > 0 || organization.includeOus.length > 0;
  const usesOus = organization.includeOus.length > 0 || organization.excludeOus.length > 0;
  const notes: string[] = [];
  const chosen = exported.accounts.filter((account) => {
    const chain = exported.chains.get(account.id);
    if (usesOus && chain?.state !== 'read') {
      throw new UsageError(
        `cannot apply --ous/--exclude-ous to account ${account.id}: the export does not say which OUs it is under (${chain && chain.state !== 'read' ? chain.reason : 'no chain'})`,
      );
    }
    const reason = exclusion(
      { ...account, ous: chain?.state === 'read' ? chain.data : account.ous },
      { include, exclude, includeOus: organization.includeOus, excludeOus: organization.excludeOus, filtering },
    );
    return reason === null;
  });
  const missing = organization.includeAccounts.filter((id) => !accountIds.includes(id));
  if (missing.length > 0) {
    throw new UsageError(`--accounts names accounts that are not ACTIVE members of the exported organization: ${missing.join(', ')}`);
  }
  if (chosen.length === 0) throw new UsageError(`no account to audit: the export holds ${accountIds.length} ACTIVE accounts, all left out by the filters`);
  if (chosen.length < accountIds.length) notes.push(`${accountIds.length - chosen.length} of ${accountIds.length} accounts left out by the filters`);
  const partition = 'aws';
  const accounts: MapAccount[] = chosen.map((a) => ({ id: a.id, name: a.name, roleArn: memberRoleArn(partition, a.id, organization.memberRoleName) }));
  const origin = dir === DEMO_ORGANIZATION_DIR ? { origin: 'demo' } : {};
  const store = { store: opened?.store ?? null, ...(opened ? { tableName: opened.tableName } : {}) };

  const auditOne = async (account: MapAccount): Promise<PipelineResult> => {
    const entry = exported.accountDirs.get(account.id) ?? { missing: 'not in the export' };
    const base = { id: exported.organization.id, accountIds, guardrails: exported.guardrails.get(account.id) ?? unknownGuardrails(account.id) };
    if ('dir' in entry) {
      return auditAndRecord({
        settings: { ...settings, checks: memberChecks(settings) },
        trigger: 'local',
        ...store,
        publisher: null,
        collect: async () => {
          const inventory = await loadAccountExport(entry.dir, account.id, {
            ...(settings.regions.length > 0 ? { regions: settings.regions } : {}),
            ...origin,
          });
          return {
            ...inventory,
            organization: { ...base, access: { roleArn: account.roleArn, assumed: { state: 'read', data: { at: null } } } },
          } satisfies Inventory;
        },
      });
    }
    const unread =
      'assumeRoleError' in entry
        ? { roleArn: account.roleArn, call: 'sts:AssumeRole', reason: entry.assumeRoleError.message, code: entry.assumeRoleError.code }
        : { roleArn: null, call: `accounts/${account.id}/ of the export`, reason: entry.missing };
    void unread;
    void flags;
    throw new Error('not wired yet');
  };
  return { accounts, auditOne, notes };
}

function unknownGuardrails(accountId: string) {
  return {
    state: 'unread',
    call: 'organizations:ListPoliciesForTarget',
    reason: `the export gives no SCP chain for account ${accountId}`,
    kind: 'missing',
  } as const;
}
