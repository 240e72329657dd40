import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { STSClient } from '@aws-sdk/client-sts';
import { AuditorError } from '#lib/model/errors.ts';
import { discoverAccounts, roleSessionName, type Discovery, type RoleCredentials } from './accounts.ts';
import type { DiscoverInput, DiscoveryOutput, MapAccount } from './contract.ts';
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
export async function discoverRun(options: DiscoverRunOptions): Promise<{ output: DiscoveryOutput; discovery: Discovery }> {
  const id = organizationRunId(options.input);
  const discovery = await discoverAccounts({
    settings: options.settings,
    organizations: options.organizations,
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
  const output: DiscoveryOutput = {
    organizationRunId: id,
    startedAt: options.input.executionStartTime,
    accounts: mapAccounts(discovery, options.settings, options.self),
    discovery: {
      listed: discovery.listed,
      active: discovery.active,
      filteredOut: discovery.filteredOut.length,
      missing: discovery.missing,
      calls: discovery.calls,
    },
  };
  return { output, discovery };
}

/** The account and partition in a Lambda function's ARN (`arn:aws:lambda:eu-west-1:111111111111:function:x`). */
export function selfFromFunctionArn(functionArn: string): { accountId: string; partition: string } {
  const m = /^arn:(aws[a-z-]*):lambda:[^:]*:(\d{12}):function:/.exec(functionArn);
  if (!m) throw new AuditorError(`not a Lambda function ARN: ${JSON.stringify(functionArn)}`);
  return { partition: m[1]!, accountId: m[2]! };
}
