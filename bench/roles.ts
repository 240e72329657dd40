/**
 * role-full-access at scale, in its own process (cold caches, as a Lambda's first run): an
 * account of `--users` users and `--roles` roles built as an Inventory, then the check's
 * evaluation timed, and user-full-access after it (which reuses the reachability the role
 * check computed, and adds its AssumeRole escalations). Prints one JSON line.
 *
 * The roles mix what accounts hold: administrator roles trusting the account root (some
 * reached by users through ops roles), roles of services, vendor roles under an ExternalId,
 * outside-account and web identity roles, and chains of roles that assume each other.
 *
 * Run by bench/bench.ts: `node --import tsx bench/roles.ts --users 10000 --roles 2000`.
 */
import { parseArgs } from 'node:util';
import { roleFullAccess } from '#test/checks.ts';
import { userFullAccess } from '#test/checks.ts';
import type { AuthorizationDetails, IamGroup, IamRole, IamUser, Inventory, ManagedPolicy, PolicyDocument } from '#lib/inventory/types.ts';
import { catalogue } from '#lib/policy/catalogue.ts';
import { parseSettings } from '#lib/settings.ts';
import { guardNetwork } from './safety.ts';

guardNetwork();

const { values: args } = parseArgs({
  options: { users: { type: 'string', default: '10000' }, roles: { type: 'string', default: '2000' } },
});
const USERS = Number(args.users);
const ROLES = Number(args.roles);
const ACCOUNT = '123456789012';
const A = `arn:aws:iam::${ACCOUNT}`;

const doc = (...statements: unknown[]): PolicyDocument => ({ ok: true, document: { Version: '2012-10-17', Statement: statements } });
const managed = (name: string, arn: string, document: PolicyDocument): ManagedPolicy => ({
  name,
  arn,
  path: '/',
  defaultVersionId: 'v1',
  document,
  awsManaged: arn.includes(':aws:policy/'),
});
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const READ = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const POWER = 'arn:aws:iam::aws:policy/PowerUserAccess';
const policies: Record<string, ManagedPolicy> = {
  [ADMIN]: managed('AdministratorAccess', ADMIN, doc({ Effect: 'Allow', Action: '*', Resource: '*' })),
  [READ]: managed(
    'ReadOnlyAccess',
    READ,
    doc({ Effect: 'Allow', Action: ['s3:Get*', 's3:List*', 'ec2:Describe*', 'iam:Get*', 'iam:List*'], Resource: '*' }),
  ),
  [POWER]: managed('PowerUserAccess', POWER, doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' })),
};
for (let i = 0; i < 50; i++) {
  const arn = `${A}:policy/team-${i}`;
  policies[arn] = managed(
    `team-${i}`,
    arn,
    doc({
      Effect: 'Allow',
      Action: ['s3:GetObject', 'dynamodb:Query', 'sqs:SendMessage'],
      Resource: [`arn:aws:s3:::team-${i}/*`, `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/team-${i}`],
    }),
  );
}

const groups: IamGroup[] = Array.from({ length: 100 }, (_, i) => ({
  name: `team-${i}`,
  arn: `${A}:group/team-${i}`,
  id: `AGPATEAM${i}`,
  path: '/',
  inlinePolicies:
    i % 10 === 0 ? [{ name: 'ops-assume', document: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `${A}:role/ops-*` }) }] : [],
  attachedPolicies: [{ name: `team-${i % 50}`, arn: `${A}:policy/team-${i % 50}` }],
}));

const users: IamUser[] = Array.from({ length: USERS }, (_, i) => {
  const name = `user-${String(i).padStart(5, '0')}`;
  const attached = i < 20 ? [{ name: 'AdministratorAccess', arn: ADMIN }] : i % 10 === 1 ? [{ name: 'ReadOnlyAccess', arn: READ }] : [];
  const inline = i % 200 === 7 ? [{ name: 'assume-any', document: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) }] : [];
  return {
    name,
    arn: `${A}:user/${name}`,
    id: `AIDA${i}`,
    path: '/',
    createDate: null,
    groups: i % 10 < 7 ? [`team-${i % 100}`] : [],
    inlinePolicies: inline,
    attachedPolicies: attached,
    permissionsBoundary: null,
  };
});

