import type { AuthorizationDetails, IamUser, Inventory } from '#lib/inventory/types.ts';
import {
  allUsersArn,
  errorFinding,
  lowerSeverity,
  makeFinding,
  severityRank,
  type Check,
  type CheckMetadata,
  type Finding,
  type Severity,
} from '#lib/checks/types.ts';
import {
  allActionsGrant,
  isFullDeny,
  managedPolicy,
  policiesReachingUser,
  readDocument,
  statementCovers,
  type GrantKind,
  type PolicyOrigin,
  type PolicyVariables,
  type ReachingStatement,
  type UnreadablePolicy,
} from '#lib/policy/grants.ts';
import { statementLabel, type NormalizedStatement } from '#lib/policy/statements.ts';

/** A statement reaching the user, named by the path it takes (policy, directly or via a group). */
interface StatementOnPath {
  policy: string;
  policyArn?: string;
  via: 'user' | 'group';
  group?: string;
  path: string;
  statement: string;
  actions?: string[];
  notActions?: string[];
  notResources?: string[];
  conditional: boolean;
  condition?: Record<string, unknown>;
}

/** One statement that grants all actions, and the path by which it reaches the user. */
export interface FullAccessGrant extends StatementOnPath {
  access: GrantKind;
  /** For NotResource grants this is `*`, read together with `notResources`. */
  resources: string[];
  /** The statement also lets the user write its own policies: full access one call away. */
  selfEscalation: boolean;
  severity: Severity;
}

export interface DenyStatement extends StatementOnPath {
  resources?: string[];
  /** An unconditional Deny of every action on every resource of the account's partition. */
  full: boolean;
}

export interface BoundaryAssessment {
  arn: string;
  policy?: string;
  /**
   * - `caps`: the boundary does not allow full access, so the grants cannot take effect in full;
   * - `allows-full-access`: the boundary itself allows all actions on every resource;
   * - `escapable`: it would cap, but the user may remove or rewrite it;
   * - `unreadable`: its document is unknown, so it is not assumed to cap.
   */
  effect: 'caps' | 'allows-full-access' | 'escapable' | 'unreadable';
  reason: string;
  escapes?: string[];
}

const SEVERITY_BY_KIND: Record<GrantKind, Severity> = {
  full: 'critical',
  resources: 'high',
  'all-except-actions': 'high',
  'all-except-resources': 'high',
};

/** Either call, allowed on the user's own ARN, lets the user give itself any permission. */
const SELF_GRANT_ACTIONS = ['iam:PutUserPolicy', 'iam:AttachUserPolicy'];

const metadata: CheckMetadata = {
  id: 'user-full-access',
  title: 'IAM users with full administrative access (*:*)',
  severity: 'critical',
  rationale:
    'A user allowed every action on every resource can read and change anything in the account, ' +
    'including its own and everyone else\'s permissions, and its long-lived credentials make it an attractive ' +
    'target. Administrative access belongs to roles assumed for a task, with the least privilege the task needs. ' +
    'Narrower forms (all actions on some resources, on every resource but a few, or every action but a few) are ' +
    'reported too: they are rarely intended, and those that let the user edit its own policies are full access one call away.',
  remediation: {
    text:
      'Remove the granting path named in the finding: detach the managed policy from the user ' +
      '(aws iam detach-user-policy), delete the inline policy (aws iam delete-user-policy), or remove the user ' +
      'from the group that carries it (aws iam remove-user-from-group). Give administrators a role to assume ' +
      'instead, and scope remaining policies to the actions and resources they need.',
    command: 'aws iam detach-user-policy --user-name <user> --policy-arn <policy-arn>',
  },
  references: {
    cis: { 'v1.4.0': '1.16', 'v3.0.0': '1.16', 'v5.0.0': '1.15' },
    securityHub: ['IAM.1'],
    awsConfig: ['iam-policy-no-statements-with-admin-access'],
    docs: [
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege',
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html',
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html',
      'https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1',
      'https://docs.aws.amazon.com/config/latest/developerguide/iam-policy-no-statements-with-admin-access.html',
    ],
  },
};

