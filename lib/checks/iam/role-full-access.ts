/**
 * `role-full-access` (SPEC 3.6): which roles have the access of SPEC 3.3's FAIL classes, and who
 * can assume them. The role's own policies and boundary decide its access, through the shared
 * evaluator; its trust policy, read with its conditions, decides the verdict; and the principals
 * of the account whose identity policies allow `sts:AssumeRole` on it (and whom the trust
 * admits) are listed, following role chains. The same reachability feeds `user-full-access`
 * ("can become an administrator through role R") through its escalation seam.
 */
import type { AuthorizationDetails, IamRole, IamUser, Inventory, PolicyDocument } from '#lib/inventory/types.ts';
import type { Settings } from '#lib/settings.ts';
import { managedPolicy, policiesReachingUser, readDocument, type UnreadablePolicy } from '#lib/policy/grants.ts';
import { describeEffect, readGuardrails, type GuardrailReading } from '#lib/policy/guardrails.ts';
import { isAllActions, normalizeStatements, statementLabel, wildcardMatch, type NormalizedStatement } from '#lib/policy/statements.ts';
import {
  EffectiveAccess,
  describeSummary,
  labelOf,
  type AccessClass,
  type PrincipalPolicies,
  type SourcedStatement,
  type View,
} from '#lib/policy/effective.ts';
import { allRolesArn } from '#lib/model/arn.ts';
import { errorFinding, lowerSeverity, makeFinding, type Finding, type Severity } from '#lib/model/finding.ts';
import { CATALOGUE } from '#lib/checks/catalogue.ts';
import type { EscalationTarget } from './user-full-access.ts';

const STRICT: View = { conditional: false, boundary: true, guardrails: true };
const LOOSE: View = { conditional: true, boundary: true, guardrails: true };

/** A user reaches an administrator role through at most this many AssumeRole calls. */
export const MAX_HOPS = 3;

/** AssumeRole escalations handed to user-full-access per user: the shortest ones. */
const MAX_TARGETS = 10;

/** Principals listed by name in one finding; the rest are counted. */
const LIST_LIMIT = 50;

// ---------------------------------------------------------------------------------------------
// Trust policies

const ASSUME_ACTIONS = ['sts:assumerole', 'sts:assumerolewithwebidentity', 'sts:assumerolewithsaml'];

/** The assume actions a statement's Action/NotAction covers. */
function assumeActions(s: NormalizedStatement): string[] {
  let actions = assumeActionsCache.get(s);
  if (!actions) {
    actions = readAssumeActions(s);
    assumeActionsCache.set(s, actions);
  }
  return actions;
}

/** Per statement, read once: identity statements are shared by many principals. Never mutated. */
const assumeActionsCache = new WeakMap<NormalizedStatement, string[]>();

function readAssumeActions(s: NormalizedStatement): string[] {
  const covers = (a: string) => (p: string) => isAllActions(p) || wildcardMatch(p.toLowerCase(), a);
  if (s.actions) return ASSUME_ACTIONS.filter((a) => s.actions!.some(covers(a)));
  if (s.notActions) return ASSUME_ACTIONS.filter((a) => !s.notActions!.some(covers(a)));
  return [];
}

interface ConditionEntry {
  operator: string;
  key: string;
  values: string[];
  /** StringNotEquals, ArnNotLike...: holds when the value is not among these. */
  negated: boolean;
  /** `...IfExists`: holds when the key is absent. */
  ifExists: boolean;
}

/** Read once per condition block (trust statements are read for every principal): never mutated. */
const conditionCache = new WeakMap<Record<string, unknown>, ConditionEntry[]>();
const NO_ENTRIES: ConditionEntry[] = [];

function conditionEntries(condition: Record<string, unknown> | null): ConditionEntry[] {
  if (!condition) return NO_ENTRIES;
  let out = conditionCache.get(condition);
  if (!out) {
    out = readConditionEntries(condition);
    conditionCache.set(condition, out);
  }
  return out;
}

function readConditionEntries(condition: Record<string, unknown>): ConditionEntry[] {
  const out: ConditionEntry[] = [];
  for (const [operator, block] of Object.entries(condition)) {
    const base = operator.replace(/^For(Any|All)Value:/i, '');
    const ifExists = /IfExists$/i.test(base);
    const negated = /^(String|Arn|Numeric|Date)Not|^NotIpAddress/i.test(base);
    for (const [key, value] of Object.entries(block as Record<string, unknown>)) {
      const values = (Array.isArray(value) ? value : [value]).map((v) => String(v));
      out.push({ operator, key: key.toLowerCase(), values, negated, ifExists });
    }
  }
  return out;
}

const MFA_KEYS = new Set(['aws:multifactorauthpresent', 'aws:multifactorauthage']);
const ORG_KEYS = new Set(['aws:principalorgid', 'aws:principalorgpaths', 'aws:sourceorgid', 'aws:sourceorgpaths']);
const ACCOUNT_KEYS = new Set(['aws:principalaccount', 'aws:sourceaccount']);
const ARN_KEYS = new Set(['aws:principalarn', 'aws:sourcearn']);

/** A value that restricts nothing: `*` alone, or an empty list. */
function restricts(entry: ConditionEntry): boolean {
  return entry.values.length > 0 && !entry.values.every((v) => /^\*+$/.test(v.trim()));
}

/** The account segment of an ARN value, when it is a literal account ID. */
function arnAccount(value: string): string | null {
  const account = value.split(':')[4] ?? '';
  return /^\d{12}$/.test(account) ? account : null;
}

/** What a statement's conditions restrict, as SPEC 3.6 reads them. */
interface Restrictions {
  externalId: boolean;
  /** aws:PrincipalOrgID (and org paths) values. */
  orgIds: string[];
  /** Accounts a principal/source account or ARN condition names; `null` entries: not determinable. */
  accounts: string[];
  accountCondition: boolean;
  mfa: boolean;
  audience: boolean;
  subject: boolean;
  /** Keys read here, and keys that are shown but decide nothing. */
  other: string[];
}

function restrictionsOf(entries: ConditionEntry[]): Restrictions {
  const r: Restrictions = {
    externalId: false,
    orgIds: [],
    accounts: [],
    accountCondition: false,
    mfa: false,
    audience: false,
    subject: false,
    other: [],
  };
  for (const e of entries) {
    // A negated or IfExists operator holds for requests the key does not pin down: not a restriction.
    const positive = !e.negated && !e.ifExists && restricts(e);
    if (MFA_KEYS.has(e.key)) r.mfa = true;
    else if (e.key === 'sts:externalid' && positive) r.externalId = true;
    else if (ORG_KEYS.has(e.key) && positive) r.orgIds.push(...e.values);
    else if (ACCOUNT_KEYS.has(e.key) && positive) {
      r.accountCondition = true;
      r.accounts.push(...e.values);
    } else if (ARN_KEYS.has(e.key) && positive) {
      r.accountCondition = true;
      for (const v of e.values) r.accounts.push(arnAccount(v) ?? '*');
    } else if ((e.key === 'saml:aud' || e.key.endsWith(':aud') || e.key.endsWith(':azp')) && positive) r.audience = true;
    else if ((e.key === 'saml:sub' || e.key.endsWith(':sub')) && positive) r.subject = true;
    else r.other.push(e.key);
  }
  return r;
}

export type PrincipalKind = 'anyone' | 'account' | 'principal' | 'service' | 'saml' | 'web-identity' | 'unknown';

/** Who a trust statement lets in, with the verdict of SPEC 3.6 for that entry. */
export interface Admission {
  kind: PrincipalKind;
  /** As the trust policy writes it. */
  principal: string;
  /** The account of an AWS principal (`account`, `principal`). */
  account?: string;
  statement: string;
  actions: string[];
  conditions?: Record<string, unknown>;
  /** `inside`: the account, its organization, trustedAccounts or AWS services; `restricted`: outside under a restricting condition; `open`: outside without one. */
  reach: 'inside' | 'restricted' | 'open';
  /** The accounts outside that the entry admits, for the details. */
  outsideAccounts?: string[];
  why: string;
}

