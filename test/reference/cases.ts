/**
 * One user and the policies that reach it, as plain documents, turned into an Inventory with
 * the test builders. Shared by the reference's own tests and the effective-access property.
 */
import type { GuardrailLevel, IamGroup, IamUser, Inventory, ManagedPolicy } from '#lib/inventory/types.ts';
import { ACCOUNT, inventory } from '#test/build-inventory.ts';

export const USER = 'alice';
export const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/${USER}`;

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
  Sid?: string;
}

export interface Doc {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** A managed policy: AWS managed ones are shared by name; customer managed ones are one per use. */
export type Managed = { aws: 'AdministratorAccess' | 'IAMFullAccess' | 'ReadOnlyAccess' } | { customer: Doc };

export interface GroupSpec {
  inline: Doc[];
  attached: Managed[];
  /** False: a group of the account the user is not in. */
  member: boolean;
}

export interface PolicySet {
  inline: Doc[];
  attached: Managed[];
  groups: GroupSpec[];
  /** A customer managed permissions boundary. */
  boundary?: Doc;
  /** Service control policies by level: the root, then OUs, then the account (at least two levels). */
  scps?: Doc[][];
}

export const ROOT_ID = 'r-ab12';
export const ouId = (i: number) => `ou-ab12-${String(i).padStart(8, '0')}`;

/** SCP levels as the Inventory holds them: root, OUs, the account; the policies named SCP<level>x<index>. */
export function guardrailLevels(scps: Doc[][]): GuardrailLevel[] {
  return scps.map((docs, i) => {
    const kind = i === 0 ? 'root' : i === scps.length - 1 ? 'account' : 'ou';
    const target = kind === 'root' ? ROOT_ID : kind === 'account' ? ACCOUNT : ouId(i);
    return {
      kind,
      target,
      policies: docs.map((d, j) => {
        const id = `p-scp${i}x${j}abcd`;
        return {
          id,
          name: `SCP${i}x${j}`,
          arn: `arn:aws:organizations::111111111111:policy/o-abcdefghij/service_control_policy/${id}`,
          awsManaged: false,
          target,
          document: { ok: true as const, document: d },
        };
      }),
    };
  });
}

export const doc = (...statements: Statement[]): Doc => ({ Version: '2012-10-17', Statement: statements });

export const AWS_MANAGED: Record<'AdministratorAccess' | 'IAMFullAccess' | 'ReadOnlyAccess', Doc> = {
  AdministratorAccess: doc({ Effect: 'Allow', Action: '*', Resource: '*' }),
  IAMFullAccess: doc({ Effect: 'Allow', Action: 'iam:*', Resource: '*' }),
  ReadOnlyAccess: doc({ Effect: 'Allow', Action: ['s3:Get*', 's3:List*', 'ec2:Describe*', 'iam:Get*', 'iam:List*'], Resource: '*' }),
};

/** The Inventory holding exactly this user, its groups and policies. */
export function buildCase(set: PolicySet): Inventory {
  const policies: Record<string, ManagedPolicy> = {};
  let customer = 0;
  const ref = (m: Managed): { name: string; arn: string } => {
    if ('aws' in m) {
      const arn = `arn:aws:iam::aws:policy/${m.aws}`;
      policies[arn] = {
        name: m.aws,
        arn,
        path: '/',
        defaultVersionId: 'v1',
        document: { ok: true, document: AWS_MANAGED[m.aws] },
        awsManaged: true,
      };
      return { name: m.aws, arn };
    }
    const name = `Customer${customer++}`;
    const arn = `arn:aws:iam::${ACCOUNT}:policy/${name}`;
    policies[arn] = { name, arn, path: '/', defaultVersionId: 'v1', document: { ok: true, document: m.customer }, awsManaged: false };
    return { name, arn };
  };
  const inline = (docs: Doc[], prefix: string) =>
    docs.map((d, i) => ({ name: `${prefix}${i}`, document: { ok: true as const, document: d } }));
  const groups: IamGroup[] = set.groups.map((g, i) => ({
    name: `group${i}`,
    arn: `arn:aws:iam::${ACCOUNT}:group/group${i}`,
    id: `AGPAGROUP${i}`,
    path: '/',
    inlinePolicies: inline(g.inline, `group${i}-inline`),
    attachedPolicies: g.attached.map(ref),
  }));
  let permissionsBoundary: IamUser['permissionsBoundary'] = null;
  if (set.boundary) {
    const arn = `arn:aws:iam::${ACCOUNT}:policy/Boundary`;
    policies[arn] = {
      name: 'Boundary',
      arn,
      path: '/',
      defaultVersionId: 'v1',
      document: { ok: true, document: set.boundary },
      awsManaged: false,
    };
    permissionsBoundary = { arn, type: 'PermissionsBoundaryPolicy' };
  }
  const user: IamUser = {
    name: USER,
    arn: USER_ARN,
    id: 'AIDAALICE',
    path: '/',
    createDate: null,
    groups: groups.filter((_, i) => set.groups[i]!.member).map((g) => g.name),
    inlinePolicies: inline(set.inline, 'inline'),
    attachedPolicies: set.attached.map(ref),
    permissionsBoundary,
  };
  const inv = inventory({ auth: { users: [user], groups, roles: [], policies } });
  return set.scps
    ? {
        ...inv,
        organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], guardrails: { state: 'read', data: guardrailLevels(set.scps) } },
      }
    : inv;
}

/** A PolicySet with only the user's inline policies (and optionally a boundary). */
export const inlineOnly = (docs: Doc[], boundary?: Doc): PolicySet =>
  boundary ? { inline: docs, attached: [], groups: [], boundary } : { inline: docs, attached: [], groups: [] };
