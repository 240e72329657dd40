/**
 * `run --org`: the organization mode of the command line (SPEC 8). The per-account pipeline of
 * the Step Functions path, in-process over a bounded pool (auditAccounts):
 *
 *   live      discover the accounts and read their SCP chains once (your credentials, or
 *             --management-role-arn), then each account through auditMemberAccount: AssumeRole
 *             into its member role, the account your credentials belong to with those
 *   offline   an organization export (--from DIR, or --demo: examples/demo-organization): each
 *             account's folder through the offline collector, with its organization context; a
 *             failed AssumeRole the export recorded is that account's `organization` ERROR
 *
 * Each account's run is saved under its own account ID (the store's keys carry it), its digest
 * section stored before that save; one organization run record lists them all (`runs --org`),
 * and one digest, built from the stored sections, is the alert. Loaded only when `run --org` runs.
 */
import { randomBytes } from 'node:crypto';
import { auditMemberAccount, type MemberAuditOptions, type MemberAuditResult } from '#lib/audit/member-audit.ts';
import { type PipelineResult, unsavedRun } from '#lib/audit/pipeline.ts';
import type { AlertPublisher } from '#lib/audit/ports.ts';
import { exitCodeFor } from '#lib/audit/run.ts';
import { unreadSource } from '#lib/inventory/failure.ts';
import type { Unread } from '#lib/inventory/types.ts';
import { AuditorError } from '#lib/model/errors.ts';
import type { MapAccount } from '#lib/organization/contract.ts';
import { organizationRunId as runIdOf } from '#lib/organization/discover.ts';
import { type AccountResult, auditAccounts } from '#lib/organization/pool.ts';
import {
  DEFAULT_MAX_CONCURRENCY,
  MAX_MAX_CONCURRENCY,
  memberRoleArn,
  type OrganizationSettings,
  organizationSettingsSchema,
} from '#lib/organization/settings.ts';
import { type AccountLine, summaryOfLines } from '#lib/organization/summary.ts';
import type { AccountRun } from '#lib/report/organization.ts';
import type { Settings } from '#lib/settings.ts';
import type { AccountSection } from '#lib/notify/digest.ts';
import { UNFINISHED_RUN } from '#lib/store/organization-runs.ts';
import type { OrganizationRunRecord } from '#lib/store/store.ts';
import { settingsFrom, withStore } from './session.ts';
import { DEMO_ORGANIZATION_DIR, type Io, type OrganizationFlags, processIo, type RunFlags, UsageError } from './shared.ts';
import { type OpenedStore, topicPublisher } from './state.ts';

type Flags = RunFlags & OrganizationFlags;

/** Each organization setting by the flag of `run --org` that sets it, for error messages in the user's terms. */
const FLAGS: Record<string, { flag: string; key: keyof OrganizationFlags }> = {
  includeAccounts: { flag: '--accounts', key: 'accounts' },
  excludeAccounts: { flag: '--exclude-accounts', key: 'excludeAccounts' },
  includeOus: { flag: '--ous', key: 'ous' },
  excludeOus: { flag: '--exclude-ous', key: 'excludeOus' },
  memberRoleName: { flag: '--role-name', key: 'roleName' },
  externalId: { flag: '--external-id', key: 'externalId' },
  managementRoleArn: { flag: '--management-role-arn', key: 'managementRoleArn' },
  maxConcurrency: { flag: '--concurrency', key: 'concurrency' },
};