export interface TrustReading {
  admissions: Admission[];
  /** Allow statements in their normalized form (in-account principals are matched against them). */
  allows: NormalizedStatement[];
  denies: NormalizedStatement[];
}

/** Accounts that count as inside: the audited one, its organization's, and trustedAccounts. */
export interface InsideScope {
  accountId: string;
  partition: string;
  organizationId: string | null;
  organizationAccounts: Set<string>;
  accounts: Set<string>;
}

/** Read once per Principal element: never mutated. */
const principalCache = new WeakMap<object, Array<{ type: string; value: string }>>();
const NO_PRINCIPALS: Array<{ type: string; value: string }> = [];
const EVERYONE = [{ type: 'AWS', value: '*' }];

function principalEntries(p: NormalizedStatement['principal']): Array<{ type: string; value: string }> {
  if (p === null) return NO_PRINCIPALS;
  if (p === '*') return EVERYONE;
  let out = principalCache.get(p);
  if (!out) {
    out = Object.entries(p).flatMap(([type, values]) => values.map((value) => ({ type, value: value.trim() })));
    principalCache.set(p, out);
  }
  return out;
}

/** An account principal: `123456789012` or `arn:<partition>:iam::123456789012:root`. */
function accountPrincipal(value: string): string | null {
  if (/^\d{12}$/.test(value)) return value;
  const m = /^arn:[^:]+:iam::(\d{12}):root$/.exec(value);
  return m ? m[1]! : null;
}

const PUBLIC_WEB_IDENTITY = new Set(['cognito-identity.amazonaws.com', 'accounts.google.com', 'graph.facebook.com', 'www.amazon.com']);

function classify(
  entry: { type: string; value: string },
  r: Restrictions,
  scope: InsideScope,
): Omit<Admission, 'statement' | 'actions' | 'conditions'> {
  const type = entry.type.toLowerCase();
  const { value } = entry;
  const inside = (account: string) => scope.accounts.has(account);
  const namedOutside = r.accounts.filter((a) => a === '*' || !inside(a));
  const orgInside = scope.organizationId !== null && r.orgIds.length > 0 && r.orgIds.every((o) => o === scope.organizationId);
  const restricted = r.externalId || r.orgIds.length > 0 || r.accountCondition;
  const restriction = [
    r.externalId && 'sts:ExternalId',
    r.orgIds.length > 0 && `aws:PrincipalOrgID ${r.orgIds.join(', ')}`,
    r.accountCondition && `account ${r.accounts.join(', ')}`,
  ]
    .filter(Boolean)
    .join(' and ');

  if (type === 'service') {
    if (r.accountCondition && namedOutside.length > 0) {
      return {
        kind: 'service',
        principal: value,
        reach: 'restricted',
        outsideAccounts: namedOutside,
        why: `AWS service ${value} acting for resources of ${namedOutside.join(', ')}`,
      };
    }
    return { kind: 'service', principal: value, reach: 'inside', why: `AWS service ${value}` };
  }
  if (type === 'federated') {
    const saml = /:saml-provider\//.test(value);
    const provider = arnAccount(value);
    if (saml) {
      if ((r.audience || r.subject) && provider !== null && provider === scope.accountId) {
        return {
          kind: 'saml',
          principal: value,
          reach: 'inside',
          why: `users federated through the account's own SAML provider ${value.split('/').pop()}`,
        };
      }
      return {
        kind: 'saml',
        principal: value,
        reach: 'open',
        why: `anyone the SAML provider ${value} vouches for, with no audience or subject condition`,
      };
    }
    const name = /:oidc-provider\/(.+)$/.exec(value)?.[1] ?? value;
    if (r.audience && r.subject) {
      return {
        kind: 'web-identity',
        principal: value,
        reach: 'restricted',
        why: `identities of the web identity provider ${name}, under an audience and a subject condition`,
      };
    }
    const missing = [!r.audience && 'audience', !r.subject && 'subject'].filter(Boolean).join(' and ');
    const anyone = PUBLIC_WEB_IDENTITY.has(value) ? ' (a public provider: anyone can get a token)' : '';
    return {
      kind: 'web-identity',
      principal: value,
      reach: 'open',
      why: `any identity of the web identity provider ${name}${anyone}: no ${missing} condition`,
    };
  }
  if (type !== 'aws') {
    // CanonicalUser and anything else IAM would not admit to STS: read widely, as outside.
    return {
      kind: 'unknown',
      principal: `${entry.type}:${value}`,
      reach: restricted ? 'restricted' : 'open',
      why: `principal ${entry.type} ${value}`,
    };
  }

  const account = value === '*' ? null : (accountPrincipal(value) ?? arnAccount(value));
  if (value === '*' || (account === null && value.includes('*'))) {
    if (r.accountCondition && namedOutside.length === 0)
      return { kind: 'anyone', principal: value, reach: 'inside', why: `anyone, but only from ${r.accounts.join(', ')}` };
    if (orgInside && !r.accountCondition)
      return { kind: 'anyone', principal: value, reach: 'inside', why: `anyone in the organization ${scope.organizationId}` };
    if (restricted) {
      return {
        kind: 'anyone',
        principal: value,
        reach: 'restricted',
        ...(namedOutside.length > 0 ? { outsideAccounts: namedOutside } : {}),
        why: `anyone, under ${restriction}`,
      };
    }
    return { kind: 'anyone', principal: value, reach: 'open', why: 'anyone (Principal *), with no restricting condition' };
  }
  if (account === null) {
    // A unique ID (AIDA..., AROA...): IAM shows a deleted principal so. Nobody can use it.
    return {
      kind: 'unknown',
      principal: value,
      reach: 'inside',
      why: `${value}: not an ARN (a deleted principal's unique ID); nobody can use it`,
    };
  }
  const kind: PrincipalKind = accountPrincipal(value) ? 'account' : 'principal';
  const who = kind === 'account' ? `account ${account}` : value;
  if (inside(account)) {
    const where =
      account === scope.accountId
        ? 'the audited account'
        : scope.organizationAccounts.has(account)
          ? 'its organization'
          : 'trustedAccounts';
    return { kind, principal: value, account, reach: 'inside', why: `${who} (${where})` };
  }
  if (r.accountCondition && namedOutside.length === 0)
    return { kind, principal: value, account, reach: 'inside', why: `${who}, but only from ${r.accounts.join(', ')}: it cannot match` };
  if (restricted)
    return {
      kind,
      principal: value,
      account,
      reach: 'restricted',
      outsideAccounts: [account],
      why: `${who}, outside the account, under ${restriction}`,
    };
  return {
    kind,
    principal: value,
    account,
    reach: 'open',
    outsideAccounts: [account],
    why: `${who}, outside the account and its organization, with no restricting condition${r.mfa ? ' (MFA does not restrict who)' : ''}`,
  };
}

