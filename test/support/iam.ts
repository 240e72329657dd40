/**
 * IAM entities as the collector normalizes them, and the smallest Inventory that holds them: only
 * the authorization details are read, every other source is unread as "not needed", so a check
 * that reads more than it should shows it.
 */
import type { AuthorizationDetails, IamGroup, IamUser, Inventory, ManagedPolicy, PolicyDocument } from '#lib/inventory/types.ts';
import { ACCOUNT } from './account.ts';

export const notNeeded = { state: 'skipped', call: 'x', reason: 'not needed' } as const;
export const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
export const groupArn = (name: string) => `arn:aws:iam::${ACCOUNT}:group/${name}`;
export const ADMIN_ARN = 'arn:aws:iam::aws:policy/AdministratorAccess';

/** A readable policy document holding the given statements. */
export function doc(...statements: unknown[]): PolicyDocument {
  return { ok: true, document: { Version: '2012-10-17', Statement: statements } };
}

export function user(name: string, fields: Partial<IamUser> = {}): IamUser {
  return {
    name,
    arn: userArn(name),
    id: `AIDA${name.toUpperCase()}`,
    path: '/',
    createDate: null,
    groups: [],
    inlinePolicies: [],
    attachedPolicies: [],
    permissionsBoundary: null,
    ...fields,
  };
}

/** A user with one inline policy holding the given statements. */
export function inlineUser(name: string, ...statements: unknown[]): IamUser {
  return user(name, { inlinePolicies: [{ name: 'Inline', document: doc(...statements) }] });
}

export function group(name: string, fields: Partial<IamGroup> = {}): IamGroup {
  return { name, arn: groupArn(name), id: `AGPA${name.toUpperCase()}`, path: '/', inlinePolicies: [], attachedPolicies: [], ...fields };
}

export function managed(name: string, document: PolicyDocument, awsManaged = false): ManagedPolicy {
  return {
    name,
    arn: awsManaged ? `arn:aws:iam::aws:policy/${name}` : `arn:aws:iam::${ACCOUNT}:policy/${name}`,
    path: '/',
    defaultVersionId: 'v1',
    document,
    awsManaged,
  };
}

/** The AWS managed AdministratorAccess: Allow * on *. */
export const administratorAccess = managed('AdministratorAccess', doc({ Effect: 'Allow', Action: '*', Resource: '*' }), true);

export type AuthorizationParts = Partial<Omit<AuthorizationDetails, 'policies'>> & { policies?: ManagedPolicy[] };

/** An inventory of these users, groups, roles and managed policies, and nothing else read. */
export function authorizationInventory(details: AuthorizationParts): Inventory {
  return {
    accountId: ACCOUNT,
    partition: 'aws',
    origin: 'test',
    collectedAt: '2025-01-01T00:00:00Z',
    accountSummary: notNeeded,
    credentialReport: notNeeded,
    authorizationDetails: {
      state: 'read',
      data: {
        users: details.users ?? [],
        groups: details.groups ?? [],
        roles: details.roles ?? [],
        policies: Object.fromEntries((details.policies ?? []).map((p) => [p.arn, p])),
      },
    },
    regions: [],
    accessKeys: {},
  };
}
