/**
 * One account of an organization run (SPEC 8, design items 1 and 2): the single-account pipeline
 * on the member role's credentials, with the organization context on the inventory. The Lambda
 * (a Distributed Map item) and the command line's pool (`run --org`) both call it.
 *
 * The credentials are resolved once before anything else: that is the AssumeRole check. When it
 * fails, the account's run evaluates the `organization` check alone (one ERROR naming the role and
 * why) and reads nothing, so none of the account's other findings is resolved by a run that could
 * not look; it is saved and alerted like any run. When it works, the run is the settings' checks
 * plus `organization` (its PASS: access checked).
 *
 * It lives in lib/audit, not lib/organization: it runs the pipeline, which collection may not import.
 */
import { DEFAULT_CHECK_IDS, type CheckId } from '#lib/checks/catalogue.ts';
import { collectLive, type SdkCredentials } from '#lib/inventory/live.ts';
import { isAccountSource, isUserSource } from '#lib/inventory/definition.ts';
import { SOURCES } from '#lib/inventory/registry.ts';
import type { Inventory, OrganizationAccess, Source } from '#lib/inventory/types.ts';
import { accountFromArn } from '#lib/model/arn.ts';
import { AuditorError } from '#lib/model/errors.ts';
import type { Trigger } from '#lib/model/run.ts';
import type { MapAccount } from '#lib/organization/contract.ts';
import { assumeRoleFailure, type CredentialProvider, memberCredentials } from '#lib/organization/member-credentials.ts';
import type { Settings } from '#lib/settings.ts';
import { type LiveRequest, liveOptions } from './collect.ts';
import { auditAndRecord, type PipelineOptions, type PipelineResult } from './pipeline.ts';

/** What an account's audit knows of its organization: the inventory's organization without the access, which it adds. */
export type OrganizationContextOf = Omit<NonNullable<Inventory['organization']>, 'access'>;

/** complete: audited, every check read its data; incomplete: audited, some check in ERROR; failed: the role could not be assumed. */
export type MemberAuditState = 'complete' | 'incomplete' | 'failed';

export interface MemberAuditOptions {
  organizationRunId: string;
  account: MapAccount;
  /** From the organization context (the table in Lambda, the discovery in-process on the command line). */
  organization: OrganizationContextOf;
  settings: Settings;
  trigger: Trigger;
  /**
   * The account's credentials: a provider the collection's clients share, or null to use the
   * caller's own (the auditor's own account). Default: memberCredentials (fromTemporaryCredentials,
   * RoleSessionName naming the run, the account's ExternalId, one hour, refreshed before expiry).
   */
  credentialsFor?: (account: MapAccount) => CredentialProvider | null;
  /** The collection's other options (progress, time budget, profile, retry strategy); the settings give the rest. */
  live?: Omit<LiveRequest, 'settings' | 'credentials' | 'organization'>;
  /** Produces the inventory; collectLive by default. Tests and the offline reader substitute it. */
  collect?: (request: LiveRequest) => Promise<Inventory>;
  store?: PipelineOptions['store'];
  publisher?: PipelineOptions['publisher'];
  tableName?: string;
  dryRun?: boolean;
  now?: () => Date;
}

export interface MemberAuditResult {
  pipeline: PipelineResult;
  state: MemberAuditState;
  /** How the audit got into the account: the `organization` check's input. */
  access: OrganizationAccess;
}

/** The credentials of an account's audit reached another account (a map item whose role or own account is wrong). */
export class MemberAccountMismatchError extends AuditorError {}

/** The checks of an account's audit: the settings' (their default when none) and `organization`. */
export function memberChecks(settings: Settings): CheckId[] {
  return [...new Set<CheckId>([...(settings.checks.length > 0 ? settings.checks : DEFAULT_CHECK_IDS), 'organization'])];
}

/**
 * Audits one account of the organization run. Throws only what the pipeline throws (a state that
 * could not be saved, an alert that could not be published): a failed AssumeRole is a result.
 */
export async function auditMemberAccount(options: MemberAuditOptions): Promise<MemberAuditResult> {
  const { account } = options;
  const now = options.now ?? (() => new Date());
  const credentialsFor =
    options.credentialsFor ?? ((a: MapAccount) => memberCredentials(a, { organizationRunId: options.organizationRunId }));
  const credentials = credentialsFor(account);

  let assumed: Source<{ at: string | null }>;
  if (credentials === null) assumed = { state: 'read', data: { at: null } };
  else {
    const at = now().toISOString();
    try {
      await credentials();
      assumed = { state: 'read', data: { at } };
    } catch (error) {
      assumed = assumeRoleFailure(error);
    }
  }
  const access: OrganizationAccess = { roleArn: account.roleArn, assumed };
  const organization = { ...options.organization, access };
  const pipelineBase = {
    trigger: options.trigger,
    ...(options.store !== undefined ? { store: options.store } : {}),
    ...(options.publisher !== undefined ? { publisher: options.publisher } : {}),
    ...(options.tableName !== undefined ? { tableName: options.tableName } : {}),
    ...(options.dryRun !== undefined ? { dryRun: options.dryRun } : {}),
    ...(options.now ? { now: options.now } : {}),
  };

  if (assumed.state !== 'read') {
    const settings: Settings = { ...options.settings, checks: ['organization'] };
    const pipeline = await auditAndRecord({
      ...pipelineBase,
      settings,
      collect: async () => unauditedInventory(account, organization, now()),
    });
    return { pipeline, state: 'failed', access };
  }

  const settings: Settings = { ...options.settings, checks: memberChecks(options.settings) };
  const collect = options.collect ?? ((request: LiveRequest) => collectLive(liveOptions(request)));
  const pipeline = await auditAndRecord({
    ...pipelineBase,
    settings,
    collect: async () => {
      const inventory = await collect({
        ...options.live,
        settings,
        organization,
        ...(credentials ? { credentials: credentials as SdkCredentials } : {}),
      });
      // Findings are keyed by the inventory's account: another account's would pass for the item's.
      if (/^\d{12}$/.test(inventory.accountId) && inventory.accountId !== account.id) {
        throw new MemberAccountMismatchError(
          `the audit of account ${account.id} collected account ${inventory.accountId}: its findings would be filed under the wrong account`,
        );
      }
      return inventory;
    },
  });
  return { pipeline, state: pipeline.result.run.complete ? 'complete' : 'incomplete', access };
}

/**
 * The inventory of an account that could not be entered: its identity from the map item, every
 * source skipped (nothing was read, nothing is claimed), the organization with its failed access.
 */
function unauditedInventory(account: MapAccount, organization: NonNullable<Inventory['organization']>, at: Date): Inventory {
  const partition = (account.roleArn ? accountFromArn(account.roleArn)?.partition : null) ?? 'aws';
  const reason = 'not read: the member role could not be assumed';
  const sources: Record<string, unknown> = {};
  for (const s of SOURCES) {
    if (isAccountSource(s)) sources[s.input] = { state: 'skipped', call: s.call, reason };
    else if (isUserSource(s)) sources[s.input] = {};
  }
  return {
    ...(sources as Omit<Inventory, 'accountId' | 'partition' | 'origin' | 'collectedAt' | 'regions' | 'organization'>),
    accountId: account.id,
    partition,
    origin: 'live',
    collectedAt: at.toISOString(),
    regions: [],
    organization,
  } as Inventory;
}