/** Reads a trust policy into who it admits; `error` when it cannot be read. */
export function readTrust(document: PolicyDocument, scope: InsideScope): TrustReading | { error: string } {
  if (!document.ok) return { error: document.error };
  const read = normalizeStatements(document.document, 'trust');
  if (!read.ok) return { error: read.error };
  const allows: NormalizedStatement[] = [];
  const denies: NormalizedStatement[] = [];
  const admissions: Admission[] = [];
  // A Deny of everyone unless a restricting key matches (StringNotEquals aws:PrincipalOrgID)
  // restricts every Allow alike.
  const extra: ConditionEntry[] = [];
  let sealed = false;
  for (const s of read.statements) {
    if (s.principal === null && s.notPrincipal === null)
      return { error: `statement ${s.index}: a trust policy statement needs a Principal (IAM refuses the document)` };
    if (assumeActions(s).length === 0) continue;
    if (s.effect === 'Deny') {
      denies.push(s);
      const everyone = principalEntries(s.principal).some((e) => e.type.toLowerCase() === 'aws' && e.value === '*');
      if (!everyone) continue;
      if (s.condition === null) sealed = true;
      else {
        const entries = conditionEntries(s.condition);
        if (entries.every((e) => e.negated && !e.ifExists)) extra.push(...entries.map((e) => ({ ...e, negated: false })));
      }
    } else allows.push(s);
  }
  if (sealed) return { admissions: [], allows: [], denies };
  for (const s of allows) {
    const r = restrictionsOf([...conditionEntries(s.condition), ...extra]);
    // Allow with NotPrincipal admits everyone it does not name: read as everyone.
    const entries = s.notPrincipal !== null ? [{ type: 'AWS', value: '*' }] : principalEntries(s.principal);
    for (const entry of entries) {
      const a = classify(entry, r, scope);
      // An unconditional Deny naming this principal or its account takes it back.
      const deniedBy = denies.find(
        (d) =>
          d.condition === null &&
          principalEntries(d.principal).some(
            (e) =>
              e.type === entry.type && (e.value === entry.value || (a.account !== undefined && accountPrincipal(e.value) === a.account)),
          ),
      );
      if (deniedBy) continue;
      admissions.push({
        ...a,
        statement: statementLabel(s),
        actions: assumeActions(s),
        ...(s.condition ? { conditions: s.condition } : {}),
      });
    }
  }
  return { admissions, allows, denies };
}

/**
 * Whether a trust policy admits one principal of the audited account: its Principal names the
 * account (root), the principal's own ARN, or everyone; its conditions are ones the principal
 * meets by itself (MFA, an ExternalId it passes, its own account or ARN), or `conditional`.
 */
export function admitsInAccount(
  trust: TrustReading,
  principal: { arn: string; kind: 'user' | 'role' },
  scope: InsideScope,
): { admits: 'yes' | 'conditional' | 'no'; byArn: boolean; mfa: boolean; statement?: string } {
  const roleSession =
    principal.kind === 'role' ? `arn:${scope.partition}:sts::${scope.accountId}:assumed-role/${principal.arn.split('/').pop()}/` : null;
  const matches = (s: NormalizedStatement): 'arn' | 'account' | null => {
    let hit: 'arn' | 'account' | null = null;
    for (const e of principalEntries(s.principal)) {
      if (e.type.toLowerCase() !== 'aws') continue;
      if (e.value === principal.arn || (roleSession !== null && e.value.startsWith(roleSession))) return 'arn';
      if (e.value === '*' || accountPrincipal(e.value) === scope.accountId) hit = 'account';
    }
    return hit;
  };
  for (const d of trust.denies) if (d.condition === null && matches(d) !== null) return { admits: 'no', byArn: false, mfa: false };
  let best: { admits: 'yes' | 'conditional'; byArn: boolean; mfa: boolean; statement: string } | null = null;
  for (const s of trust.allows) {
    if (!assumeActions(s).includes('sts:assumerole')) continue;
    const how = matches(s);
    if (how === null) continue;
    let verdict: 'yes' | 'conditional' | 'no' = 'yes';
    let mfa = false;
    for (const e of conditionEntries(s.condition)) {
      const holds = (value: string) => {
        const anyMatch = e.values.some((v) => wildcardMatch(v, value));
        return e.negated ? !anyMatch : anyMatch;
      };
      if (MFA_KEYS.has(e.key)) mfa = true;
      else if (e.key === 'sts:externalid') continue;
      else if (e.key === 'aws:principalaccount') {
        if (!holds(scope.accountId)) verdict = 'no';
      } else if (e.key === 'aws:principalarn') {
        if (!holds(principal.arn)) verdict = 'no';
      } else if (ORG_KEYS.has(e.key) && e.key.startsWith('aws:principalorgid') && scope.organizationId !== null) {
        if (!holds(scope.organizationId)) verdict = 'no';
      } else if (verdict === 'yes') verdict = 'conditional';
      if (verdict === 'no') break;
    }
    if (verdict === 'no') continue;
    const candidate = { admits: verdict, byArn: how === 'arn', mfa, statement: statementLabel(s) };
    if (!best || (best.admits === 'conditional' && verdict === 'yes') || (best.admits === verdict && !best.byArn && candidate.byArn))
      best = candidate;
  }
  return best ?? { admits: 'no', byArn: false, mfa: false };
}

// ---------------------------------------------------------------------------------------------
// Principals' policies

interface Reading {
  principal: PrincipalPolicies;
  unreadable: UnreadablePolicy[];
}

function describeRolePolicy(role: IamRole, policy: string, inline: boolean): string {
  return inline ? `via inline policy ${policy} (inline on role ${role.name})` : `via policy ${policy}`;
}

function boundaryOf(
  ref: { arn: string } | null,
  details: AuthorizationDetails,
  owner: string,
): { boundary?: PrincipalPolicies['boundary']; unreadable?: UnreadablePolicy } {
  if (!ref) return {};
  const policy = managedPolicy(details, ref.arn);
  const name = policy?.name ?? ref.arn;
  const path = `permissions boundary ${name}`;
  const read = policy ? readDocument(policy.document) : { ok: false as const, error: 'not in the GetAccountAuthorizationDetails policies' };
  if (!read.ok)
    return {
      unreadable: {
        what: `permissions boundary ${name} (${ref.arn}) of ${owner}`,
        policy: name,
        policyArn: ref.arn,
        via: 'user',
        path,
        reason: read.error,
      },
    };
  const origin = { policy: name, policyArn: ref.arn, via: 'boundary', path };
  return { boundary: { arn: ref.arn, name, statements: read.statements.map((statement) => ({ origin, statement })) } };
}

/** A role's inline and attached policies (default versions), its boundary and the account's SCPs. */
export function readRole(role: IamRole, details: AuthorizationDetails, guardrails?: GuardrailReading): Reading {
  const identity: SourcedStatement[] = [];
  const unreadable: UnreadablePolicy[] = [...(guardrails?.unreadable ?? [])];
  const add = (policy: string, policyArn: string | undefined, document: PolicyDocument | undefined, inline: boolean) => {
    const path = describeRolePolicy(role, policy, inline);
    const read = document ? readDocument(document) : { ok: false as const, error: 'not in the GetAccountAuthorizationDetails policies' };
    if (!read.ok) {
      // `via` of UnreadablePolicy names users' and groups' documents; a role's own are the role's.
      unreadable.push({
        what: inline ? `inline policy ${policy} on role ${role.name}` : `policy ${policy} (${policyArn}) attached to role ${role.name}`,
        policy,
        ...(policyArn ? { policyArn } : {}),
        via: 'user',
        path,
        reason: read.error,
      });
      return;
    }
    const origin = { policy, ...(policyArn ? { policyArn } : {}), via: 'role', inline, path };
    for (const statement of read.statements) identity.push({ origin, statement });
  };
  for (const p of role.inlinePolicies) add(p.name, undefined, p.document, true);
  for (const ref of role.attachedPolicies) add(ref.name, ref.arn, managedPolicy(details, ref.arn)?.document, false);
  const b = boundaryOf(role.permissionsBoundary, details, `role ${role.name}`);
  if (b.unreadable) unreadable.push(b.unreadable);
  const scps = guardrails?.levels ? { guardrails: guardrails.levels } : {};
  return { principal: { arn: role.arn, identity, ...(b.boundary ? { boundary: b.boundary } : {}), ...scps }, unreadable };
}

