/**
 * Which identity-policy statements reach an IAM user, and which of them grant "all actions".
 * Pure functions over the inventory's authorization details, shared by checks that reason about
 * a principal's effective access.
 */
import type { AuthorizationDetails, IamUser, ManagedPolicy, PolicyDocument } from '#lib/inventory/types.ts';
import {
  STAR_RESOURCE,
  coversStarResource,
  isAllActions,
  normalizeStatements,
  wildcardMatch,
  type NormalizedStatement,
} from '#lib/policy/statements.ts';

/** Where a policy reaches the user from; `path` is the readable form used in titles and details. */
export interface PolicyOrigin {
  policy: string;
  /** Managed policies only: inline policies have no ARN. */
  policyArn?: string;
  via: 'user' | 'group';
  group?: string;
  inline: boolean;
  path: string;
}

export interface ReachingStatement {
  origin: PolicyOrigin;
  statement: NormalizedStatement;
}

/** A policy (or a group) reaching the user whose statements cannot be known. */
export interface UnreadablePolicy {
  /** What could not be read, named for a reader: `inline policy P on group G`, `group G`. */
  what: string;
  policy?: string;
  policyArn?: string;
  /** `guardrail`: a service control policy of the account's organization, which reaches every principal it caps. */
  via: 'user' | 'group' | 'guardrail';
  group?: string;
  path: string;
  reason: string;
}

export interface ReachingPolicies {
  statements: ReachingStatement[];
  unreadable: UnreadablePolicy[];
}

function describe(origin: Omit<PolicyOrigin, 'path'>, userName: string): string {
  if (origin.inline) {
    return origin.via === 'user'
      ? `directly via inline policy ${origin.policy} (inline on user ${userName})`
      : `via group ${origin.group}, inline policy ${origin.policy} (inline on group ${origin.group})`;
  }
  return origin.via === 'user' ? `directly via policy ${origin.policy}` : `via group ${origin.group}, policy ${origin.policy}`;
}

function unreadableName(origin: Omit<PolicyOrigin, 'path'>, userName: string): string {
  const owner = origin.via === 'user' ? `user ${userName}` : `group ${origin.group}`;
  return origin.inline
    ? `inline policy ${origin.policy} on ${owner}`
    : `policy ${origin.policy} (${origin.policyArn}) attached to ${owner}`;
}

/**
 * A managed policy by ARN, among the policies' own entries only: the ARN is text from the account
 * (or a hand-made export), and a name such as `constructor` or `__proto__` must find no
 * Object.prototype member.
 */
export function managedPolicy(details: AuthorizationDetails, arn: string): ManagedPolicy | undefined {
  return Object.hasOwn(details.policies, arn) ? details.policies[arn] : undefined;
}

type ReadResult = { ok: true; statements: NormalizedStatement[] } | { ok: false; error: string };

/**
 * A group's or managed policy's document reaches every member: read once per document, not once
 * per user (at 10,000 users that was most of the evaluation). Results are never mutated.
 */
const readCache = new WeakMap<PolicyDocument, ReadResult>();

/** Reads a policy document down to its statements, or says why it cannot. */
export function readDocument(document: PolicyDocument): ReadResult {
  let result = readCache.get(document);
  if (!result) {
    result = document.ok ? normalizeStatements(document.document, 'identity') : { ok: false, error: document.error };
    readCache.set(document, result);
  }
  return result;
}

const groupIndex = new WeakMap<AuthorizationDetails, Map<string, AuthorizationDetails['groups'][number]>>();

function groupsByName(details: AuthorizationDetails): Map<string, AuthorizationDetails['groups'][number]> {
  let index = groupIndex.get(details);
  if (!index) {
    index = new Map(details.groups.map((g) => [g.name, g]));
    groupIndex.set(details, index);
  }
  return index;
}

