import type { Settings } from '#lib/settings.ts';
import type { AuthorizationDetails, IamGroup, IamUser, Inventory } from '#lib/inventory/types.ts';
import { allUsersArn } from '#lib/model/arn.ts';
import { errorFinding, lowerSeverity, makeFinding, severityRank, type Finding, type Severity } from '#lib/model/finding.ts';
import { CATALOGUE } from '#lib/checks/catalogue.ts';
import { managedPolicy, policiesReachingUser, readDocument, resolvePolicyVariables, type UnreadablePolicy } from '#lib/policy/grants.ts';
import { describeEffect, effectNames, readGuardrails, scpNames, type GuardrailReading } from '#lib/policy/guardrails.ts';
import { wildcardMatch } from '#lib/policy/statements.ts';
import { roleEscalations } from '#lib/checks/iam/role-full-access.ts';
import {
  EffectiveAccess,
  STAR_RESOURCE,
  describeSummary,
  labelOf,
  summarize,
  type AccessClass,
  type GuardrailEffect,
  type PrincipalPolicies,
  type SourcedStatement,
  type View,
} from '#lib/policy/effective.ts';

const CAPPED: View = { conditional: false, boundary: true, guardrails: true };
const CAPPED_IF: View = { conditional: true, boundary: true, guardrails: true };

/** How a finding names one statement that contributes to a verdict. */
interface PathEntry {
  policy: string;
  policyArn?: string;
  via: string;
  group?: string;
  path: string;
  statement: string;
  conditional: boolean;
  condition?: Record<string, unknown>;
}

export type GrantClass = 'full-access' | 'all-actions-except' | 'all-actions-on-resources' | 'escalation';

/** One verdict class that holds for the user, with what makes it hold. */
export interface AccessGrant {
  class: GrantClass;
  severity: Severity;
  conditional: boolean;
  /** The words of the title for this grant, without the user's name. */
  summary: string;
  paths: PathEntry[];
  excluded?: string[];
  exceptResources?: string[];
  resources?: string[];
  action?: string;
  resource?: string;
  /** Escalations: every call that works, with its outcome and path. */
  routes?: EscalationRoute[];
}

export interface EscalationRoute {
  action: string;
  resource: string;
  outcome: string;
  conditional: boolean;
  paths: PathEntry[];
  /** sts:AssumeRole routes: the roles assumed in turn, the last one an administrator. */
  chain?: string[];
}

/**
 * A one-step way to full access the user's own policies allow (SPEC 3.3). Other modules add
 * targets through `escalationTargets` (a role the user may assume, for the role check).
 */
export interface EscalationTarget {
  action: string;
  resource: string;
  /** What the call achieves: `attaches any policy to itself`. */
  outcome: string;
  /** The call only helps when the user's own policies are not capped by a boundary. */
  needsUncapped: boolean;
  /** The target side is conditional (a trust policy's conditions): the route is conditional whatever the user's policies say. */
  conditional?: boolean;
  /** The target's own policy names the user (a same-account trust policy naming its ARN): no identity Allow is needed, only no Deny. */
  grantedByTrust?: boolean;
  /** The roles assumed in turn, for sts:AssumeRole targets. */
  chain?: string[];
}

function pathEntry(source: SourcedStatement): PathEntry {
  const { origin, statement } = source;
  return {
    policy: origin.policy,
    ...(origin.policyArn ? { policyArn: origin.policyArn } : {}),
    via: origin.via,
    ...(origin.group ? { group: origin.group } : {}),
    path: origin.path,
    statement: labelOf(source),
    ...(statement.condition ? { conditional: true, condition: statement.condition } : { conditional: false }),
  };
}

function list(values: string[], max = 3): string {
  return values.length <= max ? values.join(', ') : `${values.slice(0, max).join(', ')} and ${values.length - max} more`;
}

function more(count: number, what: string): string {
  return count > 0 ? ` (and ${count} more ${what}${count === 1 ? '' : 's'})` : '';
}

