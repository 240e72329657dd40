import { setMaxListeners } from 'node:events';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { sectionPublisher } from '#lib/audit/organization-report.ts';
import { type LiveRequest, liveOptions } from '#lib/audit/collect.ts';
import { auditMemberAccount } from '#lib/audit/member-audit.ts';
import type { AlertPublisher } from '#lib/audit/ports.ts';
import { auditAndRecord, unsavedRun } from '#lib/audit/pipeline.ts';
import { collectLive } from '#lib/inventory/live.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import type { Alert } from '#lib/notify/alert.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { type MapItem, ORGANIZATION_ENV } from '#lib/organization/contract.ts';
import { type CredentialProvider, memberCredentials } from '#lib/organization/member-credentials.ts';
import { type OrganizationSettings, parseOrganizationSettings } from '#lib/organization/settings.ts';
import { OrganizationContextStore } from '#lib/store/organization-context.ts';
import { awsRetryConfig, type Settings } from '#lib/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { ConfigurationError, type DeployedConfig, loadConfig } from './config.ts';
import { type AuditRequest, parseEvent, PayloadError } from './event.ts';
import { recordRunMetrics } from './metrics.ts';
import { type AuditSummary, summarize } from './summary.ts';

export interface AuditHandlerDeps {
  /** The findings table's client; the table itself is named by the environment. */
  dynamodb: DynamoDBClient;
  /** The alert topic's client (the topic's region). */
  sns: SNSClient;
  logger: Logger;
  metrics: Metrics;
  /** The Security Hub client for a run with the securityHub setting on, in the function's region; made on demand by default. */
  securityHub?: (region: string, settings: Settings) => SecurityHubClient;
  /** Where the deployment's configuration is read from; process.env in Lambda. */
  env?: Record<string, string | undefined>;
  /**
   * Produces the inventory; the live AWS APIs by default. `signal` aborts when the time budget
   * runs out: what is not read by then must come back unread, never be waited for.
   */
  collect?: (settings: Settings, progress: (message: string) => void, signal: AbortSignal) => Promise<Inventory>;
  /**
   * Time kept back from the Lambda timeout to reconcile, save and alert after collection stops.
   * Default: 60 s, or a quarter of the time left when the function has less than 4 minutes.
   */
  reserveMs?: number;
  /**
   * Organization mode, digest alerts (the default): where one account's alert section goes
   * instead of SNS. Called where the pipeline would publish the account's alert, so before its
   * run is saved: a crash between the two reports the account again next night rather than
   * losing it (SPEC 8, design item 4). `alert` is the single-account alert, selected as it
   * selects (new, regressed, resolved, ERROR); the pipeline's other alert of the account, "state
   * not saved" (its `alertType` attribute says which), comes the same way. Default:
   * sectionPublisher (lib/audit/organization-report.ts), the section into the findings table.
   */
  onAccountAudited?: (audited: AccountAudited) => Promise<{ messageId: string }>;
  /** Organization mode: the member role's credentials for a map item; memberCredentials by default. */
  credentialsFor?: (item: MapItem) => CredentialProvider | null;
  /** Organization mode: the collection of a member account; collectLive by default. */
  collectMember?: (request: LiveRequest) => Promise<Inventory>;
}

/** One audited account of an organization run, handed to `onAccountAudited`. */
export interface AccountAudited {
  item: MapItem;
  alert: Alert<unknown>;
}

const collectFromAws = (settings: Settings, progress: (message: string) => void, signal: AbortSignal): Promise<Inventory> =>
  collectLive(liveOptions({ settings, onProgress: progress, signal }));

export const DEFAULT_RESERVE_MS = 60_000;

/**
 * Aborts collection `reserve` before the invocation would time out, so that a slow account, a
 * credential report that never finishes or a throttled API still ends in a stored, alerted run
 * (unread sources, their checks in ERROR) instead of a silent kill at the timeout.
 */