/**
 * Every statement of every identity policy that applies to the user: its inline and attached
 * policies, and the inline and attached policies of each group it belongs to. A policy or group
 * that cannot be read is returned as unreadable, never dropped, so callers cannot mistake
 * "unknown" for "grants nothing".
 */
export function policiesReachingUser(user: IamUser, details: AuthorizationDetails): ReachingPolicies {
  const into: ReachingPolicies = { statements: [], unreadable: [] };
  for (const inline of user.inlinePolicies) addPolicy(into, user, { policy: inline.name, via: 'user', inline: true }, inline.document);
  for (const ref of user.attachedPolicies) addManaged(into, user, details, ref, 'user');

  const groups = groupsByName(details);
  for (const groupName of user.groups) {
    const group = groups.get(groupName);
    if (!group) {
      into.unreadable.push({
        what: `group ${groupName}`,
        via: 'group',
        group: groupName,
        path: `via group ${groupName}`,
        reason: 'not in the GetAccountAuthorizationDetails groups',
      });
      continue;
    }
    for (const inline of group.inlinePolicies) {
      addPolicy(into, user, { policy: inline.name, via: 'group', group: group.name, inline: true }, inline.document);
    }
    for (const ref of group.attachedPolicies) addManaged(into, user, details, ref, 'group', group.name);
  }
  return into;
}

function addPolicy(
  into: ReachingPolicies,
  user: IamUser,
  base: Omit<PolicyOrigin, 'path'>,
  document: PolicyDocument | undefined,
  missing?: string,
): void {
  const origin: PolicyOrigin = { ...base, path: describe(base, user.name) };
  const result = document ? readDocument(document) : { ok: false as const, error: missing ?? 'not found' };
  if (!result.ok) {
    into.unreadable.push({
      what: unreadableName(origin, user.name),
      policy: origin.policy,
      ...(origin.policyArn ? { policyArn: origin.policyArn } : {}),
      via: origin.via,
      ...(origin.group ? { group: origin.group } : {}),
      path: origin.path,
      reason: result.error,
    });
    return;
  }
  for (const statement of result.statements) into.statements.push({ origin, statement });
}

function addManaged(
  into: ReachingPolicies,
  user: IamUser,
  details: AuthorizationDetails,
  ref: { name: string; arn: string },
  via: 'user' | 'group',
  group?: string,
): void {
  const policy = managedPolicy(details, ref.arn);
  addPolicy(
    into,
    user,
    { policy: ref.name, policyArn: ref.arn, via, ...(group ? { group } : {}), inline: false },
    policy?.document,
    'not in the GetAccountAuthorizationDetails policies',
  );
}

/**
 * `*`, or an ARN pattern whose every part after the partition is `*` (`arn:aws:*:*:*:*`): both
 * match every resource, and calling the second "narrower" would understate it.
 *
 * Without `partition` any partition segment is accepted: the lenient reading, right for an Allow
 * (reading a grant too widely can only report more). With `partition` (the audited account's:
 * `aws`, `aws-cn`, `aws-us-gov`...) the pattern's partition segment must match it, so a Deny on
 * `arn:aws-cn:*:*:*:*` is not mistaken for a Deny of everything in an `aws` account, where it
 * denies nothing.
 */
export function isEveryResource(pattern: string, partition?: string): boolean {
  if (pattern === '*') return true;
  const parts = pattern.split(':');
  if (parts[0] !== 'arn' || parts.length < 2) return false;
  const segment = parts[1]!;
  if (partition !== undefined && !wildcardMatch(segment, partition)) return false;
  if (segment === '*') return parts.slice(2).every((x) => x === '*');
  return parts.length >= 3 && parts.slice(2).every((x) => x === '*');
}

/**
 * How an Allow statement grants "all actions", if it does:
 * - `full`: all actions on every resource;
 * - `resources`: all actions on the listed resources only;
 * - `all-except-actions`: NotAction on every resource, or on every resource but the NotResource
 *   list (read `notActions` and `notResources` together);
 * - `all-except-resources`: all actions with NotResource.
 */
