/**
 * The Inventory: plain typed data about one account, as collected from live AWS APIs or from
 * files exported with the AWS CLI. No SDK type crosses this boundary, so the checks are pure
 * functions that run the same on live data, exported files and test fixtures.
 */

/**
 * Why a source could not be read, decided where the failure was caught: a denied call (its
 * permission is missing), throttling, data that is not what the source must be, a missing file or
 * entity, the time budget running out, or any other failure (network, service, credentials).
 */
export type FailureKind = 'denied' | 'throttled' | 'invalid' | 'missing' | 'timeBudget' | 'failed';

/**
 * Every piece of collected data says whether it was read. If not, it names the call (or file)
 * that failed and why: a check whose input is `unread` reports ERROR, never PASS. A `skipped`
 * source was not asked for (no selected check reads it); a check that reads it anyway says ERROR too.
 */
export type Source<T> =
  | { state: 'read'; data: T }
  | { state: 'unread'; call: string; reason: string; code?: string; kind: FailureKind }
  | { state: 'skipped'; call: string; reason: string; code?: undefined };

/** A source whose read failed. */
export type Unread = Extract<Source<never>, { state: 'unread' }>;

/** `GetAccountSummary`'s SummaryMap, of which the checks need the root key and MFA counters. */
export interface AccountSummary {
  /** 1 when the root user has at least one access key (active or not), real-time. */
  accountAccessKeysPresent: number;
  accountMfaEnabled: number;
  /** The whole map, for details and future checks. */
  summaryMap: Record<string, number>;
}

export type KeySlotName = 'access_key_1' | 'access_key_2';

/** One access key slot of a credential report row. Dates are ISO 8601 strings or null for `N/A`. */
export interface CredentialReportKey {
  slot: KeySlotName;
  active: boolean;
  /** The key's creation date (AWS calls it last_rotated); null when the slot holds no key. */
  lastRotated: string | null;
  lastUsedDate: string | null;
  lastUsedRegion: string | null;
  lastUsedService: string | null;
}

export interface CredentialReportRow {
  /** `<root_account>` for the root user. */
  user: string;
  arn: string;
  isRoot: boolean;
  userCreationTime: string | null;
  passwordEnabled: boolean | null;
  mfaActive: boolean | null;
  keys: [CredentialReportKey, CredentialReportKey];
}

export interface CredentialReport {
  /** When AWS generated the report (it can be up to 4 hours old). */
  generatedAt: string | null;
  rows: CredentialReportRow[];
}

/**
 * A policy document as found in the account. IAM hands documents over URL-encoded; the collector
 * decodes and parses them. One that cannot be decoded or parsed keeps its error, so that the
 * checks report ERROR for the principals it reaches instead of skipping it.
 */
export type PolicyDocument = { ok: true; document: unknown } | { ok: false; error: string };

export interface InlinePolicy {
  name: string;
  document: PolicyDocument;
}

export interface AttachedPolicyRef {
  name: string;
  arn: string;
}

export interface ManagedPolicy {
  name: string;
  arn: string;
  path: string;
  defaultVersionId: string | null;
  /** The default version's document. */
  document: PolicyDocument;
  awsManaged: boolean;
}

export interface PermissionsBoundaryRef {
  arn: string;
  type: string;
}

export interface IamUser {
  name: string;
  arn: string;
  id: string;
  path: string;
  createDate: string | null;
  groups: string[];
  inlinePolicies: InlinePolicy[];
  attachedPolicies: AttachedPolicyRef[];
  permissionsBoundary: PermissionsBoundaryRef | null;
}

export interface IamGroup {
  name: string;
  arn: string;
  id: string;
  path: string;
  inlinePolicies: InlinePolicy[];
  attachedPolicies: AttachedPolicyRef[];
}

export interface IamRole {
  name: string;
  arn: string;
  id: string;
  path: string;
  createDate: string | null;
  trustPolicy: PolicyDocument;
  inlinePolicies: InlinePolicy[];
  attachedPolicies: AttachedPolicyRef[];
  permissionsBoundary: PermissionsBoundaryRef | null;
}

/** `GetAccountAuthorizationDetails`, all pages merged, every document decoded. */
export interface AuthorizationDetails {
  users: IamUser[];
  groups: IamGroup[];
  roles: IamRole[];
  /** Managed policies (customer and AWS managed) by ARN. */
  policies: Record<string, ManagedPolicy>;
}