function timeBudget(
  context: Context,
  reserveMs: number | undefined,
): { signal: AbortSignal; stopsInMs: number | null; dispose: () => void } {
  const controller = new AbortController();
  // Every AWS call in flight listens to the budget: the collector's concurrency, not a leak.
  setMaxListeners(100, controller.signal);
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Number.NaN;
  if (!Number.isFinite(remaining)) return { signal: controller.signal, stopsInMs: null, dispose: () => {} };
  const reserve = reserveMs ?? Math.min(DEFAULT_RESERVE_MS, remaining / 4);
  const stopsInMs = Math.max(0, Math.floor(remaining - reserve));
  const timer = setTimeout(() => controller.abort(new Error('time budget exhausted')), stopsInMs);
  return { signal: controller.signal, stopsInMs, dispose: () => clearTimeout(timer) };
}

/**
 * The audit function: the event becomes a request (scheduled, or an on-demand payload that may only
 * narrow the deployment), the shared pipeline runs it, and the invocation returns a compact summary.
 * Configuration is read on the first invocation rather than at import, so bundling or synthesizing
 * the stack never needs the function's environment; a bad configuration then fails every
 * invocation with the variable named, before anything is read.
 */
export function createAuditHandler(deps: AuditHandlerDeps) {
  const { logger, metrics } = deps;
  const env = deps.env ?? process.env;
  const collect = deps.collect ?? collectFromAws;
  let config: DeployedConfig | undefined;
  let hubClient: SecurityHubClient | undefined;
  // Security Hub in the function's own region: the stack grants the default product there.
  const securityHubFor = (settings: Settings, region: string | null) => {
    if (!settings.securityHub) return null;
    if (!region) {
      logger.error('securityHub is on but the function has no AWS_REGION: nothing is imported into Security Hub');
      return null;
    }
    hubClient ??= deps.securityHub?.(region, settings) ?? new SecurityHubClient({ region, ...awsRetryConfig(settings) });
    return { client: hubClient, region };
  };

  let organizationSettings: OrganizationSettings | undefined;
  const organizationSettingsOf = (): OrganizationSettings => {
    if (organizationSettings) return organizationSettings;
    const raw = env[ORGANIZATION_ENV.settings];
    let value: unknown = {};
    try {
      if (raw !== undefined && raw.trim() !== '') value = JSON.parse(raw);
      organizationSettings = parseOrganizationSettings(value);
    } catch (error) {
      throw new ConfigurationError(`configuration error: ${ORGANIZATION_ENV.settings}: ${(error as Error).message}`, { cause: error });
    }
    return organizationSettings;
  };

  /**
   * One account of an organization run: its context from the table (CONTEXT and its chain item),
   * then auditMemberAccount. Digest mode hands the account's alert to onAccountAudited; per-account
   * mode publishes it. The summary keeps what the state machine's ResultSelector reads.
   */
  const auditMapItem = async (item: MapItem, request: AuditRequest, config: DeployedConfig, budget: ReturnType<typeof timeBudget>) => {
    const orgSettings = organizationSettingsOf();
    logger.appendKeys({ organizationRunId: item.organizationRunId, accountId: item.account.id });
    const context = await new OrganizationContextStore({
      client: deps.dynamodb,
      tableName: config.tableName,
      historyTtlDays: request.settings.historyTtlDays,
    }).readMemberContext(item.organizationRunId, item.account.guardrails);
    if (context.problems.length > 0)
      logger.warn('the organization context could not be read in full: the checks that need it say ERROR', { problems: context.problems });

    // Waiting for an overlapping run's lease must not eat the time kept to save and alert.
    const store = new FindingsStore({
      client: deps.dynamodb,
      tableName: config.tableName,
      historyTtlDays: request.settings.historyTtlDays,
      leaseWaitMs: 20_000,
    });
    const topic = snsPublisher(deps.sns, config.topicArn);
    let publisher: AlertPublisher = topic;
    if (orgSettings.alerts === 'digest') {
      const onAccountAudited = deps.onAccountAudited ?? sectionPublisher(store, topic);
      publisher = { publish: (alert) => onAccountAudited({ item, alert }) };
    }
    const credentialsFor =
      deps.credentialsFor ??
      ((i: MapItem) =>
        memberCredentials(i.account, {
          organizationRunId: i.organizationRunId,
          ...(config.defaultRegion ? { clientConfig: { region: config.defaultRegion } } : {}),
        }));
    const result = await auditMemberAccount({
      organizationRunId: item.organizationRunId,
      account: item.account,
      organization: context.organization,
      settings: request.settings,
      trigger: request.trigger,
      credentialsFor: () => credentialsFor(item),
      live: { onProgress: (message) => logger.debug(message), signal: budget.signal },
      ...(deps.collectMember ? { collect: deps.collectMember } : {}),
      store,
      publisher,
      tableName: config.tableName,
    });
    if (result.state === 'failed')
      logger.error('the member role could not be assumed: the account is reported in ERROR', {
        roleArn: item.account.roleArn,
        access: result.access.assumed,
      });
    return {
      pipeline: result.pipeline,
      organization: {
        organizationRunId: item.organizationRunId,
        accountName: item.account.name,
        state: result.state,
        alerts: orgSettings.alerts,
      } satisfies NonNullable<AuditSummary['organization']>,
    };
  };

  const audit = async (event: unknown, context: Context): Promise<AuditSummary> => {
    const budget = timeBudget(context, deps.reserveMs);
    budget.signal.addEventListener(
      'abort',
      () =>
        logger.warn('time budget exhausted: collection stopped to save and alert before the timeout', { stoppedAfterMs: budget.stopsInMs }),
      { once: true },
    );
    let parsed: ReturnType<typeof parseEvent> | undefined;
    const started = performance.now();
    try {
      config ??= loadConfig(env);
      const request = parseEvent(event, config);
      parsed = request;
      logger.appendKeys({ trigger: request.trigger, dryRun: request.dryRun });
      logger.info('audit started', {
        checks: request.settings.checks.length > 0 ? request.settings.checks : 'all',
        regions: request.settings.regions.length > 0 ? request.settings.regions : 'default',
        notify: request.notify,
        ...(request.event ? { scheduledEvent: request.event } : {}),
      });

      let organization: AuditSummary['organization'];
      const pipeline = request.mapItem
        ? await auditMapItem(request.mapItem, request, config, budget).then((r) => {
            organization = r.organization;
            return r.pipeline;
          })
        : await auditAndRecord({
            collect: () => collect(request.settings, (message) => logger.debug(message), budget.signal),
            settings: request.settings,
            trigger: request.trigger,
            // A dry run still reads the state: what is new is the point of previewing.
            // Waiting for an overlapping run's lease must not eat the time kept to save and alert.
            store: new FindingsStore({
              client: deps.dynamodb,
              tableName: config.tableName,
              historyTtlDays: request.settings.historyTtlDays,
              leaseWaitMs: 20_000,
            }),
            publisher: request.notify ? snsPublisher(deps.sns, config.topicArn) : null,
            tableName: config.tableName,
            dryRun: request.dryRun,
            securityHub: securityHubFor(request.settings, config.defaultRegion),
          });
      const durationMs = Math.round(performance.now() - started);

      logger.appendKeys({ runId: pipeline.reconciled.run.runId });
      recordRunMetrics(metrics, pipeline, durationMs);
      const summary: AuditSummary = { ...summarize(pipeline, request, durationMs), ...(organization ? { organization } : {}) };
      const { counts, checksInError, complete, saved, alert, securityHub } = summary;
      logger.info('audit finished', { complete, counts, checksInError: checksInError.map((c) => c.checkId), saved, alert, securityHub });
      if (securityHub && securityHub.failedCount > 0)
        logger.error('findings were not imported into Security Hub; the run is saved and alerted', { securityHub });
      if (!complete)
        logger.warn('the audit is incomplete: some checks could not read their data', {
          checksInError,
          sourcesNotRead: summary.sourcesNotRead,
        });
      return summary;
    } catch (error) {
      if (error instanceof PayloadError)
        logger.warn('payload rejected; nothing was read, written or published', { problems: error.problems });
      else if (error instanceof ConfigurationError) logger.error('the function is misconfigured', error);
      else logger.error('the audit failed', error as Error);
      // The run was evaluated (and alerted) before its save failed: its report goes to the logs.
      const evaluated = unsavedRun(error);
      if (evaluated && parsed)
        logger.error('the audit ran but its state was not saved; the next run reports its findings as new again', {
          report: summarize(evaluated, parsed, Math.round(performance.now() - started)),
        });
      throw error;
    } finally {
      budget.dispose();
    }
  };

  // resetKeys: the run ID and trigger of one invocation must not label the next one's logs.
  return middy(audit)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

export type AuditHandler = ReturnType<typeof createAuditHandler>;