function worst(severities: Severity[]): Severity {
  return severities.reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a), 'informational');
}

function isAllowedDecision(d: string): d is 'allow' | 'conditional' {
  return d === 'allow' || d === 'conditional';
}

/** The account-wide facts one user's escalations are judged against, computed once per run. */
interface AccountContext {
  inventory: Inventory;
  details: AuthorizationDetails;
  guardrails: GuardrailReading;
  /** Users with unconditional full access under every layer. */
  fullAccessUsers: IamUser[];
  /** Groups whose own policies alone hold a full-access class (conditionally, or not). */
  fullAccessGroups: Array<{ group: IamGroup; access: string; conditional: boolean }>;
  escalationTargets?: (user: IamUser) => EscalationTarget[];
}

interface Reading {
  principal: PrincipalPolicies;
  unreadable: UnreadablePolicy[];
  boundary?: { arn: string; name: string; awsManaged: boolean };
}

function readUser(user: IamUser, details: AuthorizationDetails, guardrails: GuardrailReading): Reading {
  const reach = policiesReachingUser(user, details);
  const unreadable = [...reach.unreadable, ...guardrails.unreadable];
  const principal: PrincipalPolicies = {
    arn: user.arn,
    variables: { username: user.name, userid: user.id },
    identity: reach.statements,
    ...(guardrails.levels ? { guardrails: guardrails.levels } : {}),
  };
  let boundary: Reading['boundary'];
  if (user.permissionsBoundary) {
    const arn = user.permissionsBoundary.arn;
    const policy = managedPolicy(details, arn);
    const base = { policy: policy?.name ?? arn, policyArn: arn, via: 'boundary', path: `permissions boundary ${policy?.name ?? arn}` };
    const read = policy
      ? readDocument(policy.document)
      : { ok: false as const, error: 'not in the GetAccountAuthorizationDetails policies' };
    if (!read.ok) {
      unreadable.push({
        what: `permissions boundary ${base.policy} (${arn})`,
        policy: base.policy,
        policyArn: arn,
        via: 'user',
        path: base.path,
        reason: read.error,
      });
    } else {
      boundary = { arn, name: base.policy, awsManaged: policy?.awsManaged ?? false };
      principal.boundary = { arn, name: base.policy, statements: read.statements.map((statement) => ({ origin: base, statement })) };
    }
  }
  return { principal, unreadable, ...(boundary ? { boundary } : {}) };
}

/** What a group's readable policies alone give (an unreadable one could only take access away). */
function groupAccess(group: IamGroup, details: AuthorizationDetails, partition: string, guardrails: GuardrailReading): EffectiveAccess {
  const probe: IamUser = {
    name: `group:${group.name}`,
    arn: group.arn,
    id: group.id,
    path: group.path,
    createDate: null,
    groups: [group.name],
    inlinePolicies: [],
    attachedPolicies: [],
    permissionsBoundary: null,
  };
  const reach = policiesReachingUser(probe, details);
  return new EffectiveAccess(
    { arn: group.arn, identity: reach.statements, ...(guardrails.levels ? { guardrails: guardrails.levels } : {}) },
    partition,
  );
}

const groupArnIndex = new WeakMap<AuthorizationDetails, Map<string, string>>();

/** Group ARNs by name, built once per authorization details. */
function groupArns(details: AuthorizationDetails): Map<string, string> {
  let index = groupArnIndex.get(details);
  if (!index) {
    index = new Map(details.groups.map((g) => [g.name, g.arn]));
    groupArnIndex.set(details, index);
  }
  return index;
}

/** The calls of the one-step escalations: only calls some Allow names can work; most users are allowed none of them. */
const ESCALATION_ACTIONS = [
  'iam:PutUserPolicy',
  'iam:AttachUserPolicy',
  'iam:PutGroupPolicy',
  'iam:AttachGroupPolicy',
  'iam:CreatePolicyVersion',
  'iam:SetDefaultPolicyVersion',
  'iam:AddUserToGroup',
  'iam:CreateAccessKey',
  'iam:CreateLoginProfile',
  'iam:UpdateLoginProfile',
];