function readUserPolicies(user: IamUser, details: AuthorizationDetails, guardrails: GuardrailReading): Reading {
  const reach = policiesReachingUser(user, details);
  const unreadable = [...reach.unreadable, ...guardrails.unreadable];
  const b = boundaryOf(user.permissionsBoundary, details, `user ${user.name}`);
  if (b.unreadable) unreadable.push(b.unreadable);
  const scps = guardrails.levels ? { guardrails: guardrails.levels } : {};
  return {
    principal: {
      arn: user.arn,
      variables: { username: user.name, userid: user.id },
      identity: reach.statements,
      ...(b.boundary ? { boundary: b.boundary } : {}),
      ...scps,
    },
    unreadable,
  };
}

// ---------------------------------------------------------------------------------------------
// A role's access

export interface RoleAccess {
  /** A FAIL class of SPEC 3.3 holds. */
  fails: boolean;
  /** Unconditionally full access, all actions but a few, or one call from full access: an administrator. */
  admin: boolean;
  conditional: boolean;
  summary: string;
  classes: AccessClass['kind'][];
  contributors: Array<{ path: string; statement: string; policyArn?: string }>;
  /** What the account's SCPs take away from the role's own grants, level by level. */
  cappedBy?: string[];
}

function describeClass(c: AccessClass): string {
  switch (c.kind) {
    case 'full':
      return 'full access (*:* on *)';
    case 'all-except':
      return `all actions${c.excluded.actions > 0 ? ` except ${describeSummary(c.excluded)}` : ' on most resources'}`;
    case 'on-resources':
      return `all actions on ${c.resources
        .map((r) => r.resource)
        .slice(0, 3)
        .join(', ')}${c.resources.length > 3 ? ` and ${c.resources.length - 3} more` : ''}`;
  }
}

function contributorsOf(c: AccessClass): SourcedStatement[] {
  return c.kind === 'on-resources' ? c.resources.flatMap((r) => r.contributors) : c.contributors;
}

/** Roles with the same statements have the same classes: `cache` keeps them by signature. */
function roleAccess(
  role: IamRole,
  ea: EffectiveAccess,
  cache?: Map<string, { strict: AccessClass[]; loose: AccessClass[] | null }>,
  signature?: string,
): RoleAccess {
  let known = signature !== undefined ? cache?.get(signature) : undefined;
  if (!known) {
    known = { strict: ea.classes(STRICT), loose: null };
    if (signature !== undefined) cache?.set(signature, known);
  }
  const named = (list: SourcedStatement[]) => [
    ...new Map(
      list.map((s) => [
        `${s.origin.path}|${labelOf(s)}`,
        { path: s.origin.path, statement: labelOf(s), ...(s.origin.policyArn ? { policyArn: s.origin.policyArn } : {}) },
      ]),
    ).values(),
  ];
  const strict = known.strict;
  if (strict.length > 0) {
    const top = strict[0]!;
    return {
      fails: true,
      admin: top.kind !== 'on-resources',
      conditional: false,
      summary: describeClass(top),
      classes: strict.map((c) => c.kind),
      contributors: named(contributorsOf(top)),
    };
  }
  // One call from full access: writing or attaching its own policies, when no boundary or SCP caps them.
  if (!ea.hasBoundary && ea.guardrailsLeaveFailClass()) {
    for (const action of ['iam:PutRolePolicy', 'iam:AttachRolePolicy']) {
      const d = ea.mayAllow(action) ? ea.decide(action, role.arn) : 'implicit';
      if (d === 'allow' || d === 'conditional') {
        return {
          fails: true,
          admin: d === 'allow',
          conditional: d === 'conditional',
          summary: `${d === 'conditional' ? 'conditionally ' : ''}can make itself an administrator in one call: ${action} on itself`,
          classes: [],
          contributors: named(ea.allowsFor(action, role.arn)),
        };
      }
    }
  }
  known.loose ??= ea.classes(LOOSE);
  const loose = known.loose;
  if (loose.length > 0) {
    const top = loose[0]!;
    return {
      fails: true,
      admin: false,
      conditional: true,
      summary: `conditionally ${describeClass(top)}`,
      classes: loose.map((c) => c.kind),
      contributors: named(contributorsOf(top).filter((s) => s.statement.condition !== null)),
    };
  }
  // The role's own policies hold a FAIL class that the SCPs remove: they are the reason, and named.
  if (ea.hasGuardrails && ea.classes({ ...LOOSE, guardrails: false }).length > 0) {
    const effects = ea.guardrailEffects(LOOSE);
    const cappedBy = effects.map(describeEffect);
    const summary = `no full-access grant (capped by ${cappedBy.length > 0 ? cappedBy.join('; ') : 'service control policies'})`;
    return {
      fails: false,
      admin: false,
      conditional: false,
      summary,
      classes: [],
      contributors: [],
      ...(cappedBy.length > 0 ? { cappedBy } : {}),
    };
  }
  return { fails: false, admin: false, conditional: false, summary: 'no full-access grant', classes: [], contributors: [] };
}

/** The role's grants as the SCPs leave them: named when they take something away. */
function withGuardrailEffects(access: RoleAccess, ea: EffectiveAccess): RoleAccess {
  if (!access.fails || !ea.hasGuardrails) return access;
  const effects = ea.guardrailEffects(LOOSE);
  return effects.length > 0 ? { ...access, cappedBy: effects.map(describeEffect) } : access;
}

// ---------------------------------------------------------------------------------------------
// Reachability

/** One AssumeRole call a principal of the account can make. */
export interface AssumeEdge {
  from: string;
  fromKind: 'user' | 'role';
  to: string;
  conditional: boolean;
  /** The trust policy names the principal's own ARN: no identity Allow is needed in the same account. */
  byArn: boolean;
  mfa: boolean;
  trustStatement: string;
  /** The identity statements that allow the call. */
  paths: Array<{ path: string; statement: string; policyArn?: string }>;
}

interface RoleNode {
  index: number;
  role: IamRole;
  trust: TrustReading | { error: string };
  unreadable: UnreadablePolicy[];
  access: RoleAccess | null;
  /** The trust names the account root or everyone. */
  openToAccount: boolean;
  /** Whether a principal's admission depends only on being in the account (no ARN named, no aws:PrincipalArn). */
  generic: boolean;
  genericAdmission?: ReturnType<typeof admitsInAccount>;
}

/** A user reaching a role through other roles: the roles assumed before it, in order. */
export interface ChainedUser {
  user: string;
  arn: string;
  through: string[];
  conditional: boolean;
}

export interface Reachability {
  scope: InsideScope;
  /** The account's SCPs, as every principal's access was evaluated under them. */
  guardrails: GuardrailReading;
  nodes: Map<string, RoleNode>;
  /** Direct assumers of each role: the first LIST_LIMIT users and roles, and how many there are. */
  incoming: Map<string, { listed: AssumeEdge[]; users: number; roles: number }>;
  /** Per user: the first roles of chains that end at an administrator role. */
  targets: Map<string, EscalationTarget[]>;
  /** The users that reach a role through other roles (MAX_HOPS calls at most): at most `limit` listed, all counted. */
  usersThrough(roleArn: string, limit: number): { listed: ChainedUser[]; total: number };
}

function insideScope(inventory: Inventory, trusted: readonly string[]): InsideScope {
  const org = inventory.organization;
  return {
    accountId: inventory.accountId,
    partition: inventory.partition,
    organizationId: org?.id ?? null,
    organizationAccounts: new Set(org?.accountIds ?? []),
    accounts: new Set([inventory.accountId, ...(org?.accountIds ?? []), ...trusted]),
  };
}

const cache = new WeakMap<AuthorizationDetails, { key: string; value: Reachability }>();

/** One number per guardrail reading: the same authorization details under other SCPs are another graph. */
const guardrailIds = new WeakMap<GuardrailReading, number>();
let nextGuardrailId = 0;
function guardrailsId(reading: GuardrailReading): number {
  let id = guardrailIds.get(reading);
  if (id === undefined) {
    id = nextGuardrailId++;
    guardrailIds.set(reading, id);
  }
  return id;
}