function originFields(origin: PolicyOrigin) {
  return {
    policy: origin.policy,
    ...(origin.policyArn ? { policyArn: origin.policyArn } : {}),
    via: origin.via,
    ...(origin.group ? { group: origin.group } : {}),
    path: origin.path,
  };
}

function conditionFields(statement: NormalizedStatement) {
  return statement.condition ? { conditional: true, condition: statement.condition } : { conditional: false };
}

/** Whether the user, through its own policies, may call `action` on `resource` (an unconditional Deny blocks it). */
function identityAllows(statements: ReachingStatement[], action: string, resource: string, vars: PolicyVariables): boolean {
  const covers = (s: NormalizedStatement) => statementCovers(s, action, resource, vars);
  const denied = statements.some(({ statement: s }) => s.effect === 'Deny' && s.condition === null && covers(s));
  return !denied && statements.some(({ statement: s }) => s.effect === 'Allow' && covers(s));
}

function toGrant(
  { origin, statement }: ReachingStatement,
  kind: GrantKind,
  user: IamUser,
  reaching: ReachingStatement[],
  vars: PolicyVariables,
): FullAccessGrant {
  const selfEscalation =
    kind !== 'full' &&
    SELF_GRANT_ACTIONS.some(
      (action) =>
        statementCovers(statement, action, user.arn, vars) &&
        !reaching.some(
          ({ statement: s }) => s.effect === 'Deny' && s.condition === null && statementCovers(s, action, user.arn, vars),
        ),
    );
  const base = SEVERITY_BY_KIND[kind];
  return {
    ...originFields(origin),
    statement: statementLabel(statement),
    access: kind,
    ...(statement.actions ? { actions: statement.actions } : {}),
    ...(statement.notActions ? { notActions: statement.notActions } : {}),
    resources: statement.resources ?? ['*'],
    ...(statement.notResources ? { notResources: statement.notResources } : {}),
    ...conditionFields(statement),
    selfEscalation,
    severity: statement.condition ? lowerSeverity(base) : base,
  };
}

function toDeny({ origin, statement }: ReachingStatement, partition: string): DenyStatement {
  return {
    ...originFields(origin),
    statement: statementLabel(statement),
    ...(statement.actions ? { actions: statement.actions } : {}),
    ...(statement.notActions ? { notActions: statement.notActions } : {}),
    ...(statement.resources ? { resources: statement.resources } : {}),
    ...(statement.notResources ? { notResources: statement.notResources } : {}),
    ...conditionFields(statement),
    full: isFullDeny(statement, partition),
  };
}

/**
 * A boundary caps the user unless it allows full access itself, cannot be read, or lets the user
 * take it off: with DeleteUserPermissionsBoundary or PutUserPermissionsBoundary on itself, or
 * CreatePolicyVersion on a customer-managed boundary policy, allowed by both the boundary and the
 * user's own policies, the cap lasts one API call.
 */