/** The one-step escalations SPEC 3.3 lists, as (action, resource) pairs to decide for the user. */
function escalationTargets(user: IamUser, ctx: AccountContext, reading: Reading, ea: EffectiveAccess): EscalationTarget[] {
  const { details, inventory } = ctx;
  const targets: EscalationTarget[] = [];
  // A call no identity Allow names is never decided: its targets are left out from the start.
  const allowed = new Set(ESCALATION_ACTIONS.filter((a) => ea.mayAllow(a)));
  if (allowed.size === 0) {
    if (inventory.partition && ctx.escalationTargets) targets.push(...ctx.escalationTargets(user));
    return targets;
  }
  const push = (target: EscalationTarget) => {
    if (allowed.has(target.action)) targets.push(target);
  };
  const self = (action: string, outcome: string) => push({ action, resource: user.arn, outcome, needsUncapped: true });
  self('iam:PutUserPolicy', 'writes itself an inline policy that allows anything');
  self('iam:AttachUserPolicy', 'attaches any managed policy, AdministratorAccess included, to itself');
  const groupArn = groupArns(details);
  for (const name of allowed.has('iam:PutGroupPolicy') || allowed.has('iam:AttachGroupPolicy') ? user.groups : []) {
    const arn = groupArn.get(name);
    if (!arn) continue;
    push({
      action: 'iam:PutGroupPolicy',
      resource: arn,
      outcome: `writes an inline policy that allows anything into its group ${name}`,
      needsUncapped: true,
    });
    push({
      action: 'iam:AttachGroupPolicy',
      resource: arn,
      outcome: `attaches any managed policy to its group ${name}`,
      needsUncapped: true,
    });
  }
  const customer = new Set<string>();
  const rewrites = allowed.has('iam:CreatePolicyVersion') || allowed.has('iam:SetDefaultPolicyVersion');
  for (const source of rewrites ? reading.principal.identity : []) {
    const arn = source.origin.policyArn;
    if (arn && !customer.has(arn) && managedPolicy(details, arn)?.awsManaged === false) customer.add(arn);
  }
  for (const arn of customer) {
    push({
      action: 'iam:CreatePolicyVersion',
      resource: arn,
      outcome: `rewrites the customer managed policy ${arn} that reaches it`,
      needsUncapped: true,
    });
    push({
      action: 'iam:SetDefaultPolicyVersion',
      resource: arn,
      outcome: `switches the customer managed policy ${arn} that reaches it to another version`,
      needsUncapped: true,
    });
  }
  for (const { group, access, conditional } of allowed.has('iam:AddUserToGroup') ? ctx.fullAccessGroups : []) {
    if (user.groups.includes(group.name)) continue;
    push({
      action: 'iam:AddUserToGroup',
      resource: group.arn,
      outcome: `adds itself to group ${group.name}, which has ${access}`,
      needsUncapped: true,
      conditional,
    });
  }
  const takeovers = ['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateLoginProfile'].filter((a) => allowed.has(a));
  for (const other of takeovers.length > 0 ? ctx.fullAccessUsers : []) {
    if (other.arn === user.arn) continue;
    for (const action of takeovers) {
      targets.push({ action, resource: other.arn, outcome: `takes over user ${other.name}, who has full access`, needsUncapped: false });
    }
  }
  if (inventory.partition && ctx.escalationTargets) targets.push(...ctx.escalationTargets(user));
  return targets;
}

/**
 * Ways to take the boundary off: delete or replace it on itself, or rewrite a customer managed
 * boundary policy. Each allowed call makes the cap last one API call.
 */
