import {
  type Account,
  type ChildType,
  type OrganizationsClient,
  paginateListAccounts,
  paginateListChildren,
} from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, type STSClient, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import { AuditorError } from '#lib/model/errors.ts';
import type { GuardrailAccount } from './guardrails.ts';
import { roleSessionName } from './session-name.ts';
import type { OrganizationSettings } from './settings.ts';

/** One account of the organization, as the discovery keeps it. */
export interface OrganizationAccount {
  id: string;
  name: string;
  email?: string;
  /**
   * The organizational units known to contain the account, outermost first: the path from an OU
   * named in includeOus/excludeOus down to the account's parent. Discovery walks only the OUs the
   * settings name, so this is empty when they name none, and never goes above the named OU.
   */
  ous: string[];
}

/** An ACTIVE account the settings leave out, and which setting did. */
export interface FilteredAccount {
  id: string;
  name: string;
  reason: string;
}

export interface Discovery {
  /** The accounts to audit, in ListAccounts order. */
  accounts: OrganizationAccount[];
  /** Accounts ListAccounts returned, active or not. */
  listed: number;
  active: number;
  /** ACTIVE accounts the include/exclude settings leave out. */
  filteredOut: FilteredAccount[];
  /** Accounts named in includeAccounts that ListAccounts did not return as ACTIVE (a typo, a closed account). */
  missing: string[];
  /** AWS calls made, by IAM action (`organizations:ListAccounts`: one per page). */
  calls: Record<string, number>;
  /** The accounts to audit as the SCP reader takes them (lib/organization/guardrails.ts): ARN and Paths as listed. */
  guardrailAccounts: GuardrailAccount[];
}

/** The temporary credentials of the management role, as SDK clients take them. */
export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration?: Date;
}

export interface DiscoveryOptions {
  settings: Pick<OrganizationSettings, 'managementRoleArn' | 'includeAccounts' | 'excludeAccounts' | 'includeOus' | 'excludeOus'>;
  /**
   * Makes the Organizations client: with the management role's credentials when
   * `managementRoleArn` is set, with none (the caller's own, as a delegated administrator) otherwise.
   */
  organizations: (credentials: RoleCredentials | undefined) => OrganizationsClient;
  /** Assumes the management role; needed only with `managementRoleArn`. */
  sts?: STSClient;
  /** The management role's session name (names the run in the management account's CloudTrail). */
  sessionName?: string;
}

/** The largest page ListAccounts and ListChildren serve. */
export const ORGANIZATIONS_PAGE_SIZE = 20;

/** AccountState (and the older AccountStatus) of an account that can be audited. */
const ACTIVE = 'ACTIVE';

/**
 * An AWS call of the discovery failed: `call` names it as an IAM action (`sts:AssumeRole`,
 * `organizations:ListAccounts`, `organizations:ListChildren`), `target` what it was called on
 * (the role, the OU), `code` the service's error name. The run cannot choose accounts without it.
 */
export class OrganizationCallError extends AuditorError {
  readonly call: string;
  readonly target: string | undefined;
  readonly code: string | undefined;

