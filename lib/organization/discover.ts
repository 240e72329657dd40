import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { STSClient } from '@aws-sdk/client-sts';
import { AuditorError } from '#lib/model/errors.ts';
import { discoverAccounts, roleSessionName, type Discovery, type RoleCredentials } from './accounts.ts';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import { type DiscoverInput, type DiscoveryOutput, guardrailsKey, type MapAccount, type OrganizationContext } from './contract.ts';
import { type GuardrailReading, readGuardrails } from './guardrails.ts';
import { memberRoleArn, type OrganizationSettings } from './settings.ts';

/** The run selects no account: auditing nothing is not a successful organization run. */
export class NoAccountsError extends AuditorError {}

export interface DiscoverRunOptions {
  settings: OrganizationSettings;
  input: DiscoverInput;
  /** The account and partition the auditor runs in (its function's ARN names both). */
  self: { accountId: string; partition: string };
  organizations: (credentials: RoleCredentials | undefined) => OrganizationsClient;
  sts?: STSClient;
  /**
   * Also read the accounts' SCP chains (readGuardrails, on the discovery's Organizations client)
   * and return the run's organization context; each map account then names its chain's key.
   */
  guardrails?: boolean;
}

/** The organization context of a run, as the discover step writes it, and the reading behind it. */
export interface DiscoveredContext {
  context: OrganizationContext;
  /** Each distinct guardrail chain by its key (GUARDRAILS#…): no-SCP chains (no level) have none. */
  chains: Map<string, Source<GuardrailLevel[]>>;
  /** Each audited account's chain, by account ID, as readGuardrails returned it. */
  reading: GuardrailReading;
}

/** The key of an account's chain item, or null when no SCP applies to it (no level). */
function chainKey(chain: Source<GuardrailLevel[]>): string | null {
  return chain.state === 'read' && chain.data.length === 0 ? null : guardrailsKey(chain);
}

/**
 * The organization run's ID: the execution's start time, compact like a single-account run ID,
 * and its name, so one ID leads to the execution and sorts by time.
 */
export function organizationRunId(input: DiscoverInput): string {
  const started = new Date(input.executionStartTime);
  const time = Number.isNaN(started.getTime()) ? input.executionStartTime : started.toISOString();
  return `${time.replace(/[-:.]/g, '')}-${input.executionName}`.replace(/[^\w.:+=@-]/g, '-').slice(0, 128);
}

/**
 * Each account's map entry: the member role to assume, or null for the account the auditor runs
 * in, which its own role audits (the member role there would only add a hop).
 */
export function mapAccounts(
  discovery: Discovery,
  settings: Pick<OrganizationSettings, 'memberRoleName' | 'externalId'>,
  self: DiscoverRunOptions['self'],
): MapAccount[] {
  return discovery.accounts.map((a) => ({
    id: a.id,
    name: a.name,
    roleArn: a.id === self.accountId ? null : memberRoleArn(self.partition, a.id, settings.memberRoleName),
    ...(settings.externalId !== undefined && a.id !== self.accountId ? { externalId: settings.externalId } : {}),
  }));
}

/** The discover step: the accounts to audit, as the Distributed Map reads them. */
export async function discoverRun(
  options: DiscoverRunOptions,
): Promise<{ output: DiscoveryOutput; discovery: Discovery; context?: DiscoveredContext }> {
  const id = organizationRunId(options.input);
  // The guardrails are read on the client discovery made (with the management role's credentials, when set).
  let client: OrganizationsClient | undefined;
  const discovery = await discoverAccounts({
    settings: options.settings,
    organizations: (credentials) => {
      client = options.organizations(credentials);
      return client;
    },
    ...(options.sts ? { sts: options.sts } : {}),
    sessionName: roleSessionName(`account-auditor-${options.input.executionName}`),
  });
  if (discovery.accounts.length === 0) {
    throw new NoAccountsError(
      `no account to audit: ListAccounts returned ${discovery.listed} accounts, ${discovery.active} ACTIVE, ${discovery.filteredOut.length} left out by the include/exclude settings` +
        (discovery.missing.length > 0
          ? `; includeAccounts names accounts that are not ACTIVE members: ${discovery.missing.join(', ')}`
          : ''),
    );
  }
  let accounts = mapAccounts(discovery, options.settings, options.self);
  let calls = discovery.calls;
  let context: DiscoveredContext | undefined;
  if (options.guardrails && client) {
    context = await organizationContext(id, discovery, client);
    const keys = new Map([...context.reading.accounts].map(([accountId, chain]) => [accountId, chainKey(chain)]));
    // An account the reading does not name keeps no key: unknown, never "no SCP".
    accounts = accounts.map((a) => {
      const key = keys.get(a.id);
      return key === undefined ? a : { ...a, guardrails: key };
    });
    calls = { ...calls };
    for (const [call, n] of Object.entries(context.reading.calls)) calls[call] = (calls[call] ?? 0) + n;
  }
  const output: DiscoveryOutput = {
    organizationRunId: id,
    startedAt: options.input.executionStartTime,
    accounts,
    discovery: {
      listed: discovery.listed,
      active: discovery.active,
      filteredOut: discovery.filteredOut.length,
      missing: discovery.missing,
      calls,
    },
  };
  return { output, discovery, ...(context ? { context } : {}) };
}

/**
 * The run's organization context: the SCP chains of the audited accounts read once
 * (readGuardrails never throws for a failed call: a chain it could not read is an unread source,
 * stored as such), the organization and its ACTIVE accounts.
 */
async function organizationContext(
  organizationRunId: string,
  discovery: Discovery,
  client: OrganizationsClient,
): Promise<DiscoveredContext> {
  const reading = await readGuardrails({ client, accounts: discovery.guardrailAccounts });
  const chains = new Map<string, Source<GuardrailLevel[]>>();
  for (const chain of reading.accounts.values()) {
    const key = chainKey(chain);
    if (key !== null) chains.set(key, chain);
  }
  const accountIds = [...new Set([...discovery.accounts.map((a) => a.id), ...discovery.filteredOut.map((a) => a.id)])];
  return {
    context: { organizationRunId, organizationId: reading.organizationId, managementAccountId: reading.managementAccountId, accountIds },
    chains,
    reading,
  };
}

/** The account and partition in a Lambda function's ARN (`arn:aws:lambda:eu-west-1:111111111111:function:x`). */
export function selfFromFunctionArn(functionArn: string): { accountId: string; partition: string } {
  const m = /^arn:(aws[a-z-]*):lambda:[^:]*:(\d{12}):function:/.exec(functionArn);
  if (!m) throw new AuditorError(`not a Lambda function ARN: ${JSON.stringify(functionArn)}`);
  return { partition: m[1]!, accountId: m[2]! };
}