const trust = (...statements: unknown[]) => ({ ok: true as const, document: { Version: '2012-10-17', Statement: statements } });
const assume = (principal: unknown, condition?: Record<string, unknown>) => ({
  Effect: 'Allow',
  Principal: principal,
  Action: 'sts:AssumeRole',
  ...(condition ? { Condition: condition } : {}),
});
const roles: IamRole[] = Array.from({ length: ROLES }, (_, i) => {
  const kind = i % 10;
  const name = kind < 2 ? `ops-${i}` : kind === 2 ? `admin-${i}` : `app-${i}`;
  const base: IamRole = {
    name,
    arn: `${A}:role/${name}`,
    id: `AROA${i}`,
    path: '/',
    createDate: null,
    trustPolicy: trust(assume({ Service: 'lambda.amazonaws.com' })),
    inlinePolicies: [],
    attachedPolicies: [],
    permissionsBoundary: null,
  };
  switch (kind) {
    case 0:
    case 1:
      // Ops roles: users of some teams assume them; each can assume the next admin role.
      return {
        ...base,
        trustPolicy: trust(assume({ AWS: `${A}:root` })),
        inlinePolicies: [
          { name: 'chain', document: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `${A}:role/admin-${i - kind + 2}` }) },
        ],
        attachedPolicies: [{ name: 'ReadOnlyAccess', arn: READ }],
      };
    case 2:
      return {
        ...base,
        trustPolicy: trust(
          assume({ AWS: [`${A}:role/ops-${i - 2}`, `${A}:role/ops-${i - 1}`] }, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }),
        ),
        attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN }],
      };
    case 3:
      return {
        ...base,
        trustPolicy: trust(assume({ AWS: '999988887777' }, { StringEquals: { 'sts:ExternalId': `vendor-${i}` } })),
        attachedPolicies: [{ name: 'PowerUserAccess', arn: POWER }],
      };
    case 4:
      return {
        ...base,
        trustPolicy: trust({
          Effect: 'Allow',
          Principal: { Federated: `${A}:oidc-provider/token.actions.githubusercontent.com` },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
            StringLike: { 'token.actions.githubusercontent.com:sub': `repo:acme/app-${i}:*` },
          },
        }),
        attachedPolicies: [{ name: `team-${i % 50}`, arn: `${A}:policy/team-${i % 50}` }],
      };
    case 5:
      return {
        ...base,
        trustPolicy: trust(assume({ AWS: `${A}:root` })),
        attachedPolicies: [{ name: `team-${i % 50}`, arn: `${A}:policy/team-${i % 50}` }],
      };
    default:
      return {
        ...base,
        trustPolicy: trust(assume({ Service: kind % 2 === 0 ? 'ec2.amazonaws.com' : 'ecs-tasks.amazonaws.com' })),
        attachedPolicies: [{ name: `team-${i % 50}`, arn: `${A}:policy/team-${i % 50}` }],
      };
  }
});

const details: AuthorizationDetails = { users, groups, roles, policies };
const inventory: Inventory = {
  accountId: ACCOUNT,
  partition: 'aws',
  origin: 'bench',
  collectedAt: '2026-11-01T00:00:00.000Z',
  accountSummary: { state: 'skipped', call: 'iam:GetAccountSummary', reason: 'not needed' },
  credentialReport: { state: 'skipped', call: 'iam:GetCredentialReport', reason: 'not needed' },
  authorizationDetails: { state: 'read', data: details },
  regions: [],
  accessKeys: {},
};
const settings = parseSettings({});

// The action catalogue is loaded once per process, by whichever check comes first: not this check's cost.
catalogue();
const c0 = process.cpuUsage();
const r0 = performance.now();
const roleFindings = roleFullAccess.evaluate(inventory, settings);
const r1 = performance.now();
const roleCpu = process.cpuUsage(c0);
const userFindings = userFullAccess.evaluate(inventory, settings);
const r2 = performance.now();

const count = (findings: { status: string }[]) =>
  findings.reduce<Record<string, number>>((acc, f) => {
    acc[f.status] = (acc[f.status] ?? 0) + 1;
    return acc;
  }, {});
const throughRoles = userFindings.filter((f) => f.title.includes('can become an administrator through role')).length;
const out = {
  users: USERS,
  roles: ROLES,
  roleCheckMs: r1 - r0,
  /** CPU time of the process over the same span: on a shared machine, closer to what the code costs. */
  roleCheckCpuMs: (roleCpu.user + roleCpu.system) / 1000,
  userCheckMs: r2 - r1,
  roleFindings: count(roleFindings),
  userFindings: count(userFindings),
  usersThroughRoles: throughRoles,
};
process.stdout.write(`BENCH_ROLES ${JSON.stringify(out)}\n`);