function isServiceLinked(role: IamRole): boolean {
  return role.path.startsWith('/aws-service-role/');
}

/** Statement identities by content: the same inline policy on many users is one statement here. */
const statementIds = new WeakMap<NormalizedStatement, number>();
const contentIds = new Map<string, number>();
let nextId = 0;
function idOf(st: NormalizedStatement): number {
  let id = statementIds.get(st);
  if (id === undefined) {
    const content = JSON.stringify([st.effect, st.actions, st.notActions, st.resources, st.notResources, st.condition]);
    id = contentIds.get(content);
    // Clearing forgets sharing only: ids are never reused.
    if (contentIds.size > 100_000) contentIds.clear();
    if (id === undefined) {
      id = nextId++;
      contentIds.set(content, id);
    }
    statementIds.set(st, id);
  }
  return id;
}

/** Principals with the same statements decide AssumeRole alike: one key for them. */
function signatureOf(p: PrincipalPolicies): string {
  const ids = p.identity.map((s) => idOf(s.statement)).join(',');
  const boundary = p.boundary ? p.boundary.statements.map((s) => idOf(s.statement)).join(',') : '-';
  const personal = [...p.identity, ...(p.boundary?.statements ?? [])].some((s) =>
    [...(s.statement.resources ?? []), ...(s.statement.notResources ?? [])].some((r) => r.includes('${')),
  );
  return `${ids}|${boundary}|${personal ? p.arn : ''}`;
}

type EdgeProto = Omit<AssumeEdge, 'from' | 'fromKind'>;

/** Per role, its callers (role indexes) and whether each call is conditional (1), in parallel. */
interface RoleIncoming {
  from: Int32Array[];
  conditional: Uint8Array[];
}

/** Each role's callers, in the order of the roles and of their calls. */
function incomingOf(outgoing: EdgeProto[][], indexes: Int32Array[]): RoleIncoming {
  const counts = new Int32Array(outgoing.length);
  for (const to of indexes) for (let c = 0; c < to.length; c++) counts[to[c]!]!++;
  const from = Array.from(counts, (n) => new Int32Array(n));
  const conditional = Array.from(counts, (n) => new Uint8Array(n));
  const filled = new Int32Array(outgoing.length);
  for (let r = 0; r < outgoing.length; r++) {
    const protos = outgoing[r]!;
    const to = indexes[r]!;
    for (let c = 0; c < protos.length; c++) {
      const t = to[c]!;
      const k = filled[t]!++;
      from[t]![k] = r;
      conditional[t]![k] = protos[c]!.conditional ? 1 : 0;
    }
  }
  return { from, conditional };
}

/** Backward from the administrator roles: each role's shortest way to one (itself counts as one call). */
function waysToAdmin(
  list: RoleNode[],
  roleIncoming: RoleIncoming,
): Map<number, { calls: number; next: number | null; conditional: boolean }> {
  const toAdmin = new Map<number, { calls: number; next: number | null; conditional: boolean }>();
  let frontier: number[] = [];
  for (const node of list) {
    if (node.access?.admin) {
      toAdmin.set(node.index, { calls: 1, next: null, conditional: false });
      frontier.push(node.index);
    }
  }
  for (let calls = 2; calls <= MAX_HOPS && frontier.length > 0; calls++) {
    const next: number[] = [];
    for (let f = 0; f < frontier.length; f++) {
      const r = frontier[f]!;
      const after = toAdmin.get(r)!;
      const callers = roleIncoming.from[r]!;
      const conditionals = roleIncoming.conditional[r]!;
      for (let c = 0; c < callers.length; c++) {
        const from = callers[c]!;
        const conditional = conditionals[c] === 1;
        const known = toAdmin.get(from);
        if (known && (known.calls < calls || !known.conditional || conditional || after.conditional)) continue;
        toAdmin.set(from, { calls, next: r, conditional: conditional || after.conditional });
        if (!known) next.push(from);
      }
    }
    frontier = next;
  }
  return toAdmin;
}

/**
 * Backward from one role: each predecessor's shortest way to it (nearest first, in the order
 * found), for naming chains. Built a level at a time, as far as a search needs.
 */
class WaysTo {
  readonly way = new Map<number, { next: number; calls: number; conditional: boolean }>();
  private level: number[];
  private calls = 2;

  constructor(
    private readonly t: number,
    private readonly roleIncoming: RoleIncoming,
  ) {
    this.level = [t];
  }

  /** Adds the next level of predecessors; false when there is none. */
  grow(): boolean {
    if (this.calls > MAX_HOPS || this.level.length === 0) return false;
    const { way, t, roleIncoming, calls } = this;
    const next: number[] = [];
    for (let l = 0; l < this.level.length; l++) {
      const r = this.level[l]!;
      const callers = roleIncoming.from[r]!;
      const conditionals = roleIncoming.conditional[r]!;
      for (let c = 0; c < callers.length; c++) {
        const from = callers[c]!;
        if (from === t || way.has(from)) continue;
        way.set(from, { next: r, calls, conditional: conditionals[c] === 1 || (way.get(r)?.conditional ?? false) });
        next.push(from);
      }
    }
    this.level = next;
    this.calls++;
    return true;
  }
}

/** Whether one of the patterns matches the value. */
function matchesAny(patterns: string[], value: string): boolean {
  for (const p of patterns) if (wildcardMatch(p, value)) return true;
  return false;
}

/** In place: `into` ∪ `from`, as bit sets of equal length. */
function orInto(into: Uint32Array, from: Uint32Array): void {
  for (let w = 0; w < into.length; w++) into[w]! |= from[w]!;
}

/**
 * The roles `start` reaches in at most MAX_HOPS - 1 calls, into `bits`. `stamp` marks the roles
 * seen from `start` (one BFS per start; `queue` is reused across them).
 */
function reachFrom(start: number, calls: Int32Array[], stamp: Int32Array, queue: Int32Array, bits: Uint32Array): void {
  stamp[start] = start;
  let head = 0;
  let tail = 0;
  queue[tail++] = start;
  for (let depth = 1; depth < MAX_HOPS && head < tail; depth++) {
    const end = tail;
    for (; head < end; head++) {
      const out = calls[queue[head]!]!;
      for (let c = 0; c < out.length; c++) {
        const t = out[c]!;
        if (stamp[t] === start) continue;
        stamp[t] = start;
        bits[t >>> 5]! |= 1 << (t & 31);
        queue[tail++] = t;
      }
    }
  }
}

/**
 * The Resource patterns of the identity Allows that name sts:AssumeRole, when they are all a
 * principal's grants of it: no role outside them can be allowed, so no decision is needed there.
 * `null`: some grant reaches every role (NotResource, or a pattern naming the principal itself).
 */
function assumeScope(principal: PrincipalPolicies): string[] | null {
  const patterns: string[] = [];
  for (const { statement } of principal.identity) {
    if (statement.effect !== 'Allow' || !assumeActions(statement).includes('sts:assumerole')) continue;
    if (!statement.resources) return null;
    for (const r of statement.resources) {
      if (r.includes('${')) return null;
      patterns.push(r);
    }
  }
  return patterns;
}

/**
 * Every AssumeRole call the principals of the account can make to its roles, and which users
 * reach which roles through chains of at most MAX_HOPS calls. Computed once per authorization
 * details and scope, shared by role-full-access and user-full-access.
 */