function boundaryEscapes(
  user: IamUser,
  ea: EffectiveAccess,
  reading: Reading,
): Array<{ action: string; resource: string; decision: 'allow' | 'conditional' }> {
  if (!reading.boundary) return [];
  const routes: Array<[string, string]> = [
    ['iam:DeleteUserPermissionsBoundary', user.arn],
    ['iam:PutUserPermissionsBoundary', user.arn],
  ];
  if (!reading.boundary.awsManaged) {
    routes.push(['iam:CreatePolicyVersion', reading.boundary.arn], ['iam:SetDefaultPolicyVersion', reading.boundary.arn]);
  }
  const out: Array<{ action: string; resource: string; decision: 'allow' | 'conditional' }> = [];
  for (const [action, resource] of routes) {
    const decision = ea.decide(action, resource);
    if (isAllowedDecision(decision)) out.push({ action, resource, decision });
  }
  return out;
}

function grantsOfClasses(classes: AccessClass[], user: IamUser, ea: EffectiveAccess, conditional: boolean): AccessGrant[] {
  const lower = (s: Severity) => (conditional ? lowerSeverity(s) : s);
  const when = conditional ? 'conditionally ' : '';
  // biome-ignore lint/suspicious/useIterableCallbackReturn: the switch covers every AccessClass kind, which the compiler checks
  return classes.map((c): AccessGrant => {
    switch (c.kind) {
      case 'full': {
        const paths = c.contributors.map(pathEntry);
        return {
          class: 'full-access',
          severity: lower('critical'),
          conditional,
          summary: `${when}has full access (*:* on *) ${paths[0]?.path ?? ''}`.trim(),
          paths,
        };
      }
      case 'all-except': {
        const paths = c.contributors.map(pathEntry);
        const excluded = [...c.excluded.items, ...(c.excluded.more > 0 ? [`and ${c.excluded.more} more`] : [])];
        const actionsPart = c.excluded.actions > 0 ? ` except ${describeSummary(c.excluded)}` : '';
        const resourcePart = c.exceptResources.length > 0 ? ` on every resource except ${list(c.exceptResources)}` : '';
        return {
          class: 'all-actions-except',
          severity: lower('high'),
          conditional,
          summary:
            `${when}can do all actions${actionsPart}${resourcePart || (actionsPart ? '' : ' on most resources')} ${paths[0]?.path ?? ''}`.trim(),
          paths,
          excluded,
          ...(c.exceptResources.length > 0 ? { exceptResources: c.exceptResources } : {}),
        };
      }
      case 'on-resources': {
        const resources = c.resources.map((r) => r.resource);
        const paths = [...new Map(c.resources.flatMap((r) => r.contributors).map((s) => [s, pathEntry(s)])).values()];
        const coversSelf =
          resources.some(
            (r) => r !== STAR_RESOURCE && wildcardMatch(resolvePolicyVariables(r, { username: user.name, userid: user.id }), user.arn),
          ) && isAllowedDecision(ea.decide('iam:PutUserPolicy', user.arn));
        const named = resources.map((r) => (r === STAR_RESOURCE ? '* (every action that takes no resource)' : r));
        return {
          class: 'all-actions-on-resources',
          severity: lower('high'),
          conditional,
          summary:
            `${when}can do all actions on ${list(named)}${coversSelf ? ' (can grant itself any permission)' : ''} ${paths[0]?.path ?? ''}`.trim(),
          paths,
          resources,
        };
      }
    }
  });
}