  constructor(call: string, target: string | undefined, cause: unknown) {
    const code = errorCode(cause);
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${call}${target ? ` on ${target}` : ''} failed${code ? ` (${code})` : ''}: ${reason}`, { cause });
    this.call = call;
    this.target = target;
    this.code = code;
  }
}

/** Organizations answered something discovery cannot use (an account without an ID). */
export class OrganizationResponseError extends AuditorError {}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  if (typeof Code === 'string') return Code;
  return typeof name === 'string' && name !== 'Error' ? name : undefined;
}

export { roleSessionName } from './session-name.ts';

class CallCounter {
  readonly calls: Record<string, number> = {};

  count(call: string): void {
    this.calls[call] = (this.calls[call] ?? 0) + 1;
  }
}

async function managementCredentials(options: DiscoveryOptions, counter: CallCounter): Promise<RoleCredentials | undefined> {
  const roleArn = options.settings.managementRoleArn;
  if (roleArn === undefined) return undefined;
  if (!options.sts) throw new AuditorError('managementRoleArn is set but no STS client was given to assume it');
  counter.count('sts:AssumeRole');
  let response: AssumeRoleCommandOutput;
  try {
    response = await options.sts.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: roleSessionName(options.sessionName ?? 'account-auditor-discover') }),
    );
  } catch (error) {
    throw new OrganizationCallError('sts:AssumeRole', roleArn, error);
  }
  const c = response.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
    throw new OrganizationCallError('sts:AssumeRole', roleArn, new Error('the response has no complete credentials'));
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}

async function listAccounts(client: OrganizationsClient, counter: CallCounter): Promise<Account[]> {
  const accounts: Account[] = [];
  try {
    for await (const page of paginateListAccounts({ client, pageSize: ORGANIZATIONS_PAGE_SIZE }, {})) {
      counter.count('organizations:ListAccounts');
      accounts.push(...(page.Accounts ?? []));
    }
  } catch (error) {
    counter.count('organizations:ListAccounts');
    throw new OrganizationCallError('organizations:ListAccounts', undefined, error);
  }
  return accounts;
}

/**
 * The parent of every OU and account below the named OUs, by walking them down with ListChildren
 * (OUs, then accounts, at each level). Each OU is listed once per run, however many named OUs
 * contain it: a named OU inside another named OU costs nothing more.
 */
async function walkOus(client: OrganizationsClient, roots: readonly string[], counter: CallCounter): Promise<Map<string, string>> {
  const parentOf = new Map<string, string>();
  const listed = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const ou = queue.shift()!;
    if (listed.has(ou)) continue;
    listed.add(ou);
    for (const childType of ['ORGANIZATIONAL_UNIT', 'ACCOUNT'] satisfies ChildType[]) {
      try {
        for await (const page of paginateListChildren(
          { client, pageSize: ORGANIZATIONS_PAGE_SIZE },
          { ParentId: ou, ChildType: childType },
        )) {
          counter.count('organizations:ListChildren');
          for (const child of page.Children ?? []) {
            if (!child.Id) continue;
            parentOf.set(child.Id, ou);
            if (childType === 'ORGANIZATIONAL_UNIT') queue.push(child.Id);
          }
        }
      } catch (error) {
        counter.count('organizations:ListChildren');
        throw new OrganizationCallError('organizations:ListChildren', `${ou} (${childType})`, error);
      }
    }
  }
  return parentOf;
}

/** The OUs above an account, outermost first, as far up as the walk went. */
function ousOf(id: string, parentOf: ReadonlyMap<string, string>): string[] {
  const chain: string[] = [];
  for (let parent = parentOf.get(id); parent !== undefined && !chain.includes(parent); parent = parentOf.get(parent)) chain.unshift(parent);
  return chain;
}

/**
 * Lists the organization's accounts once (ListAccounts, paged), keeps the ACTIVE ones and applies
 * the include and exclude settings. OU membership comes from walking the OUs the settings name,
 * never from a call per account: Organizations calls are `ceil(accounts / 20)` plus, only with OU
 * settings, two ListChildren per OU below them (one per child type, more for OUs of over 20).
 *
 * Rules: with includeAccounts or includeOus given, an account is audited only when listed or
 * under one of the OUs (at any depth); an account listed in excludeAccounts or under an
 * excludeOus OU is never audited, even when also included.
 */
export async function discoverAccounts(options: DiscoveryOptions): Promise<Discovery> {
  const { includeAccounts, excludeAccounts, includeOus, excludeOus } = options.settings;
  const counter = new CallCounter();
  const client = options.organizations(await managementCredentials(options, counter));

  const listedAccounts = await listAccounts(client, counter);
  const namedOus = [...new Set([...includeOus, ...excludeOus])];
  const parentOf = namedOus.length > 0 ? await walkOus(client, namedOus, counter) : new Map<string, string>();

  const include = new Set(includeAccounts);
  const exclude = new Set(excludeAccounts);
  const filtering = include.size > 0 || includeOus.length > 0;
  const accounts: OrganizationAccount[] = [];
  const guardrailAccounts: GuardrailAccount[] = [];
  const filteredOut: FilteredAccount[] = [];
  const seen = new Set<string>();
  let active = 0;

  for (const entry of listedAccounts) {
    if (!entry.Id)
      throw new OrganizationResponseError(
        `organizations:ListAccounts returned an account without an Id (${JSON.stringify({ Name: entry.Name, Arn: entry.Arn })})`,
      );
    if (seen.has(entry.Id)) continue;
    seen.add(entry.Id);
    // State replaced Status in 2025; an older response (or an emulator) carries only Status.
    if ((entry.State ?? entry.Status) !== ACTIVE) continue;
    active++;
    const ous = ousOf(entry.Id, parentOf);
    const account: OrganizationAccount = {
      id: entry.Id,
      name: entry.Name ?? entry.Id,
      ...(entry.Email ? { email: entry.Email } : {}),
      ous,
    };
    const reason = exclusion(account, { include, exclude, includeOus, excludeOus, filtering });
    if (reason) filteredOut.push({ id: account.id, name: account.name, reason });
    else {
      accounts.push(account);
      guardrailAccounts.push({ id: entry.Id, ...(entry.Arn ? { arn: entry.Arn } : {}), ...(entry.Paths ? { paths: entry.Paths } : {}) });
    }
  }

  const activeIds = new Set(listedAccounts.filter((a) => (a.State ?? a.Status) === ACTIVE).map((a) => a.Id));
  const missing = includeAccounts.filter((id) => !activeIds.has(id));
  return { accounts, listed: seen.size, active, filteredOut, missing, calls: counter.calls, guardrailAccounts };
}

function exclusion(
  account: OrganizationAccount,
  rules: {
    include: ReadonlySet<string>;
    exclude: ReadonlySet<string>;
    includeOus: readonly string[];
    excludeOus: readonly string[];
    filtering: boolean;
  },
): string | null {
  if (rules.exclude.has(account.id)) return 'listed in excludeAccounts';
  const excludedBy = rules.excludeOus.find((ou) => account.ous.includes(ou));
  if (excludedBy) return `under ${excludedBy} (excludeOus)`;
  if (!rules.filtering) return null;
  if (rules.include.has(account.id) || rules.includeOus.some((ou) => account.ous.includes(ou))) return null;
  return 'neither in includeAccounts nor under an OU of includeOus';
}