export function reachability(inventory: Inventory, details: AuthorizationDetails, trusted: readonly string[] = []): Reachability {
  const scope = insideScope(inventory, trusted);
  const guardrails = readGuardrails(inventory);
  const key = `${inventory.partition}|${[...scope.accounts].sort().join(',')}|${scope.organizationId ?? ''}|${guardrailsId(guardrails)}`;
  const hit = cache.get(details);
  if (hit && hit.key === key) return hit.value;

  const nodes = new Map<string, RoleNode>();
  const list: RoleNode[] = [];
  const roleAccessOf = new Map<string, EffectiveAccess>();
  const byArn = new Map<string, RoleNode[]>();
  const classCache = new Map<string, { strict: AccessClass[]; loose: AccessClass[] | null }>();
  const accessBySignature = new Map<string, EffectiveAccess>();
  for (const role of details.roles) {
    if (isServiceLinked(role) || nodes.has(role.arn)) continue;
    const trust = readTrust(role.trustPolicy, scope);
    const reading = readRole(role, details, guardrails);
    // Roles with the same statements (and no policy variables) are evaluated alike: one evaluator.
    const signature = signatureOf(reading.principal);
    let ea = signature.endsWith('|') ? accessBySignature.get(signature) : undefined;
    if (!ea) {
      ea = new EffectiveAccess(reading.principal, inventory.partition);
      if (signature.endsWith('|')) accessBySignature.set(signature, ea);
    }
    roleAccessOf.set(role.arn, ea);
    const node: RoleNode = {
      index: list.length,
      role,
      trust,
      unreadable: reading.unreadable,
      access: reading.unreadable.length > 0 ? null : withGuardrailEffects(roleAccess(role, ea, classCache, signature), ea),
      openToAccount: false,
      generic: true,
    };
    if (!('error' in trust)) {
      for (const s of trust.allows) {
        if (conditionEntries(s.condition).some((e) => e.key === 'aws:principalarn')) node.generic = false;
        for (const e of principalEntries(s.principal)) {
          if (e.type.toLowerCase() !== 'aws') continue;
          if (e.value === '*' || accountPrincipal(e.value) === scope.accountId) node.openToAccount = true;
          else if (arnAccount(e.value) === scope.accountId) {
            node.generic = false;
            const arn = e.value.startsWith(`arn:${scope.partition}:sts::`)
              ? `arn:${scope.partition}:iam::${scope.accountId}:role/${e.value.split('/')[1]}`
              : e.value;
            const named = byArn.get(arn) ?? [];
            if (!named.includes(node)) named.push(node);
            byArn.set(arn, named);
          }
        }
      }
    }
    nodes.set(role.arn, node);
    list.push(node);
  }
  const open = list.filter((n) => n.openToAccount);
  /** Open roles whose trust also depends on who asks: decided per principal. */
  const openNamed = open.filter((n) => !n.generic);

  const admission = (node: RoleNode, arn: string, kind: 'user' | 'role') => {
    const trust = node.trust as TrustReading;
    if (!node.generic) return admitsInAccount(trust, { arn, kind }, scope);
    node.genericAdmission ??= admitsInAccount(trust, { arn, kind }, scope);
    return node.genericAdmission;
  };
  // One entry per statement: many calls are allowed by the same one.
  const pathsOf = new WeakMap<SourcedStatement, AssumeEdge['paths'][number]>();
  const pathOf = (s: SourcedStatement): AssumeEdge['paths'][number] => {
    let path = pathsOf.get(s);
    if (!path) {
      path = { path: s.origin.path, statement: labelOf(s), ...(s.origin.policyArn ? { policyArn: s.origin.policyArn } : {}) };
      pathsOf.set(s, path);
    }
    return path;
  };
  // Shared edges are computed for a signature, not a principal: a role is left out of its own later.
  const edgeTo = (node: RoleNode, arn: string, kind: 'user' | 'role', ea: EffectiveAccess): EdgeProto | null => {
    if ('error' in node.trust) return null;
    const admitted = admission(node, arn, kind);
    if (admitted.admits === 'no') return null;
    const decided = ea.decide('sts:AssumeRole', node.role.arn);
    // A same-account trust naming the principal's ARN needs no identity Allow (nor the boundary's);
    // a Deny still wins, and the SCPs still bind it.
    const decision = admitted.byArn && decided === 'implicit' ? ea.guardrailDecision('sts:AssumeRole', node.role.arn) : decided;
    if (!(decision === 'allow' || decision === 'conditional')) return null;
    return {
      to: node.role.arn,
      conditional: decision === 'conditional' || admitted.admits === 'conditional',
      byArn: admitted.byArn,
      mfa: admitted.mfa,
      trustStatement: admitted.statement ?? '',
      paths: ea.allowsFor('sts:AssumeRole', node.role.arn).map(pathOf),
    };
  };
  // The calls to roles open to the account, for principals of one signature; then those that name the principal.
  const genericEdges = new Map<string, EdgeProto[]>();
  const incoming = new Map<string, { listed: AssumeEdge[]; users: number; roles: number }>();
  const talliesOf = new WeakMap<EdgeProto[], Array<{ listed: AssumeEdge[]; users: number; roles: number }>>();
  const edgesFrom = (arn: string, kind: 'user' | 'role', principal: PrincipalPolicies, ea: EffectiveAccess): EdgeProto[] => {
    let protos: EdgeProto[] = [];
    if (ea.mayAllow('sts:AssumeRole')) {
      const signature = `${kind}|${signatureOf(principal)}`;
      let shared = genericEdges.get(signature);
      if (!shared) {
        shared = [];
        const within = assumeScope(principal);
        for (let n = 0; n < open.length; n++) {
          const node = open[n]!;
          if (!node.generic || (within && !matchesAny(within, node.role.arn))) continue;
          const e = edgeTo(node, arn, kind, ea);
          if (e) shared.push(e);
        }
        genericEdges.set(signature, shared);
      }
      protos = kind === 'role' && nodes.get(arn)?.openToAccount && nodes.get(arn)?.generic ? shared.filter((e) => e.to !== arn) : shared;
      let copied = false;
      for (let n = 0; n < openNamed.length; n++) {
        const node = openNamed[n]!;
        if (node.role.arn === arn) continue;
        const e = edgeTo(node, arn, kind, ea);
        if (!e) continue;
        if (!copied) {
          protos = [...protos];
          copied = true;
        }
        protos.push(e);
      }
    }
    for (const node of byArn.get(arn) ?? []) {
      if ((node.openToAccount && ea.mayAllow('sts:AssumeRole')) || node.role.arn === arn) continue;
      const e = edgeTo(node, arn, kind, ea);
      if (e) protos = [...protos, e];
    }
    // Many principals share one list of calls: its targets' tallies are looked up once for it.
    let tallies = talliesOf.get(protos);
    if (!tallies) {
      tallies = protos.map((p) => {
        let into = incoming.get(p.to);
        if (!into) {
          into = { listed: [], users: 0, roles: 0 };
          incoming.set(p.to, into);
        }
        return into;
      });
      talliesOf.set(protos, tallies);
    }
    for (let i = 0; i < protos.length; i++) {
      const into = tallies[i]!;
      const count = kind === 'user' ? ++into.users : ++into.roles;
      if (count <= LIST_LIMIT) {
        const p = protos[i]!;
        into.listed.push({
          from: arn,
          fromKind: kind,
          to: p.to,
          conditional: p.conditional,
          byArn: p.byArn,
          mfa: p.mfa,
          trustStatement: p.trustStatement,
          paths: p.paths,
        });
      }
    }
    return protos;
  };

  const outgoing: EdgeProto[][] = list.map(() => []);
  for (const node of list) {
    const ea = roleAccessOf.get(node.role.arn)!;
    outgoing[node.index] = edgesFrom(node.role.arn, 'role', ea.principal, ea);
  }
  const indexOf = (arn: string) => nodes.get(arn)!.index;
  // Each role's calls as role indexes, once per list of calls (many roles share one).
  const indexesOf = new Map<EdgeProto[], Int32Array>();
  const outgoingIndexes = outgoing.map((protos) => {
    let indexes = indexesOf.get(protos);
    if (!indexes) {
      indexes = Int32Array.from(protos, (e) => indexOf(e.to));
      indexesOf.set(protos, indexes);
    }
    return indexes;
  });
  const roleIncoming = incomingOf(outgoing, outgoingIndexes);

  // Backward from the administrator roles: each role's shortest way to one (itself counts as one call).
  const toAdmin = waysToAdmin(list, roleIncoming);

  // Which roles each role reaches in at most MAX_HOPS - 1 further calls, as bit sets.
  const words = Math.ceil(list.length / 32) || 1;
  const reach: Uint32Array[] = list.map(() => new Uint32Array(words));
  const stamp = new Int32Array(list.length).fill(-1);
  const queue = new Int32Array(list.length);
  for (const node of list) reachFrom(node.index, outgoingIndexes, stamp, queue, reach[node.index]!);

  const targets = new Map<string, EscalationTarget[]>();
  const userReach = new Map<string, { user: IamUser; first: EdgeProto[]; direct: Uint32Array; bits: Uint32Array }>();
  const reachCache = new Map<EdgeProto[], { direct: Uint32Array; bits: Uint32Array }>();
  const has = (bits: Uint32Array, i: number) => ((bits[i >>> 5]! >>> (i & 31)) & 1) === 1;
  // Without an Allow of sts:AssumeRole, only a trust naming the user can let it in: documents
  // are scanned once each (groups and managed policies are shared by many users).
  const grantsAssume = new Map<PolicyDocument, boolean>();
  const docGrants = (document: PolicyDocument | undefined): boolean => {
    if (!document) return false;
    let yes = grantsAssume.get(document);
    if (yes === undefined) {
      const read = readDocument(document);
      // An unreadable document is read in full below, where it is reported.
      yes = !read.ok || read.statements.some((st) => st.effect === 'Allow' && assumeActions(st).includes('sts:assumerole'));
      grantsAssume.set(document, yes);
    }
    return yes;
  };
  const groupByName = new Map(details.groups.map((g) => [g.name, g]));
  const anyGrants = (inline: IamUser['inlinePolicies'], attached: IamUser['attachedPolicies']): boolean => {
    for (const p of inline) if (docGrants(p.document)) return true;
    for (const r of attached) if (docGrants(managedPolicy(details, r.arn)?.document)) return true;
    return false;
  };
  const mayAssume = (user: IamUser): boolean => {
    if (byArn.has(user.arn)) return true;
    if (anyGrants(user.inlinePolicies, user.attachedPolicies)) return true;
    for (const name of user.groups) {
      const g = groupByName.get(name);
      if (g && anyGrants(g.inlinePolicies, g.attachedPolicies)) return true;
    }
    return false;
  };
  const targetsCache = new Map<EdgeProto[], EscalationTarget[]>();
  const waysCache = new Map<EdgeProto[], Array<{ e: EdgeProto; way: { calls: number; next: number | null; conditional: boolean } }>>();
  for (const user of details.users) {
    if (!mayAssume(user)) continue;
    const reading = readUserPolicies(user, details, guardrails);
    const ea = new EffectiveAccess(reading.principal, inventory.partition);
    const first = edgesFrom(user.arn, 'user', reading.principal, ea);
    if (first.length === 0) continue;
    let sets = reachCache.get(first);
    if (!sets) {
      const direct = new Uint32Array(words);
      const bits = new Uint32Array(words);
      for (const e of first) {
        const t = indexOf(e.to);
        direct[t >>> 5]! |= 1 << (t & 31);
        bits[t >>> 5]! |= 1 << (t & 31);
        orInto(bits, reach[t]!);
      }
      sets = { direct, bits };
      reachCache.set(first, sets);
    }
    userReach.set(user.arn, { user, first, ...sets });

    // The shortest ways first; a handful is enough to name the escalation and count the others.
    let ways = waysCache.get(first);
    if (!ways) {
      ways = first
        .map((e) => ({ e, way: toAdmin.get(indexOf(e.to)) }))
        .filter((x): x is { e: EdgeProto; way: { calls: number; next: number | null; conditional: boolean } } => x.way !== undefined);
      ways.sort(
        (a, b) => a.way.calls - b.way.calls || Number(a.e.conditional || a.way.conditional) - Number(b.e.conditional || b.way.conditional),
      );
      waysCache.set(first, ways);
    }
    // Principals with the same calls get the same targets, unless a trust names the user itself.
    const shortest = ways.slice(0, MAX_TARGETS);
    const personal = shortest.some(({ e }) => e.byArn);
    const known = personal ? undefined : targetsCache.get(first);
    if (known) {
      if (known.length > 0) targets.set(user.arn, known);
      continue;
    }
    const userTargets: EscalationTarget[] = [];
    for (const { e, way } of shortest) {
      const chain: string[] = [e.to];
      for (let step = way.next; step !== null; step = toAdmin.get(step)!.next) chain.push(list[step]!.role.arn);
      const names = chain.map((r) => nodes.get(r)!.role.name);
      const admin = names.at(-1)!;
      const through = names.length > 1 ? ` (assumes ${names.join(', then ')})` : '';
      const access = nodes.get(chain.at(-1)!)!.access!.summary;
      const how = [
        e.byArn ? `the trust policy of ${names[0]} names ${user.name}` : `the trust policy of ${names[0]} admits the account`,
        e.mfa ? 'with MFA' : '',
      ]
        .filter(Boolean)
        .join(', ');
      userTargets.push({
        action: 'sts:AssumeRole',
        resource: e.to,
        outcome: `can become an administrator through role ${admin}${through}, which has ${access}; ${how}${ways.length > MAX_TARGETS ? ` (${ways.length} roles lead to an administrator role; the ${MAX_TARGETS} shortest ways are listed)` : ''}`,
        needsUncapped: false,
        ...(e.conditional || way.conditional ? { conditional: true } : {}),
        ...(e.byArn ? { grantedByTrust: true } : {}),
        chain,
      });
    }
    if (!personal) targetsCache.set(first, userTargets);
    if (userTargets.length > 0) targets.set(user.arn, userTargets);
  }

  /** Each list of calls by target role (the first call to it, as `find` would give). */
  const callsByTarget = new Map<EdgeProto[], Map<string, EdgeProto>>();
  const firstCallTo = (first: EdgeProto[]): Map<string, EdgeProto> => {
    let byTarget = callsByTarget.get(first);
    if (!byTarget) {
      byTarget = new Map();
      for (const e of first) if (!byTarget.has(e.to)) byTarget.set(e.to, e);
      callsByTarget.set(first, byTarget);
    }
    return byTarget;
  };
  /** The users that reach some role, as an array: every failing role scans them all. */
  let reached: Array<{ user: IamUser; first: EdgeProto[]; direct: Uint32Array; bits: Uint32Array }> | undefined;
  /** Backward from one role: each predecessor's shortest way to it, for naming chains. */
  const usersThrough = (roleArn: string, limit: number) => {
    const target = nodes.get(roleArn);
    if (!target) return { listed: [], total: 0 };
    const t = target.index;
    // Built when a chain is first named: most roles are reached through none.
    let ways: WaysTo | undefined;
    const listed: ChainedUser[] = [];
    let total = 0;
    const chainOf = new Map<EdgeProto[], { through: string[]; conditional: boolean } | null>();
    reached ??= [...userReach.values()];
    for (let u = 0; u < reached.length; u++) {
      const { direct, bits } = reached[u]!;
      if (has(direct, t) || !has(bits, t)) continue;
      const { user, first } = reached[u]!;
      total++;
      if (listed.length >= limit) continue;
      let chain = chainOf.get(first);
      if (chain === undefined) {
        // `way` holds the predecessors nearest first: the first one the user assumes directly is a shortest way.
        let best: { to: number; calls: number; conditional: boolean } | null = null;
        ways ??= new WaysTo(t, roleIncoming);
        const way = ways.way;
        let scanned = 0;
        search: for (;;) {
          let k = 0;
          for (const [p, w] of way) {
            if (k++ < scanned || !has(direct, p)) continue;
            const e = firstCallTo(first).get(list[p]!.role.arn);
            best = { to: p, calls: w.calls, conditional: (e?.conditional ?? false) || w.conditional };
            break search;
          }
          scanned = way.size;
          if (!ways.grow()) break;
        }
        const through: string[] = [];
        if (best)
          for (let step: number | undefined = best.to; step !== undefined && step !== t; step = way.get(step)?.next)
            through.push(list[step]!.role.arn);
        chain = best ? { through, conditional: best.conditional } : null;
        chainOf.set(first, chain);
      }
      if (chain) listed.push({ user: user.name, arn: user.arn, ...chain });
    }
    return { listed, total };
  };

  const value: Reachability = { scope, guardrails, nodes, incoming, targets, usersThrough };
  cache.set(details, { key, value });
  return value;
}