function assessBoundary(
  user: IamUser,
  details: AuthorizationDetails,
  reaching: ReachingStatement[],
  vars: PolicyVariables,
): BoundaryAssessment | undefined {
  if (!user.permissionsBoundary) return undefined;
  const arn = user.permissionsBoundary.arn;
  const policy = managedPolicy(details, arn);
  if (!policy) {
    return {
      arn,
      effect: 'unreadable',
      reason: 'the boundary policy is not in the GetAccountAuthorizationDetails policies; not assumed to cap',
    };
  }
  const read = readDocument(policy.document);
  if (!read.ok) {
    return { arn, policy: policy.name, effect: 'unreadable', reason: `unreadable (${read.error}); not assumed to cap` };
  }
  // A conditional Allow * still allows everything whenever its condition holds: not a cap.
  const full = read.statements.find((s) => allActionsGrant(s) === 'full');
  if (full) {
    return {
      arn,
      policy: policy.name,
      effect: 'allows-full-access',
      reason: `the boundary itself allows *:* on * (${statementLabel(full)})`,
    };
  }
  const escapeRoutes: Array<[string, string]> = [
    ['iam:DeleteUserPermissionsBoundary', user.arn],
    ['iam:PutUserPermissionsBoundary', user.arn],
  ];
  if (!policy.awsManaged) escapeRoutes.push(['iam:CreatePolicyVersion', policy.arn]);
  const boundaryAllows = (action: string, resource: string) => {
    const covers = (s: NormalizedStatement) => statementCovers(s, action, resource, vars);
    return (
      !read.statements.some((s) => s.effect === 'Deny' && s.condition === null && covers(s)) &&
      read.statements.some((s) => s.effect === 'Allow' && covers(s))
    );
  };
  const escapes = escapeRoutes
    .filter(([action, resource]) => boundaryAllows(action, resource) && identityAllows(reaching, action, resource, vars))
    .map(([action, resource]) => `${action} on ${resource}`);
  if (escapes.length > 0) {
    return {
      arn,
      policy: policy.name,
      effect: 'escapable',
      reason: `the user may remove or rewrite its boundary (${escapes.join('; ')})`,
      escapes,
    };
  }
  return { arn, policy: policy.name, effect: 'caps', reason: 'the boundary does not allow *:* on *' };
}

function list(values: string[], max = 3): string {
  return values.length <= max ? values.join(', ') : `${values.slice(0, max).join(', ')} and ${values.length - max} more`;
}

/** The title's account of one grant: `has full access (*:* on *) directly via policy X`. */
function describeGrant(grant: FullAccessGrant): string {
  const when = grant.conditional ? 'conditionally ' : '';
  const self = grant.selfEscalation ? ' (can grant itself any permission)' : '';
  switch (grant.access) {
    case 'full': {
      const on = grant.resources.some((r) => r.trim() === '*') ? '*' : list(grant.resources);
      return `${when}has full access (*:* on ${on}) ${grant.path}`;
    }
    case 'resources':
      return `${when}can do all actions on ${list(grant.resources)}${self} ${grant.path}`;
    case 'all-except-actions': {
      const where = grant.notResources ? ` on every resource except ${list(grant.notResources)}` : '';
      return `${when}can do all actions except ${list(grant.notActions ?? [])}${where}${self} ${grant.path}`;
    }
    case 'all-except-resources':
      return `${when}can do all actions on every resource except ${list(grant.notResources ?? [])}${self} ${grant.path}`;
  }
}

function more(count: number, what: string): string {
  return count > 0 ? ` (and ${count} more ${what}${count === 1 ? '' : 's'})` : '';
}

/** Commands that cut each granting path, for the alert's remediation line. */
function commandsFor(user: IamUser, grants: FullAccessGrant[]): string[] {
  const commands = grants.map((g) => {
    if (g.via === 'group') return `aws iam remove-user-from-group --user-name ${user.name} --group-name ${g.group}`;
    if (g.policyArn) return `aws iam detach-user-policy --user-name ${user.name} --policy-arn ${g.policyArn}`;
    return `aws iam delete-user-policy --user-name ${user.name} --policy-name ${g.policy}`;
  });
  return [...new Set(commands)];
}

function worst(severities: Severity[]): Severity {
  return severities.reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a), 'informational');
}