export type GrantKind = 'full' | 'resources' | 'all-except-actions' | 'all-except-resources';

export function allActionsGrant(statement: NormalizedStatement): GrantKind | null {
  if (statement.effect !== 'Allow') return null;
  const everyResource = coversEveryResource(statement);
  // An empty NotAction excludes nothing: that is every action.
  if (statement.actions?.some(isAllActions) || statement.notActions?.length === 0) {
    if (everyResource) return 'full';
    return statement.notResources ? 'all-except-resources' : 'resources';
  }
  // NotAction with NotResource allows almost every action almost everywhere: as wide as NotAction
  // on `*` less a few resources, never "nothing in particular".
  if (statement.notActions && (everyResource || statement.notResources)) return 'all-except-actions';
  return null;
}

/**
 * IAM refuses an identity statement without Resource or NotResource, so one can only come from a
 * hand-made or damaged export; counting it as every resource keeps an Allow from passing unseen.
 */
function coversEveryResource(statement: NormalizedStatement): boolean {
  if (statement.resources) return statement.resources.some((r) => isEveryResource(r));
  if (statement.notResources) return statement.notResources.length === 0;
  return statement.effect === 'Allow';
}

/**
 * An unconditional Deny of every action on every resource of the account's partition: nothing
 * any Allow grants survives it. A Deny naming another partition's resources denies nothing here.
 */
export function isFullDeny(statement: NormalizedStatement, partition: string): boolean {
  return (
    statement.effect === 'Deny' &&
    statement.condition === null &&
    statement.notActions === null &&
    statement.notResources === null &&
    (statement.actions?.some(isAllActions) ?? false) &&
    (statement.resources?.some((r) => isEveryResource(r, partition)) ?? false)
  );
}

/** Values for the policy variables that name the user itself (`arn:...:user/${aws:username}`). */
export interface PolicyVariables {
  username: string;
  userid: string;
}

export function resolvePolicyVariables(pattern: string, variables: PolicyVariables): string {
  return pattern.replace(/\$\{aws:(username|userid)\}/gi, (_m, name: string) =>
    name.toLowerCase() === 'username' ? variables.username : variables.userid,
  );
}

/**
 * Whether a statement's Action/NotAction and Resource/NotResource cover one action on one
 * resource (conditions are not evaluated: callers decide what a condition means for them).
 */
export function statementCovers(statement: NormalizedStatement, action: string, resource: string, variables?: PolicyVariables): boolean {
  const a = action.toLowerCase();
  const actionMatches = (pattern: string) => isAllActions(pattern) || wildcardMatch(pattern.toLowerCase(), a);

  const actionOk = statement.actions
    ? statement.actions.some(actionMatches)
    : statement.notActions
      ? !statement.notActions.some(actionMatches)
      : false;
  return actionOk && statementCoversResource(statement, resource, variables);
}

/** The Resource/NotResource half of statementCovers: whether the statement reaches one resource. */
export function statementCoversResource(statement: NormalizedStatement, resource: string, variables?: PolicyVariables): boolean {
  // The resource `*` of the actions without resource types, read on the side that reports more.
  if (resource === STAR_RESOURCE && (statement.resources || statement.notResources)) {
    return coversStarResource(statement.resources, statement.notResources, statement.effect === 'Allow');
  }
  if (statement.resources) return anyMatches(statement.resources, resource, variables);
  if (statement.notResources) return !anyMatches(statement.notResources, resource, variables);
  return statement.effect === 'Allow';
}

function anyMatches(patterns: string[], resource: string, variables: PolicyVariables | undefined): boolean {
  for (const pattern of patterns) {
    if (wildcardMatch(variables && pattern.includes('${') ? resolvePolicyVariables(pattern, variables) : pattern, resource)) return true;
  }
  return false;
}