/** Every verdict class that holds under the capped view, unconditional first, then conditional. */
function grantsUnder(
  user: IamUser,
  ea: EffectiveAccess,
  reading: Reading,
  ctx: AccountContext,
  view: { boundary: boolean; guardrails: boolean },
): AccessGrant[] {
  const strict = ea.classes({ ...view, conditional: false });
  const grants = grantsOfClasses(strict, user, ea, false);
  if (strict[0]?.kind !== 'full') {
    const loose = ea.classes({ ...view, conditional: true }).filter((c) => !strict.some((s) => s.kind === c.kind));
    const conditional = grantsOfClasses(loose, user, ea, true);
    if (conditional.length > 0) {
      // The conditions of the Allows that widen the grant are what the reader has to judge.
      for (const g of conditional) g.paths = g.paths.filter((p) => p.conditional).concat(g.paths.filter((p) => !p.conditional));
    }
    grants.push(...conditional);
  }
  if (grants[0]?.class === 'full-access' && !grants[0].conditional) return grants;
  // A boundary also caps whatever the user writes into its own policies: writing them only
  // escalates when the boundary by itself leaves a full-access class.
  // Service control policies cap it the same way, and the user can remove none of them.
  const capped =
    (view.boundary && reading.boundary !== undefined && !boundaryLeavesFullAccess(ea)) ||
    (view.guardrails && !ea.guardrailsLeaveFailClass());
  const fullAlready = grants.some((g) => g.class === 'full-access');
  const routes: EscalationRoute[] = [];
  for (const target of escalationTargets(user, ctx, reading, ea)) {
    if (target.needsUncapped && capped) continue;
    if (!target.grantedByTrust && !ea.mayAllowUnder(target.action, view)) continue;
    const decided = ea.decide(target.action, target.resource, view);
    // A trust naming the user needs no identity Allow, and a boundary does not limit it; SCPs do.
    const decision =
      target.grantedByTrust && decided === 'implicit'
        ? view.guardrails
          ? ea.guardrailDecision(target.action, target.resource)
          : 'allow'
        : decided;
    if (!isAllowedDecision(decision)) continue;
    const conditional = decision === 'conditional' || target.conditional === true;
    if (fullAlready && conditional) continue;
    routes.push({
      action: target.action,
      resource: target.resource,
      outcome: target.outcome,
      conditional,
      paths: ea.allowsFor(target.action, target.resource).map(pathEntry),
      ...(target.chain ? { chain: target.chain } : {}),
    });
  }
  if (routes.length > 0) {
    routes.sort((a, b) => Number(a.conditional) - Number(b.conditional));
    const first = routes[0]!;
    const conditional = first.conditional;
    const others = routes.length - 1;
    grants.push({
      class: 'escalation',
      severity: conditional ? 'medium' : 'high',
      conditional,
      summary:
        `${conditional ? 'conditionally ' : ''}can make itself an administrator in one call: ${first.action} on ${first.resource} (${first.outcome})${others > 0 ? `, or ${others} other call${others === 1 ? '' : 's'}` : ''} ${first.paths[0]?.path ?? ''}`.trim(),
      paths: [...new Map(routes.flatMap((r) => r.paths).map((p) => [`${p.path}|${p.statement}`, p])).values()],
      action: first.action,
      resource: first.resource,
      routes,
    });
  }
  return grants.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
}

/** Whether the boundary by itself allows everything (then it caps nothing). */
const boundaryVerdicts = new WeakMap<EffectiveAccess, boolean>();

/** Whether the boundary, read as if it were the user's only policy, holds a full-access class. */
function boundaryLeavesFullAccess(ea: EffectiveAccess): boolean {
  if (!ea.principal.boundary) return true;
  let verdict = boundaryVerdicts.get(ea);
  if (verdict === undefined) {
    const { statements } = ea.principal.boundary;
    const guardrails = ea.principal.guardrails ? { guardrails: ea.principal.guardrails } : {};
    const variables = ea.principal.variables ? { variables: ea.principal.variables } : {};
    const boundaryOnly = new EffectiveAccess(
      { arn: ea.principal.arn, identity: statements, ...variables, ...guardrails },
      ea.partition,
      ea.cat,
    );
    // Conditionally is enough: the escalation itself is then conditional, and decided so.
    verdict = boundaryOnly.classes({ conditional: true, boundary: false, guardrails: true }).length > 0;
    boundaryVerdicts.set(ea, verdict);
  }
  return verdict;
}