function evaluateUser(inventory: Inventory, details: AuthorizationDetails, user: IamUser): Finding {
  const vars: PolicyVariables = { username: user.name, userid: user.id };
  const reach = policiesReachingUser(user, details);
  const grants: FullAccessGrant[] = [];
  for (const r of reach.statements) {
    const kind = allActionsGrant(r.statement);
    if (kind) grants.push(toGrant(r, kind, user, reach.statements, vars));
  }
  // Worst first, so the title speaks of the grant that sets the severity.
  grants.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const denies = reach.statements.filter((r) => r.statement.effect === 'Deny').map((r) => toDeny(r, inventory.partition));
  const fullDeny = denies.find((d) => d.full);
  const boundary = assessBoundary(user, details, reach.statements, vars);
  const unreadable: UnreadablePolicy[] = reach.unreadable;

  const finding = (status: Finding['status'], severity: Severity, title: string, extra: Record<string, unknown> = {}) =>
    makeFinding(inventory, metadata.id, {
      resource: user.arn,
      status,
      severity,
      title,
      details: {
        user: user.name,
        grants,
        denies,
        ...(boundary ? { permissionsBoundary: boundary } : {}),
        ...(unreadable.length > 0 ? { unreadable } : {}),
        // A neutralised grant is worth seeing, but not worth a command to remove it.
        ...(grants.length > 0 && status !== 'PASS' ? { commands: commandsFor(user, grants) } : {}),
        ...extra,
      },
    });

  const error = (reason: string) => {
    const first = unreadable[0]!;
    return finding(
      'ERROR',
      metadata.severity,
      `${user.name} could not be evaluated: ${first.what} cannot be read (${first.reason})${more(unreadable.length - 1, 'unreadable source')}`,
      { reason },
    );
  };

  if (fullDeny) {
    const reason = `Deny *:* on * ${fullDeny.path} (${fullDeny.statement}) overrides every Allow`;
    // Per the spec an unreadable policy never yields PASS, even when the deny would decide it.
    if (unreadable.length > 0) return error(`${reason}, but some policies reaching the user cannot be read`);
    return finding('PASS', 'informational', `${user.name} has no effective full access: ${reason}`, { reason });
  }

  if (grants.length === 0) {
    if (unreadable.length > 0) {
      return error('no readable statement grants all actions, but an unreadable policy might');
    }
    // A boundary only ever removes permissions, so one that cannot be read changes nothing here.
    return finding('PASS', 'informational', `${user.name} has no full-access grant`);
  }

  const top = grants[0]!;
  const severity = worst(grants.map((g) => g.severity));
  const base = `${user.name} ${describeGrant(top)}${more(grants.length - 1, 'grant')}`;
  const unreadableNote = unreadable.length > 0 ? `; ${unreadable.length} unreadable source${unreadable.length === 1 ? '' : 's'} not evaluated` : '';

  if (boundary?.effect === 'caps') {
    const reason = `capped by permissions boundary ${boundary.policy} (${boundary.arn}), which does not allow *:* on *`;
    // An unreadable identity policy could hold a way out of the cap: the outcome is unknown.
    if (unreadable.length > 0) return error(`${reason}, but some policies reaching the user cannot be read`);
    return finding('WARN', lowerSeverity(severity), `${base}, capped by permissions boundary ${boundary.policy}`, {
      reason,
    });
  }
  const boundaryNote =
    boundary?.effect === 'escapable'
      ? `; permissions boundary ${boundary.policy} does not cap it: the user may remove or rewrite it`
      : boundary?.effect === 'unreadable'
        ? `; permissions boundary ${boundary.policy ?? boundary.arn} cannot be read, not assumed to cap`
        : '';
  const reason =
    denies.length > 0
      ? 'Deny statements reach the user, but none is an unconditional Deny *:* on *: they do not neutralise the grant (see denies)'
      : undefined;
  return finding('FAIL', severity, `${base}${boundaryNote}${unreadableNote}`, reason ? { reason } : {});
}

export const userFullAccess: Check = {
  ...metadata,
  evaluate(inventory) {
    const source = inventory.authorizationDetails;
    if (source.state !== 'read') {
      return [errorFinding(inventory, metadata, allUsersArn(inventory), source, 'IAM users could not be evaluated')];
    }
    return source.data.users.map((user) => evaluateUser(inventory, source.data, user));
  },
};
