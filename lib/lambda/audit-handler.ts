import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { liveOptions } from '#lib/audit/collect.ts';
import { auditAndRecord, unsavedRun } from '#lib/audit/pipeline.ts';
import { collectLive } from '#lib/inventory/live.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { awsRetryConfig, type Settings } from '#lib/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { ConfigurationError, type DeployedConfig, loadConfig } from './config.ts';
import { parseEvent, PayloadError } from './event.ts';
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

      const pipeline = await auditAndRecord({
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
      const summary = summarize(pipeline, request, durationMs);
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