/** The organization settings the flags give, validated; a bad value is named by its flag. */
export function organizationSettingsFrom(flags: OrganizationFlags): OrganizationSettings {
  if (flags.concurrency !== undefined && (flags.concurrency < 1 || flags.concurrency > MAX_MAX_CONCURRENCY)) {
    throw new UsageError(
      `--concurrency must be from 1 to ${MAX_MAX_CONCURRENCY} accounts at once (default ${DEFAULT_MAX_CONCURRENCY}), got ${flags.concurrency}`,
    );
  }
  const input = Object.fromEntries(
    Object.entries(FLAGS).flatMap(([setting, { key }]) => (flags[key] === undefined ? [] : [[setting, flags[key]]])),
  );
  const parsed = organizationSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const [setting, index] = issue.path;
      const named = FLAGS[String(setting)];
      const value = named ? flags[named.key] : undefined;
      const given = typeof index === 'number' && Array.isArray(value) ? ` ${JSON.stringify(value[index])}` : '';
      return `${named?.flag ?? String(setting)}${given}: ${issue.message}`;
    });
    throw new UsageError(`invalid ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** How an account's run ended, and why it is in ERROR: not audited when its `organization` check says so. */
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
  return {
    state: 'incomplete',
    reason: `not every source was read: ${unread.map((s) => `${s.source} (${s.reason ?? s.call ?? 'unread'})`).join('; ')}`,
  };
}

/** One pool result as the report takes it; an audit that threw is an account not audited, with why. */
function accountRunOf(result: AccountResult<MemberAuditResult>): AccountRun {
  const account = { id: result.account.id, name: result.account.name, roleArn: result.account.roleArn };
  if (result.status === 'fulfilled') return { account, pipeline: result.value.pipeline, ...accountStateOf(result.value.pipeline) };
  // A save that failed still leaves an evaluated (and reported) run: the account is in ERROR with it.
  const evaluated = unsavedRun(result.reason);
  if (evaluated) return { account, pipeline: evaluated, ...accountStateOf(evaluated) };
  const error = result.reason;
  const reason = error instanceof AuditorError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { account, pipeline: null, state: 'failed', reason };
}

/** The progress line of one finished account: `[3/200] 222222222222 payments-prod: complete, 2 FAIL, 1 new`. */
export function progressLine(run: AccountRun, done: number, total: number): string {
  const head = `[${done}/${total}] ${run.account.id} ${run.account.name}`;
  if (run.state === 'failed' || !run.pipeline) {
    // The access finding's code and reason, without the title's restatement of the role.
    const access = run.pipeline?.result.findings.find((f) => f.checkId === 'organization' && f.status === 'ERROR');
    const { code, reason } = (access?.details ?? {}) as { code?: unknown; reason?: unknown };
    if (typeof reason === 'string') return `${head}: failed: ${typeof code === 'string' ? `${code}: ` : ''}${reason}`;
    return `${head}: failed: ${run.reason ?? 'not audited'}`;
  }
  const { byStatus, new: created, regressed } = run.pipeline.reconciled.run.counts;
  const parts = [
    run.state,
    ...(byStatus.ERROR > 0 ? [`${byStatus.ERROR} ERROR`] : []),
    `${byStatus.FAIL} FAIL`,
    `${created + regressed} new`,
  ];
  return `${head}: ${parts.join(', ')}`;
}

/** What either path hands the run: the accounts, and how to audit one. */
interface Plan {
  organizationRunId: string;
  accounts: MapAccount[];
  /** ListAccounts' figures, for the organization run record. */
  discovery: OrganizationRunRecord['discovery'];
  auditOne: (account: MapAccount) => Promise<MemberAuditResult>;
}

interface PlanContext {
  flags: Flags;
  settings: Settings;
  organization: OrganizationSettings;
  /** The organization run's ID and start: the execution name and time of the Step Functions path. */
  run: { executionName: string; executionStartTime: string };
  pipeline: Pick<MemberAuditOptions, 'store' | 'tableName' | 'trigger'>;
  /** Where an account's alerts go (accountAlerts). */
  publisherFor: (organizationRunId: string, account: MapAccount) => AlertPublisher | null;
  progress: (message: string) => void;
}

/**
 * What an account's run publishes in organization mode: its findings alert goes into the digest
 * instead, any other alert (its state not saved) to the topic as is (printed on stderr with
 * --show-alert when there is none). With a store, the findings alert is the account's digest
 * section, written into the store where the pipeline publishes, so before the account's run is
 * saved, as the Lambda writes it (sectionPublisher): the digest is then built from the stored
 * sections, and a run killed before it reported leaves them for the next run to publish
 * (publishPendingDigests). Without a store nothing is saved, so the digest is built in memory.
 */
async function accountAlerts(
  opened: OpenedStore | null,
  topic: AlertPublisher | null,
  flags: Flags,
  io: Io,
): Promise<PlanContext['publisherFor']> {
  const [{ sectionFromAlert }, { sectionPublisher }] = await Promise.all([
    import('#lib/notify/digest.ts'),
    import('#lib/audit/organization-report.ts'),
  ]);
  const other: AlertPublisher = topic ?? {
    publish: async (alert) => {
      if (flags.showAlert) io.stderr(`Subject: ${alert.subject}\n${alert.email}\n`);
      return { messageId: '' };
    },
  };
  if (opened) {
    const publish = sectionPublisher(opened.store, other);
    return (organizationRunId, account) => ({ publish: (alert) => publish({ item: { organizationRunId, account }, alert }) });
  }
  if (!topic) return () => null;
  const publisher: AlertPublisher = {
    publish: async (alert) => (sectionFromAlert({ id: '', name: '' }, alert) === null ? topic.publish(alert) : { messageId: '' }),
  };
  return () => publisher;
}

/** What the organization run record says until the run has reported (as the discover step's says). */
const UNFINISHED = UNFINISHED_RUN;

/** An account the run cannot audit at all (the OU flags cannot place it): its reason is the whole message. */
class AccountNotAuditedError extends AuditorError {}

/** The digest's publish failed after every account's run was saved: the run reports it and exits 2. */
export class DigestNotPublishedError extends AuditorError {}

/**
 * `run --org`: the organization run, its report on stdout, progress on stderr; the exit code.
 * `where` names the state's place in the report instead of its path (the demo's throw-away folder).
 */
export async function runOrganization(flags: Flags, io: Io, options: { where?: string } = {}): Promise<number> {
  if (flags.demo && flags.from) throw new UsageError('use either --demo or --from DIR, not both');
  if (flags.securityHub) {
    throw new UsageError(
      '--security-hub is not available with --org: import an account’s findings with `run --security-hub` in that account',
    );
  }
  if (flags.topic && !/^arn:[^:]+:sns:[^:]+:\d{12}:.+$/.test(flags.topic)) {
    throw new UsageError(`--topic must be an SNS topic ARN, got ${JSON.stringify(flags.topic)}`);
  }
  const organization = organizationSettingsFrom(flags);
  const settings = await settingsFrom(flags);
  if (settings.checks.includes('organization')) {
    throw new UsageError('--checks: `organization` is added to every account of `run --org` by itself; name only the other checks');
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
    settings.securityHub && 'the securityHub setting',
  ].filter(Boolean);
  if (ignored.length > 0 && !flags.quiet) {
    io.stderr(`note: ${ignored.join(', ')} ignored with --org${dir ? (flags.demo ? ' --demo' : ' --from') : ''}\n`);
  }

  const started = new Date();
  const run = { executionName: `local-${randomBytes(4).toString('hex')}`, executionStartTime: started.toISOString() };
  return withStore(
    flags,
    settings.historyTtlDays,
    async (opened) => {
      const topic = flags.topic ? topicPublisher(flags.topic, flags.profile) : null;
      const context: PlanContext = {
        flags,
        settings,
        organization,
        run,
        pipeline: {
          trigger: 'local',
          store: opened?.store ?? null,
          ...(opened ? { tableName: opened.tableName } : {}),
        },
        publisherFor: await accountAlerts(opened, topic, flags, io),
        progress,
      };
      // Earlier runs that stopped before their digest went out: theirs first, rebuilt from their
      // stored sections, before anything of this run can fail.
      if (opened && topic) await publishLate(opened, topic, io, flags);
      const plan = dir ? await offlinePlan(dir, context) : await livePlan(context);
      progress(
        `organization run ${plan.organizationRunId}: ${plan.accounts.length} account${plan.accounts.length === 1 ? '' : 's'}, ${Math.min(organization.maxConcurrency, plan.accounts.length)} at once`,
      );
      // Written before any account is, and replaced at the end: a run stopped in between stays
      // listed by `runs --org`, its digest pending, and the next run with --topic publishes it.
      if (opened) {
        try {
          await opened.store.putOrganizationRun({
            ...organizationRunRecord(
              plan.accounts.map((account) => ({ account, state: 'failed', pipeline: null, reason: UNFINISHED })),
              { plan, startedAt: run.executionStartTime },
              {
                mode: 'digest',
                wanted: true,
                messageId: null,
                reason: `${UNFINISHED}: its digest was not published`,
              },
            ),
            finished: false,
          });
        } catch (error) {
          throw new AuditorError(
            `no account was audited: the organization run record could not be written in ${opened.where} (${describe(error)})`,
            {
              cause: error,
            },
          );
        }
      }
      const results = await auditAccounts(plan.accounts, {
        concurrency: organization.maxConcurrency,
        auditOne: plan.auditOne,
        onProgress: (event) => {
          if (event.event === 'finished') progress(progressLine(accountRunOf(event.result), event.done, event.total));
        },
      });
      const runs = results.map(accountRunOf);
      await report(runs, {
        flags,
        io,
        plan,
        startedAt: run.executionStartTime,
        opened,
        where: opened ? (options.where ?? opened.where) : null,
      });
      if (runs.some((r) => r.state !== 'complete' || !r.pipeline)) return 2;
      return Math.max(0, ...runs.map((r) => exitCodeFor(r.pipeline!.result, flags.failOn)));
    },
    { mode: 'run', exitOnStoreFailure: io === processIo },
  );
}

/**
 * The late digests of the earlier runs whose digest never went out (publishPendingDigests): each
 * published one is named on stderr, and one that could not be published too (it stays pending).
 */
async function publishLate(opened: OpenedStore, topic: AlertPublisher, io: Io, flags: Flags): Promise<void> {
  const { publishPendingDigests } = await import('#lib/audit/organization-report.ts');
  let late: Awaited<ReturnType<typeof publishPendingDigests>>;
  try {
    // This run has written nothing yet: every pending record is an earlier run's.
    late = await publishPendingDigests({ store: opened.store, publisher: topic, tableName: opened.tableName });
  } catch (error) {
    io.stderr(
      `warning: the earlier organization runs could not be listed, so their late digests were not looked for (${describe(error)})\n`,
    );
    return;
  }
  for (const l of late) {
    const run = `organization run ${l.organizationRunId} (started ${l.startedAt})`;
    if (l.messageId === null)
      io.stderr(`warning: the late digest of ${run} could not be published to ${flags.topic} (${l.error}); the next run tries again\n`);
    else if (!flags.quiet || l.error) {
      io.stderr(
        `note: published the late digest of ${run}, whose own digest never went out (SNS message ${l.messageId})${l.error ? `; ${l.error}` : ''}\n`,
      );
    }
  }
}

interface ReportOptions {
  flags: Flags;
  io: Io;
  plan: Plan;
  startedAt: string;
  opened: OpenedStore | null;
  /** Said to the user: where the state is; null with --no-store. */
  where: string | null;
}

/**
 * The report on stdout, then the digest (published with --topic when something is worth saying,
 * printed with --show-alert or when published: after the table, or to stderr for machine
 * formats), then the organization run record, which names the digest's message.
 */
async function report(runs: AccountRun[], options: ReportOptions): Promise<void> {
  const { flags, io, plan } = options;
  const { renderOrganizationCsv, renderOrganizationJson, renderOrganizationTable, renderDigest } = await import(
    '#lib/report/organization.ts'
  );
  let rendered: string;
  if (flags.format === 'json') rendered = renderOrganizationJson(plan.organizationRunId, runs);
  else if (flags.format === 'csv') rendered = renderOrganizationCsv(runs);
  else if (flags.format === 'asff' || flags.format === 'ocsf') rendered = await exportDocument(runs, flags);
  else {
    rendered = renderOrganizationTable(runs, {
      organizationRunId: plan.organizationRunId,
      where: options.where,
      ...(io.columns ? { width: io.columns } : {}),
    });
  }
  io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);

  const digest = await organizationDigest(runs, options);
  let messageId: string | null = null;
  let failure: unknown = null;
  // Published before the record is written, so the record says whether it was sent.
  if (flags.topic && digest.wanted) {
    try {
      messageId = (await topicPublisher(flags.topic, flags.profile).publish(digest.alert)).messageId;
    } catch (error) {
      failure = error;
    }
  }
  if (flags.showAlert || messageId || failure) {
    const text = renderDigest(digest, {
      topic: flags.topic ?? null,
      messageId,
      ...(failure ? { error: describe(failure) } : {}),
    });
    // A digest that could not be sent is still shown: its findings are saved as known now.
    if (flags.format === 'table' && !failure) io.stdout(`\n${text}\n`);
    else io.stderr(`${text}\n`);
  }
  const reason = failure
    ? `the digest could not be published: ${describe(failure)}`
    : digest.wanted && !flags.topic
      ? `${digest.reason} (no topic: not published)`
      : digest.reason;
  if (options.opened) {
    await options.opened.store.putOrganizationRun(
      organizationRunRecord(runs, options, {
        mode: 'digest',
        wanted: digest.wanted,
        messageId,
        reason,
        ...(flags.topic ? {} : { noTopic: true as const }),
      }),
    );
  }
  if (failure) {
    throw new DigestNotPublishedError(
      `the digest could not be published to ${flags.topic} (${describe(failure)}); every account's run is saved${options.opened ? ', and `account-auditor runs --org` shows the digest NOT published' : ''}: the digest is printed above`,
      { cause: failure },
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `--format asff|ocsf`: every account's findings in one document; each names its own account. */
async function exportDocument(runs: AccountRun[], flags: Flags): Promise<string> {
  const { renderAsff, renderOcsf, runExportItems } = await import('#lib/report/formats.ts');
  const { hubRegion } = await import('./session.ts');
  const audited = runs.flatMap((r) => (r.pipeline ? [r.pipeline] : []));
  const items = audited.flatMap(runExportItems);
  const first = audited[0]?.result.run;
  const partition = first?.partition ?? 'aws';
  const region = await hubRegion(
    flags,
    audited.flatMap((p) => p.result.run.regions),
  );
  if (flags.format === 'asff') {
    if (!region) throw new UsageError('--format asff needs a region for its ProductArn: set AWS_REGION or pass --region');
    return renderAsff(items, { partition, region, now: new Date() });
  }
  return renderOcsf(items, { partition, region, now: new Date() });
}

/**
 * The digest of the organization run: each account's section, the accounts not audited failed.
 * With a store, the sections are those the accounts stored (read back as the summarize step reads
 * them, mergeSections over each account's line); without one, each from its run in memory.
 */
async function organizationDigest(runs: AccountRun[], options: ReportOptions) {
  const { buildDigest, failedSection, mergeSections, parseSection, sectionFromRun, shouldPublishDigest } = await import(
    '#lib/notify/digest.ts'
  );
  // The digest's states are this run's: an account whose member role could not be assumed is failed, with why.
  const asRun = (r: AccountRun, section: AccountSection): AccountSection =>
    r.pipeline && r.state !== 'complete' ? { ...section, state: r.state, reason: r.reason } : section;
  const inMemory = () =>
    runs.map((r) => {
      const account = { id: r.account.id, name: r.account.name };
      if (!r.pipeline) return failedSection(account, r.reason ?? 'not audited');
      return asRun(r, sectionFromRun(account, r.pipeline));
    });
  let sections: AccountSection[];
  let stored: Awaited<ReturnType<OpenedStore['store']['querySections']>> | null = null;
  if (options.opened) {
    try {
      stored = await options.opened.store.querySections(options.plan.organizationRunId);
    } catch (error) {
      // The same sections, from the runs in memory: the digest still goes out, and the record says it did.
      options.io.stderr(
        `warning: the stored digest sections could not be read (${describe(error)}): the digest is built from this run's results\n`,
      );
    }
  }
  if (stored) {
    const lines = organizationRunRecord(runs, options, { mode: 'digest', wanted: true, messageId: null, reason: '' }).perAccount;
    const merged = mergeSections(
      stored.map((s) => parseSection(s.section, s.accountId)),
      // An account audited (its state in its run) is merged as such; only one not audited at all is failed here.
      lines.map((l, i) => (runs[i]!.pipeline && l.state === 'failed' ? { ...l, state: 'incomplete' as const } : l)),
    );
    const byId = new Map(runs.map((r) => [r.account.id, r]));
    sections = merged.map((s) => {
      const r = byId.get(s.account.id);
      return r ? asRun(r, s) : s;
    });
  } else {
    sections = inMemory();
  }
  const wanted = shouldPublishDigest(sections);
  const alert = buildDigest({
    organizationRunId: options.plan.organizationRunId,
    startedAt: options.startedAt,
    sections,
    ...(options.opened ? { tableName: options.opened.tableName } : {}),
  });
  const reason = wanted ? alert.summary.reason : 'nothing new in any account, and no account in ERROR';
  return { wanted, alert, reason, sections };
}

/** The organization run as `runs --org` lists it: each account's line, the accounts in ERROR (failed first), the totals. */
function organizationRunRecord(
  runs: readonly AccountRun[],
  options: Pick<ReportOptions, 'plan' | 'startedAt'>,
  alert: OrganizationRunRecord['alert'],
): OrganizationRunRecord {
  const perAccount: AccountLine[] = runs.map((r) => {
    const counts = r.pipeline?.result.run.counts;
    return {
      id: r.account.id,
      name: r.account.name,
      state: r.state,
      runId: r.pipeline?.result.run.runId ?? null,
      counts: counts ? { total: counts.total, ...counts.byStatus } : null,
      reason: r.reason,
    };
  });
  const summary = summaryOfLines(
    { organizationRunId: options.plan.organizationRunId, startedAt: options.startedAt, discovery: options.plan.discovery },
    perAccount,
  );
  return { ...summary, summarizedAt: new Date().toISOString(), alert };
}

/** The live plan: the accounts and their SCP chains once, then each account through its member role. */
async function livePlan(context: PlanContext): Promise<Plan> {
  const [{ GetCallerIdentityCommand, STSClient }, { OrganizationsClient }, { discoverRun }, { memberCredentials }, { accountFromArn }] =
    await Promise.all([
      import('@aws-sdk/client-sts'),
      import('@aws-sdk/client-organizations'),
      import('#lib/organization/discover.ts'),
      import('#lib/organization/member-credentials.ts'),
      import('#lib/model/arn.ts'),
    ]);
  const { defaultRegion } = await import('./session.ts');
  const { awsRetryConfig } = await import('#lib/settings.ts');
  const { flags, settings, organization } = context;
  // Organizations and STS answer in any region (Organizations through its global endpoint).
  const region = (await defaultRegion(flags.profile)) ?? 'us-east-1';
  const base = { region, ...(flags.profile ? { profile: flags.profile } : {}) };
  const sts = new STSClient({ ...base, ...awsRetryConfig(settings) });
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    const caller = identity.Arn ? accountFromArn(identity.Arn) : null;
    if (!identity.Account || !caller) {
      throw new AuditorError(
        `sts:GetCallerIdentity named no account (${JSON.stringify({ Account: identity.Account, Arn: identity.Arn })})`,
      );
    }
    const self = { accountId: identity.Account, partition: caller.partition };
    context.progress(`… listing the organization's accounts and their SCPs (as ${identity.Arn})`);
    const {
      output,
      discovery,
      context: found,
    } = await discoverRun({
      settings: organization,
      input: context.run,
      self,
      organizations: (credentials) => new OrganizationsClient({ ...base, maxAttempts: 5, ...(credentials ? { credentials } : {}) }),
      ...(organization.managementRoleArn ? { sts } : {}),
      guardrails: true,
    });
    if (discovery.missing.length > 0) {
      context.progress(`note: --accounts names accounts that are not ACTIVE members of the organization: ${discovery.missing.join(', ')}`);
    }
    const accountIds = found?.context.accountIds ?? discovery.accounts.map((a) => a.id);
    const organizationId = found?.context.organizationId ?? null;
    const chains = found?.reading.accounts;
    return {
      organizationRunId: output.organizationRunId,
      accounts: output.accounts,
      discovery: {
        listed: discovery.listed,
        active: discovery.active,
        filteredOut: discovery.filteredOut.length,
        missing: discovery.missing,
      },
      auditOne: (account) =>
        auditMemberAccount({
          ...context.pipeline,
          publisher: context.publisherFor(output.organizationRunId, account),
          organizationRunId: output.organizationRunId,
          account,
          organization: {
            id: organizationId,
            accountIds,
            // An account the reading does not name: its SCPs are unknown, never "none".
            guardrails: chains?.get(account.id) ?? {
              state: 'unread',
              call: 'organizations:ListPoliciesForTarget',
              reason: `the SCPs of account ${account.id} were not read`,
              kind: 'failed',
            },
          },
          settings,
          credentialsFor: (a) => memberCredentials(a, { organizationRunId: output.organizationRunId, clientConfig: base }),
          live: flags.profile ? { profile: flags.profile } : {},
        }),
    };
  } finally {
    sts.destroy();
  }
}