function commandsFor(user: IamUser, grants: AccessGrant[]): string[] {
  const commands = grants.flatMap((g) =>
    g.paths
      .filter((p) => p.via === 'user' || p.via === 'group')
      .map((p) => {
        if (p.via === 'group') return `aws iam remove-user-from-group --user-name ${user.name} --group-name ${p.group}`;
        if (p.policyArn) return `aws iam detach-user-policy --user-name ${user.name} --policy-arn ${p.policyArn}`;
        return `aws iam delete-user-policy --user-name ${user.name} --policy-name ${p.policy}`;
      }),
  );
  return [...new Set(commands)];
}

function effectDetails(effect: GuardrailEffect) {
  return {
    level: effect.level,
    policies: effectNames(effect),
    removes: describeSummary(effect.removed),
    keeps: describeSummary(effect.kept),
    statements: [...effect.denies, ...effect.allows].map(pathEntry),
  };
}

/**
 * Which caps remove the full access, when both a boundary and SCPs apply: the one that removes
 * it alone, or both when each does, or when only the two together do.
 */
function capsOf(user: IamUser, ea: EffectiveAccess, reading: Reading, ctx: AccountContext): { boundary: boolean; guardrails: boolean } {
  if (!ea.hasGuardrails) return { boundary: true, guardrails: false };
  if (!reading.boundary) return { boundary: false, guardrails: true };
  const scpAlone = grantsUnder(user, ea, reading, ctx, { boundary: false, guardrails: true }).length === 0;
  const boundaryAlone = grantsUnder(user, ea, reading, ctx, { boundary: true, guardrails: false }).length === 0;
  return { boundary: boundaryAlone || !scpAlone, guardrails: scpAlone || !boundaryAlone };
}