export interface CacheCluster {
  id: string;
  arn: string | null;
  engine: string | null;
  status: string | null;
  replicationGroupId: string | null;
}

export interface ReplicationGroup {
  id: string;
  arn: string | null;
  status: string | null;
}

export interface ElastiCacheInventory {
  cacheClusters: CacheCluster[];
  replicationGroups: ReplicationGroup[];
}

export interface DaxCluster {
  name: string;
  arn: string | null;
  status: string | null;
  iamRoleArn: string | null;
}

/** DAX does not exist in every region: `available: false` there is a fact, not a failure. */
export type DaxInventory = { available: true; clusters: DaxCluster[] } | { available: false; reason: string };

export interface RegionInventory extends RegionalSourceFields {
  region: string;
}

/** Real-time access key metadata from `ListAccessKeys`, fetched only for offenders. */
export interface AccessKeyMetadata {
  accessKeyId: string;
  status: 'Active' | 'Inactive' | string;
  createDate: string | null;
}

export interface Inventory extends AccountSourceFields, UserSourceFields {
  accountId: string;
  /** `aws`, `aws-cn`, `aws-us-gov`: needed to build ARNs. */
  partition: string;
  /** Where the inventory came from: `live`, `offline:<dir>`, `demo`. */
  origin: string;
  /** The moment ages are computed against. */
  collectedAt: string;
  regions: RegionInventory[];
  /**
   * The account's AWS Organization, when organization mode knows it (SPEC 8): its ID and the
   * IDs of its accounts count as inside for role trust (SPEC 3.6). Absent: not known.
   */
  organization?: {
    id: string | null;
    accountIds: string[];
    /**
     * The service control policies that apply to the account, one level per entity from the root
     * through each OU down to the account itself (SPEC 8). Read with no level: no SCP applies (the
     * management account, or SCPs not enabled). Absent: not known, and no SCP is evaluated.
     */
    guardrails?: Source<GuardrailLevel[]>;
    /**
     * How the audit got into the account (SPEC 8). Absent outside organization mode.
     */
    access?: OrganizationAccess;
  };
}

/**
 * The member role organization mode assumes in an account, and whether it could: `assumed` is
 * read (with when) once the credentials were obtained, unread naming the sts:AssumeRole call and
 * why (denied, role missing or trust refusing, throttled, timeout) when they could not be.
 */
export interface OrganizationAccess {
  /** null: the auditor's own account, audited with its own role (`assumed.at` null too). */
  roleArn: string | null;
  assumed: Source<{ at: string | null }>;
}

/** One entity of the root → OUs → account chain, and the SCPs attached to it. */
export interface GuardrailLevel {
  kind: 'root' | 'ou' | 'account';
  /** The root (`r-…`), OU (`ou-…`) or account ID. */
  target: string;
  policies: GuardrailPolicy[];
}

/** One SCP attached at a level. A document that could not be read keeps why (the call, the reason). */
export interface GuardrailPolicy {
  id: string;
  name: string;
  arn: string;
  awsManaged: boolean;
  /** The level's entity it is attached to. */
  target: string;
  document: PolicyDocument;
}

/**
 * The sources, by where they sit; the registry (registry.ts) has one definition per input. Each
 * source's folder adds its entry to one of these interfaces (`declare module '../../types.ts'`),
 * so a new source needs no line here. Each account-wide source is a field of the Inventory
 * (`accountSummary: Source<AccountSummary>`, ...), each regional one a field of every
 * RegionInventory, each per-user one a field of the Inventory by user name (users not read are absent).
 */
// biome-ignore lint/suspicious/noEmptyInterface: each source's folder adds its entry
export interface AccountSources {}
// biome-ignore lint/suspicious/noEmptyInterface: each source's folder adds its entry
export interface RegionalSources {}
// biome-ignore lint/suspicious/noEmptyInterface: each source's folder adds its entry
export interface UserSources {}

export type AccountInput = keyof AccountSources;
export type RegionalInput = keyof RegionalSources;
export type UserInput = keyof UserSources;

/** The parts of the Inventory a check can read (lib/checks/catalogue.ts names each check's). */
export type InventoryInput = AccountInput | RegionalInput | UserInput;

export type AccountSourceFields = { [I in AccountInput]: Source<AccountSources[I]> };
export type RegionalSourceFields = { [I in RegionalInput]: Source<RegionalSources[I]> };
export type UserSourceFields = { [I in UserInput]: Record<string, Source<UserSources[I]>> };