/** The offline plan: an organization export, each account's folder through the offline collector. */
async function offlinePlan(dir: string, context: PlanContext): Promise<Plan> {
  const { loadAccountExport, loadOrganizationExport, selectExportAccounts } = await import('#lib/organization/offline.ts');
  const { settings, organization } = context;
  const exported = await loadOrganizationExport(dir);
  const organizationRunId = runIdOf(context.run);
  const accountIds = exported.accounts.map((a) => a.id);
  for (const { entry, reason } of exported.ignored) context.progress(`note: ${entry} is not audited: ${reason}`);
  const selection = selectExportAccounts(exported, organization);
  if (selection.missing.length > 0) {
    context.progress(
      `note: --accounts names accounts that are not ACTIVE members of the exported organization: ${selection.missing.join(', ')}`,
    );
  }
  // An account the OU flags cannot be applied to is neither audited nor dropped: it is in ERROR, with why.
  const undecided = new Map(selection.undecided.map((a) => [a.id, a.reason]));
  const chosen = exported.accounts.filter((a) => undecided.has(a.id) || selection.accounts.some((s) => s.id === a.id));
  if (chosen.length === 0) {
    throw new UsageError(
      `no account to audit: the export lists ${accountIds.length} ACTIVE account${accountIds.length === 1 ? '' : 's'}, all left out by --accounts/--exclude-accounts/--ous/--exclude-ous`,
    );
  }
  const origin = dir === DEMO_ORGANIZATION_DIR ? { origin: 'demo' } : {};
  const regions = settings.regions.length > 0 ? { regions: settings.regions } : {};
  // The export names no partition for an account it could not enter; the commercial one is the default.
  const accounts: MapAccount[] = chosen.map((a) => ({
    id: a.id,
    name: a.name,
    roleArn: memberRoleArn('aws', a.id, organization.memberRoleName),
  }));
  return {
    organizationRunId,
    accounts,
    discovery: {
      listed: accountIds.length,
      active: accountIds.length,
      filteredOut: selection.filteredOut.length,
      missing: selection.missing,
    },
    auditOne: async (account) => {
      const why = undecided.get(account.id);
      const entry = exported.accountDirs.get(account.id) ?? { missing: `account ${account.id} has no entry in the export` };
      // An account not audited (its OUs unknown, its folder unloadable) is its organization ERROR, as a
      // failed AssumeRole is: a finding every format reports and the store keeps under the account.
      const folder = `the export's accounts/${account.id}`;
      let refused: Unread | null = null;
      let loaded: Awaited<ReturnType<typeof loadAccountExport>> | null = null;
      if (why !== undefined) refused = unreadSource('the organization export', why, 'NotAudited');
      else if ('dir' in entry) {
        try {
          loaded = await loadAccountExport(entry.dir, account.id, { ...regions, ...origin });
        } catch (error) {
          if (!(error instanceof AuditorError)) throw error;
          refused = unreadSource(folder, error.message, 'InvalidExport');
        }
      } else if ('missing' in entry) refused = unreadSource(folder, entry.missing, 'NoExport');
      return auditMemberAccount({
        ...context.pipeline,
        publisher: context.publisherFor(organizationRunId, account),
        organizationRunId,
        account,
        organization: {
          id: exported.organization.id,
          accountIds,
          guardrails: exported.guardrails.get(account.id) ?? {
            state: 'unread',
            call: 'organizations:ListPoliciesForTarget',
            reason: `the export gives no SCP chain for account ${account.id}`,
            kind: 'missing',
          },
        },
        settings,
        // The export was made with the member role's credentials, or records the AssumeRole that
        // failed; an account it holds neither for is not audited either, and its check says why.
        ...(refused ? { notAudited: refused } : {}),
        credentialsFor: () => {
          if (loaded) return null;
          const failure =
            'assumeRoleError' in entry
              ? { name: entry.assumeRoleError.code, message: entry.assumeRoleError.message }
              : { name: 'NoExport', message: `account ${account.id} has no export` };
          return async () => {
            throw Object.assign(new Error(failure.message), { name: failure.name });
          };
        },
        collect: async (request) => {
          if (!loaded) throw new AccountNotAuditedError(`account ${account.id}: no export was loaded`);
          return { ...loaded, ...(request.organization ? { organization: request.organization } : {}) };
        },
      });
    },
  };
}