function evaluateUser(user: IamUser, ctx: AccountContext, ready?: { reading: Reading; ea: EffectiveAccess }): Finding {
  const { inventory, details } = ctx;
  const reading = ready?.reading ?? readUser(user, details, ctx.guardrails);
  const { unreadable } = reading;
  const ea = ready?.ea ?? new EffectiveAccess(reading.principal, inventory.partition);
  const denies = ea.effectiveDenies(CAPPED_IF).map(pathEntry);

  const finding = (status: Finding['status'], severity: Severity, title: string, extra: Record<string, unknown> = {}) =>
    makeFinding(inventory, 'user-full-access', {
      resource: user.arn,
      status,
      severity,
      title,
      details: {
        user: user.name,
        ...extra,
        denies,
        ...(unreadable.length > 0 ? { unreadable } : {}),
        ...(ctx.guardrails.described.length > 0 ? { serviceControlPolicies: ctx.guardrails.described } : {}),
      },
    });

  if (unreadable.length > 0) {
    // An unreadable document may hold the Allow that grants, or the Deny or cap that removes: unknown.
    const first = unreadable[0]!;
    const partial = grantsUnder(user, ea, reading, ctx, { boundary: true, guardrails: true });
    return finding(
      'ERROR',
      CATALOGUE['user-full-access'].severity,
      `${user.name} could not be evaluated: ${first.what} cannot be read (${first.reason})${more(unreadable.length - 1, 'unreadable source')}`,
      {
        reason: 'a policy reaching the user cannot be read, so its effective access is unknown',
        ...(partial.length > 0 ? { readableGrants: partial, commands: commandsFor(user, partial) } : {}),
      },
    );
  }

  const boundaryDetails = reading.boundary ? { permissionsBoundary: { arn: reading.boundary.arn, policy: reading.boundary.name } } : {};
  const escapes = boundaryEscapes(user, ea, reading);
  let grants = grantsUnder(user, ea, reading, ctx, { boundary: true, guardrails: true });
  if (escapes.length > 0) {
    // Past a boundary it can take off, the user has what its own policies give; when taking it
    // off is only conditionally allowed, that access is conditional too: one severity lower.
    const escapeIsConditional = escapes.every((e) => e.decision === 'conditional');
    const uncapped = grantsUnder(user, ea, reading, ctx, { boundary: false, guardrails: true }).map((g) =>
      escapeIsConditional
        ? {
            ...g,
            conditional: true,
            severity: lowerSeverity(g.severity),
            summary: g.conditional ? g.summary : `conditionally ${g.summary}`,
          }
        : g,
    );
    // Per class the worse of the two: a conditional way out lowers what lies past the boundary,
    // never what the user already has within it.
    const worse = (a: AccessGrant, b: AccessGrant) => a.class === b.class && severityRank(a.severity) > severityRank(b.severity);
    grants = [
      ...uncapped.filter((u) => !grants.some((g) => worse(g, u))),
      ...grants.filter((g) => !uncapped.some((u) => u.class === g.class && !worse(g, u))),
    ];
  }
  if (escapes.length > 0 && grants.length > 0) {
    const way = escapes.find((e) => e.decision === 'allow') ?? escapes[0]!;
    const paths = ea.allowsFor(way.action, way.resource).map(pathEntry);
    const escapeGrant: AccessGrant = {
      class: 'escalation',
      severity: way.decision === 'conditional' ? 'medium' : 'high',
      conditional: way.decision === 'conditional',
      summary: `can remove its permissions boundary in one call: ${way.action} on ${way.resource}`,
      paths,
      action: way.action,
      resource: way.resource,
    };
    grants = [...grants, escapeGrant].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  }

  if (grants.length > 0) {
    const top = grants[0]!;
    const severity = worst(grants.map((g) => g.severity));
    const escapeNote =
      escapes.length > 0
        ? `; permissions boundary ${reading.boundary!.name} does not cap it: the user may remove or rewrite it (${escapes.map((e) => `${e.action} on ${e.resource}`).join('; ')})`
        : '';
    // What the SCPs take away is named: the class that remains is theirs as much as the grants'.
    const effects = ea.guardrailEffects(CAPPED_IF);
    const scpNote = effects.length > 0 ? `; ${effects.map(describeEffect).join('; ')}` : '';
    return finding('FAIL', severity, `${user.name} ${top.summary}${more(grants.length - 1, 'grant')}${escapeNote}${scpNote}`, {
      verdict: top.class,
      grants,
      ...boundaryDetails,
      ...(effects.length > 0 ? { cappedBy: effects.map(effectDetails) } : {}),
      ...(escapes.length > 0 ? { boundaryEscapes: escapes.map((e) => `${e.action} on ${e.resource}`) } : {}),
      commands: commandsFor(user, grants),
    });
  }

  if (ea.hasBoundary || ea.hasGuardrails) {
    const uncapped = grantsUnder(user, ea, reading, ctx, { boundary: false, guardrails: false });
    if (uncapped.length > 0) {
      const top = uncapped[0]!;
      const remains = summarize(ea.everywhere(CAPPED_IF), 6);
      const remaining =
        remains.actions === 0 ? 'nothing on every resource' : `${describeSummary(remains)} (${remains.actions} actions) on every resource`;
      const caps = capsOf(user, ea, reading, ctx);
      const effects = caps.guardrails ? ea.guardrailEffects(CAPPED_IF) : [];
      const boundaryCap = caps.boundary ? `permissions boundary ${reading.boundary!.name}` : '';
      const scpCap = caps.guardrails ? scpNames(effects) : '';
      const cap = [boundaryCap, scpCap].filter(Boolean).join(' and ');
      const capDetail = [boundaryCap ? `${boundaryCap} (${reading.boundary!.arn})` : '', scpCap].filter(Boolean).join(' and ');
      const scpsDo = effects.length > 0 ? `: ${effects.map(describeEffect).join('; ')}` : '';
      return finding(
        'WARN',
        lowerSeverity(worst(uncapped.map((g) => g.severity))),
        `${user.name} ${top.summary}${more(uncapped.length - 1, 'grant')}, capped by ${cap}`,
        {
          verdict: 'capped',
          grants: uncapped,
          ...boundaryDetails,
          ...(effects.length > 0 ? { cappedBy: effects.map(effectDetails) } : {}),
          reason: `capped by ${capDetail}, which the user cannot remove${scpsDo}; what remains allowed: ${remaining}`,
          remainsAllowed: remains,
        },
      );
    }
  }

  // The SCPs' Denies are told with the rest of what the SCPs take away, below.
  const ownDenies = denies.filter((d) => d.via !== 'guardrail');
  const reason =
    ownDenies.length > 0
      ? `no full-access grant survives; Deny statements reaching the user: ${list(ownDenies.map((d) => `${d.statement} ${d.path}`))}`
      : reading.boundary
        ? `no full-access grant within permissions boundary ${reading.boundary.name}`
        : 'no full-access grant';
  const effects = ea.guardrailEffects(CAPPED_IF);
  const within = effects.length > 0 ? `; within the service control policies: ${effects.map(describeEffect).join('; ')}` : '';
  return finding('PASS', 'informational', `${user.name} has no effective full access: ${reason}${within}`, {
    verdict: 'none',
    reason: `${reason}${within}`,
    ...boundaryDetails,
    ...(effects.length > 0 ? { cappedBy: effects.map(effectDetails) } : {}),
  });
}