/** The seam of user-full-access: a user's AssumeRole calls that lead to an administrator role. */
export function roleEscalations(
  inventory: Inventory,
  details: AuthorizationDetails,
  trusted: readonly string[] = [],
): (user: IamUser) => EscalationTarget[] {
  const graph = reachability(inventory, details, trusted);
  return (user) => graph.targets.get(user.arn) ?? [];
}

// ---------------------------------------------------------------------------------------------
// Findings

/** The last path segment of an ARN (a user's or role's name), kept: every role lists the same principals. */
const lastSegments = new Map<string, string>();
function lastSegment(arn: string): string {
  let name = lastSegments.get(arn);
  if (name === undefined) {
    name = arn.split('/').pop()!;
    if (lastSegments.size > 100_000) lastSegments.clear();
    lastSegments.set(arn, name);
  }
  return name;
}

function assumers(graph: Reachability, node: RoleNode) {
  const arn = node.role.arn;
  const name = lastSegment;
  const direct = graph.incoming.get(arn) ?? { listed: [], users: 0, roles: 0 };
  const users = direct.listed
    .filter((e) => e.fromKind === 'user')
    .map((e) => ({
      user: name(e.from),
      arn: e.from,
      via: e.byArn && e.paths.length === 0 ? `the trust policy names it (${e.trustStatement})` : (e.paths[0]?.path ?? ''),
      paths: e.paths,
      trustStatement: e.trustStatement,
      conditional: e.conditional,
      ...(e.mfa ? { mfa: true } : {}),
    }));
  const roles = direct.listed
    .filter((e) => e.fromKind === 'role')
    .map((e) => ({ role: name(e.from), arn: e.from, paths: e.paths, trustStatement: e.trustStatement, conditional: e.conditional }));
  // Chains matter where the role is one a user should not reach unseen.
  const chained = node.access?.fails ? graph.usersThrough(arn, LIST_LIMIT) : { listed: [], total: 0 };
  return {
    users,
    roles,
    usersThroughRoles: chained.listed,
    ...(direct.users > users.length || direct.roles > roles.length || chained.total > chained.listed.length
      ? { counts: { users: direct.users, roles: direct.roles, usersThroughRoles: chained.total } }
      : {}),
  };
}

