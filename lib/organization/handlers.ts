import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { STSClient } from '@aws-sdk/client-sts';
import type { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { AuditorError } from '#lib/model/errors.ts';
import type { RoleCredentials } from './accounts.ts';
import {
  discoverInputSchema,
  type DiscoveryOutput,
  ORGANIZATION_ENV,
  type OrganizationContextWriter,
  organizationRunIdSchema,
  type SummarizeInput,
} from './contract.ts';
import { discoverRun, selfFromFunctionArn } from './discover.ts';
import { parseOrganizationSettings, type OrganizationSettings } from './settings.ts';
import { assertAudited, compactSummary, summarizeOrganizationRun, type OrganizationSummary } from './summary.ts';

/** The part of Lambda's context these handlers read. */
export interface FunctionContext {
  invokedFunctionArn: string;
}

/** The state machine handed a step something else than the contract says. */
export class StepInputError extends AuditorError {}

function parseInput<T>(schema: z.ZodType<T>, event: unknown, step: string): T {
  const result = schema.safeParse(event);
  if (!result.success) {
    throw new StepInputError(
      `invalid ${step} input: ${result.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
    );
  }
  return result.data;
}

/** Reads ORGANIZATION_SETTINGS once per execution environment; a bad value fails every invocation, naming the field. */
function settingsFrom(env: Record<string, string | undefined>): OrganizationSettings {
  const raw = env[ORGANIZATION_ENV.settings];
  let value: unknown = {};
  if (raw !== undefined && raw !== '') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new AuditorError(`${ORGANIZATION_ENV.settings} is not valid JSON: ${(error as Error).message}`);
    }
  }
  return parseOrganizationSettings(value);
}

export interface DiscoverHandlerDeps {
  logger: Pick<Logger, 'info' | 'warn'>;
  organizations: (credentials: RoleCredentials | undefined) => OrganizationsClient;
  /** Made only when the settings name a management role. */
  sts: () => STSClient;
  /**
   * Where the run's organization context goes (the findings table, lib/store/organization-context.ts),
   * made on the first invocation from the environment, so that a misconfigured one fails naming it.
   */
  context: (env: Record<string, string | undefined>) => OrganizationContextWriter;
  env?: Record<string, string | undefined>;
}

/**
 * The discover step: lists the organization's accounts, reads their SCP chains once, writes the
 * run's organization context (design item 3) and returns the map's items, each naming its chain.
 * The context is written before the items are returned: no account's audit starts without it.
 */
export function createDiscoverHandler(deps: DiscoverHandlerDeps) {
  let settings: OrganizationSettings | undefined;
  let writer: OrganizationContextWriter | undefined;
  return async (event: unknown, context: FunctionContext): Promise<DiscoveryOutput> => {
    const env = deps.env ?? process.env;
    settings ??= settingsFrom(env);
    writer ??= deps.context(env);
    const input = parseInput(discoverInputSchema, event, 'discover');
    const {
      output,
      discovery,
      context: organization,
    } = await discoverRun({
      settings,
      input,
      self: selfFromFunctionArn(context.invokedFunctionArn),
      organizations: deps.organizations,
      ...(settings.managementRoleArn !== undefined ? { sts: deps.sts() } : {}),
      guardrails: true,
    });
    if (organization) {
      const { calls: _calls, ...counted } = output.discovery;
      await writer.writeContext(organization.context, organization.chains, {
        startedAt: output.startedAt,
        accounts: output.accounts,
        discovery: counted,
        alerts: settings.alerts,
      });
      const unread = [...organization.reading.accounts].filter(([, chain]) => chain.state !== 'read');
      deps.logger.info('organization context written', {
        organizationRunId: output.organizationRunId,
        organizationId: organization.context.organizationId,
        managementAccountId: organization.context.managementAccountId,
        guardrailChains: organization.chains.size,
        attachments: organization.reading.strategy,
      });
      if (unread.length > 0)
        deps.logger.warn('the SCPs of some accounts could not be read: their full-access checks will say ERROR', {
          accounts: unread.length,
          first: unread
            .slice(0, 20)
            .map(([id, chain]) => ({ id, ...(chain.state === 'unread' ? { call: chain.call, reason: chain.reason } : {}) })),
        });
    }
    if (discovery.missing.length > 0)
      deps.logger.warn('includeAccounts names accounts that are not ACTIVE members of the organization', { missing: discovery.missing });
    deps.logger.info('accounts discovered', {
      organizationRunId: output.organizationRunId,
      accounts: output.accounts.length,
      ...output.discovery,
      filteredOut: discovery.filteredOut,
    });
    return output;
  };
}

const summarizeInputSchema = z.object({
  organizationRunId: organizationRunIdSchema,
  startedAt: z.string(),
  discovery: z.looseObject({
    listed: z.number(),
    active: z.number(),
    filteredOut: z.number(),
    missing: z.array(z.string()),
    calls: z.record(z.string(), z.number()),
  }),
  accounts: z.array(z.unknown()),
}) satisfies z.ZodType<SummarizeInput>;

/** Per-account lines per log entry: a CloudWatch Logs event holds 256 KB. */
export const ACCOUNT_LINES_PER_LOG_ENTRY = 200;

/** What reporting the run returned: whether a message was due, and its SNS message ID when published. */
export interface SummarizeReport {
  wanted: boolean;
  messageId: string | null;
  /** A retried step found the run already reported and published nothing. */
  repeated: boolean;
}

export interface SummarizeHandlerDeps {
  logger: Pick<Logger, 'info' | 'error'>;
  /**
   * Records the run and publishes its message (the digest, or in per-account mode the accounts
   * that failed outright): lib/audit/organization-report.ts over the table and the topic, wired in
   * functions/organization-summarize.ts, since the store and the alerts are downstream of this stage.
   */
  report: (summary: OrganizationSummary, settings: OrganizationSettings) => Promise<SummarizeReport>;
  env?: Record<string, string | undefined>;
}

/**
 * The summarize step: the organization summary, logged in full (per-account lines in chunks),
 * recorded and alerted (report), and returned compact. Throws when no account was audited, which
 * fails the execution, after the run is recorded and its accounts alerted.
 */
export function createSummarizeHandler(deps: SummarizeHandlerDeps) {
  let settings: OrganizationSettings | undefined;
  return async (event: unknown): Promise<ReturnType<typeof compactSummary> & { alert: SummarizeReport }> => {
    settings ??= settingsFrom(deps.env ?? process.env);
    const input = parseInput(summarizeInputSchema, event, 'summarize');
    const summary: OrganizationSummary = summarizeOrganizationRun(input);
    const compact = compactSummary(summary);
    deps.logger.info('organization run', { ...compact, inError: summary.inError });
    for (let i = 0; i < summary.perAccount.length; i += ACCOUNT_LINES_PER_LOG_ENTRY) {
      deps.logger.info('organization run accounts', {
        organizationRunId: summary.organizationRunId,
        from: i,
        accounts: summary.perAccount.slice(i, i + ACCOUNT_LINES_PER_LOG_ENTRY),
      });
    }
    let alert: SummarizeReport;
    try {
      alert = await deps.report(summary, settings);
    } catch (error) {
      deps.logger.error('organization run not reported', {
        organizationRunId: summary.organizationRunId,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      throw error;
    }
    deps.logger.info('organization run reported', { organizationRunId: summary.organizationRunId, mode: settings.alerts, ...alert });
    try {
      assertAudited(summary);
    } catch (error) {
      deps.logger.error('organization run failed', { organizationRunId: summary.organizationRunId, error: (error as Error).message });
      throw error;
    }
    return { ...compact, alert };
  };
}