/** Taking over a user with all actions but a few is one call to that much access too. */
function isWide(ea: EffectiveAccess, view: View): boolean {
  const kind = ea.topClass(view);
  return kind === 'full' || kind === 'all-except';
}

/**
 * Evaluates every user. Escalations through other principals need their verdicts first: which
 * users have full access (CreateAccessKey on them is a takeover) and which groups do.
 */
export function evaluateUsers(
  inventory: Inventory,
  details: AuthorizationDetails,
  escalation?: AccountContext['escalationTargets'],
): Finding[] {
  // A target is counted on what its readable policies give: an unreadable one could only take
  // access away, and missing a takeover would be a false PASS for the user who can make it.
  const fullAccessUsers: IamUser[] = [];
  const guardrails = readGuardrails(inventory);
  const prepared = new Map<IamUser, { reading: Reading; ea: EffectiveAccess }>();
  for (const user of details.users) {
    const reading = readUser(user, details, guardrails);
    const ea = new EffectiveAccess(reading.principal, inventory.partition);
    prepared.set(user, { reading, ea });
    const full =
      isWide(ea, CAPPED) || (ea.hasBoundary && isWide(ea, { ...CAPPED, boundary: false }) && boundaryEscapes(user, ea, reading).length > 0);
    if (full) fullAccessUsers.push(user);
  }
  const fullAccessGroups: AccountContext['fullAccessGroups'] = [];
  const ACCESS = { full: 'full access', 'all-except': 'all actions but a few', 'on-resources': 'all actions on some resources' } as const;
  for (const group of details.groups) {
    const ea = groupAccess(group, details, inventory.partition, guardrails);
    const strict = ea.topClass(CAPPED);
    const loose = strict ? undefined : ea.topClass(CAPPED_IF);
    if (strict) fullAccessGroups.push({ group, access: ACCESS[strict], conditional: false });
    else if (loose) fullAccessGroups.push({ group, access: `conditionally ${ACCESS[loose]}`, conditional: true });
  }
  const ctx: AccountContext = {
    inventory,
    details,
    guardrails,
    fullAccessUsers,
    fullAccessGroups,
    ...(escalation ? { escalationTargets: escalation } : {}),
  };
  return details.users.map((user) => {
    const ready = prepared.get(user);
    prepared.delete(user);
    return evaluateUser(user, ctx, ready);
  });
}

export function evaluate(inventory: Inventory, settings: Settings): Finding[] {
  const source = inventory.authorizationDetails;
  if (source.state !== 'read') {
    return [errorFinding(inventory, CATALOGUE['user-full-access'], allUsersArn(inventory), source, 'IAM users could not be evaluated')];
  }
  return evaluateUsers(inventory, source.data, roleEscalations(inventory, source.data, settings.trustedAccounts));
}