function evaluateRole(inventory: Inventory, graph: Reachability, node: RoleNode): Finding {
  const { role, trust } = node;
  const finding = (status: Finding['status'], severity: Severity, title: string, details: Record<string, unknown>) =>
    makeFinding(inventory, 'role-full-access', { resource: role.arn, status, severity, title, details: { role: role.name, ...details } });

  if ('error' in trust) {
    return finding(
      'ERROR',
      CATALOGUE['role-full-access'].severity,
      `${role.name} could not be evaluated: its trust policy cannot be read (${trust.error})`,
      {
        reason: 'the trust policy cannot be read, so who can assume the role is unknown',
        trustPolicyError: trust.error,
        ...(node.unreadable.length > 0 ? { unreadable: node.unreadable } : {}),
      },
    );
  }
  if (!node.access) {
    const first = node.unreadable[0]!;
    return finding(
      'ERROR',
      CATALOGUE['role-full-access'].severity,
      `${role.name} could not be evaluated: ${first.what} cannot be read (${first.reason})`,
      {
        reason: "a policy of the role cannot be read, so the role's effective access is unknown",
        unreadable: node.unreadable,
        trust: trust.admissions,
      },
    );
  }
  const access = node.access;
  const who = assumers(graph, node);
  const scps = graph.guardrails.described.length > 0 ? { serviceControlPolicies: graph.guardrails.described } : {};
  const accessDetails = {
    access: access.summary,
    classes: access.classes,
    conditionalAccess: access.conditional,
    paths: access.contributors,
    ...(access.cappedBy ? { cappedBy: access.cappedBy } : {}),
    ...scps,
  };
  const common = { ...accessDetails, trust: trust.admissions, assumableBy: who };
  const open = trust.admissions.filter((a) => a.reach === 'open');
  const restricted = trust.admissions.filter((a) => a.reach === 'restricted');
  const lower = (s: Severity) => (access.conditional ? lowerSeverity(s) : s);
  const accounts = (list: Admission[]) => [...new Set(list.flatMap((a) => a.outsideAccounts ?? []))];

  if (access.fails && open.length > 0) {
    return finding(
      'FAIL',
      lower('critical'),
      `${role.name} has ${access.summary} and can be assumed by ${open[0]!.why}${open.length > 1 ? ` (and ${open.length - 1} more)` : ''}`,
      {
        verdict: 'assumable-from-outside',
        ...common,
        outsideAccounts: accounts([...open, ...restricted]),
      },
    );
  }
  if (access.fails && restricted.length > 0) {
    return finding(
      'FAIL',
      lower('high'),
      `${role.name} has ${access.summary} and can be assumed from outside the account: ${restricted[0]!.why}${restricted.length > 1 ? ` (and ${restricted.length - 1} more)` : ''}`,
      {
        verdict: 'assumable-from-outside-under-condition',
        ...common,
        outsideAccounts: accounts(restricted),
      },
    );
  }
  const count = who.counts
    ? who.counts.users + who.counts.roles + who.counts.usersThroughRoles
    : who.users.length + who.roles.length + who.usersThroughRoles.length;
  const inside = trust.admissions.map((a) => a.why);
  // The first five named, in the order users, roles, users through roles.
  const firstFive = [
    ...who.users.slice(0, 5).map((u) => u.user),
    ...who.roles.slice(0, 5).map((r) => `role ${r.role}`),
    ...who.usersThroughRoles.slice(0, 5).map((u) => `${u.user} (through ${u.through.map(lastSegment).join(', ')})`),
  ].slice(0, 5);
  const assumable =
    count > 0
      ? `assumable by ${firstFive.join(', ')}${count > 5 ? ` and ${count - 5} more` : ''}`
      : 'assumable by no user or role of the account';
  if (access.fails) {
    return finding(
      'PASS',
      'informational',
      `${role.name} has ${access.summary}, trusted only inside: ${inside.length > 0 ? inside.slice(0, 3).join('; ') : 'nobody'}; ${assumable}`,
      {
        verdict: 'administrator-trusted-inside',
        ...common,
      },
    );
  }
  return finding('PASS', 'informational', `${role.name} has ${access.summary}; ${assumable}`, { verdict: 'none', ...common });
}

export function evaluateRoles(inventory: Inventory, details: AuthorizationDetails, settings: Pick<Settings, 'trustedAccounts'>): Finding[] {
  const graph = reachability(inventory, details, settings.trustedAccounts);
  return [...graph.nodes.values()].map((node) => evaluateRole(inventory, graph, node));
}

export function evaluate(inventory: Inventory, settings: Settings): Finding[] {
  const source = inventory.authorizationDetails;
  if (source.state !== 'read')
    return [errorFinding(inventory, CATALOGUE['role-full-access'], allRolesArn(inventory), source, 'IAM roles could not be evaluated')];
  return evaluateRoles(inventory, source.data, settings);
}
