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
import { unreadSource } from '#lib/inventory/failure.ts';
import type { Inventory, OrganizationAccess, Source, Unread } from '#lib/inventory/types.ts';
import { AuditorError } from '#lib/model/errors.ts';
import { accountFromArn } from '#lib/model/arn.ts';
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
  /**
   * Why the account cannot be audited before any credential is asked for (an offline export that
   * holds nothing readable for it): the `organization` check's ERROR names this call and reason.
   */
  notAudited?: Unread;
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
  const credentials = options.notAudited ? null : credentialsFor(account);

  let assumed: Source<{ at: string | null }>;
  if (options.notAudited) assumed = options.notAudited;
  else if (credentials === null) assumed = { state: 'read', data: { at: null } };
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

  const unaudited = async (failed: Unread): Promise<MemberAuditResult> => {
    const denied: OrganizationAccess = { roleArn: account.roleArn, assumed: failed };
    const pipeline = await auditAndRecord({
      ...pipelineBase,
      settings: { ...options.settings, checks: ['organization'] },
      collect: async () => unauditedInventory(account, { ...options.organization, access: denied }, now()),
    });
    return { pipeline, state: 'failed', access: denied };
  };
  if (assumed.state !== 'read') return unaudited(assumed);

  const settings: Settings = { ...options.settings, checks: memberChecks(options.settings) };
  const collect = options.collect ?? ((request: LiveRequest) => collectLive(liveOptions(request)));
  try {
    const pipeline = await auditAndRecord({
      ...pipelineBase,
      settings,
      collect: async () =>
        ofAccount(
          account,
          await collect({
            ...options.live,
            settings,
            organization,
            ...(credentials ? { credentials: credentials as SdkCredentials } : {}),
          }),
        ),
    });
    return { pipeline, state: pipeline.result.run.complete ? 'complete' : 'incomplete', access };
  } catch (error) {
    // Nothing was saved: the collection is the pipeline's first step.
    if (error instanceof OtherAccountError) return unaudited(unreadSource('sts:GetCallerIdentity', error.message, 'OtherAccount'));
    throw error;
  }
}

/** The credentials handed over for one account belong to another: auditing them would store findings under the wrong account. */
export class OtherAccountError extends AuditorError {}

/**
 * The collected inventory, checked to be the map item's account: the item is authoritative when
 * the collection could not tell (`unknown`), and an inventory of another account is refused.
 */
function ofAccount(account: MapAccount, inventory: Inventory): Inventory {
  if (inventory.accountId === account.id) return inventory;
  if (inventory.accountId === 'unknown') return { ...inventory, accountId: account.id };
  throw new OtherAccountError(
    `the credentials for account ${account.id}${account.roleArn ? ` (${account.roleArn})` : ''} belong to account ${inventory.accountId}: nothing of either account was audited`,
  );
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
