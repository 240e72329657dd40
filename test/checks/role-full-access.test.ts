import { describe, expect, it } from 'vitest';
import { roleFullAccess } from '#test/checks.ts';
import { userFullAccess } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import type { IamRole, IamUser, Inventory, ManagedPolicy, PolicyDocument } from '#lib/inventory/types.ts';
import type { SettingsInput } from '#lib/settings.ts';
import { ACCOUNT, denied, inventory, role, settings, trustFor } from '#test/build-inventory.ts';

const OUTSIDE = '999988887777';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ADMIN_ARN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const POWER_ARN = 'arn:aws:iam::aws:policy/PowerUserAccess';

function doc(...statements: unknown[]): PolicyDocument {
  return { ok: true, document: { Version: '2012-10-17', Statement: statements } };
}
const trust = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });
const assume = (principal: unknown, condition?: Record<string, unknown>) => ({
  Effect: 'Allow',
  Principal: principal,
  Action: 'sts:AssumeRole',
  ...(condition ? { Condition: condition } : {}),
});

function managed(name: string, arn: string, document: PolicyDocument): ManagedPolicy {
  return { name, arn, path: '/', defaultVersionId: 'v1', document, awsManaged: arn.includes(':aws:policy/') };
}
const POLICIES: Record<string, ManagedPolicy> = {
  [ADMIN_ARN]: managed('AdministratorAccess', ADMIN_ARN, doc({ Effect: 'Allow', Action: '*', Resource: '*' })),
  [POWER_ARN]: managed(
    'PowerUserAccess',
    POWER_ARN,
    doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }),
  ),
};
const admin = { attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }] };
const readOnly = { inlinePolicies: [{ name: 'read', document: doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }) }] };

function user(name: string, ...statements: unknown[]): IamUser {
  return {
    name,
    arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    id: `AIDA${name.toUpperCase()}`,
    path: '/',
    createDate: null,
    groups: [],
    inlinePolicies: statements.length > 0 ? [{ name: `${name}-policy`, document: doc(...statements) }] : [],
    attachedPolicies: [],
    permissionsBoundary: null,
  };
}
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const assumeAny = { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' };
const assumeOf = (...roles: string[]) => ({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roles.map(roleArn) });
const rolePolicy = (...statements: unknown[]) => ({ inlinePolicies: [{ name: 'chain', document: doc(...statements) }] });

function account(roles: IamRole[], users: IamUser[] = [], extra: Partial<Inventory> = {}): Inventory {
  return { ...inventory({ auth: { roles, users, policies: POLICIES } }), ...extra };
}

function evaluate(inv: Inventory, input: SettingsInput = {}): Map<string, Finding> {
  return new Map(roleFullAccess.evaluate(inv, settings(input)).map((f) => [f.resource.split('/').pop()!, f]));
}
/** The one finding of a one-role account. */
function only(r: IamRole, input: SettingsInput = {}, extra: Partial<Inventory> = {}): Finding {
  const findings = roleFullAccess.evaluate(account([r], [], extra), settings(input));
  expect(findings).toHaveLength(1);
  expect(findings[0]!.resource).toBe(r.arn);
  return findings[0]!;
}
const users = (inv: Inventory) => new Map(userFullAccess.evaluate(inv, settings()).map((f) => [f.resource.split('/').pop()!, f]));

describe('role-full-access: the trust policy decides for an administrator role (SPEC 3.6)', () => {
  it('Principal * without a condition: FAIL critical', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume('*')) }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.title).toContain('anyone');
  });

  it('{"AWS": "*"} with aws:PrincipalOrgID: FAIL high while the organization is not known', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume({ AWS: '*' }, { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } })) }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain('aws:PrincipalOrgID o-abc123');
  });

  it('the same, when organization mode knows the organization: PASS', () => {
    const r = role('Admin', { ...admin, trust: trust(assume({ AWS: '*' }, { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } })) });
    expect(only(r, {}, { organization: { id: 'o-abc123', accountIds: [ACCOUNT, OUTSIDE] } }).status).toBe('PASS');
    expect(only(r, {}, { organization: { id: 'o-other', accountIds: [ACCOUNT] } })).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('a Deny of everyone outside the organization (StringNotEquals aws:PrincipalOrgID) restricts an Allow of *: FAIL high', () => {
    const f = only(
      role('Admin', {
        ...admin,
        trust: trust(assume({ AWS: '*' }), {
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sts:AssumeRole',
          Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-abc123' } },
        }),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('an outside account without sts:ExternalId: FAIL critical, naming the account', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume({ AWS: `arn:aws:iam::${OUTSIDE}:root` })) }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.details.outsideAccounts).toEqual([OUTSIDE]);
  });

  it('an outside account with sts:ExternalId: FAIL high, naming the account', () => {
    const f = only(
      role('Admin', { ...admin, trust: trust(assume({ AWS: OUTSIDE }, { StringEquals: { 'sts:ExternalId': 'vendor-42' } })) }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.details.outsideAccounts).toEqual([OUTSIDE]);
  });

  it('an outside account with only an MFA condition: still FAIL critical (MFA does not restrict who)', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume({ AWS: OUTSIDE }, { Bool: { 'aws:MultiFactorAuthPresent': 'true' } })) }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
  });

  it('an ExternalId under a negated operator restricts nothing: FAIL critical', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume({ AWS: OUTSIDE }, { StringNotEquals: { 'sts:ExternalId': 'x' } })) }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
  });

  it('an outside account listed in trustedAccounts: PASS', () => {
    const f = only(role('Admin', { ...admin, trust: trust(assume({ AWS: OUTSIDE })) }), { trustedAccounts: [OUTSIDE] });
    expect(f.status).toBe('PASS');
    expect(JSON.stringify(f.details.trust)).toContain('trustedAccounts');
  });

  it('an account of the organization, when organization mode lists it: PASS', () => {
    expect(
      only(
        role('Admin', { ...admin, trust: trust(assume({ AWS: OUTSIDE })) }),
        {},
        { organization: { id: 'o-abc123', accountIds: [ACCOUNT, OUTSIDE] } },
      ).status,
    ).toBe('PASS');
  });

  it("the account's own root principal: PASS, listing who can assume the role", () => {
    const inv = account(
      [role('Admin', { ...admin, trust: trust(assume({ AWS: ROOT })) })],
      [user('oncall', assumeAny), user('reader', { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' })],
    );
    const f = evaluate(inv).get('Admin')!;
    expect(f.status).toBe('PASS');
    expect(f.details.verdict).toBe('administrator-trusted-inside');
    expect(f.details.assumableBy).toMatchObject({ users: [{ user: 'oncall', arn: `arn:aws:iam::${ACCOUNT}:user/oncall` }], roles: [] });
    expect(f.title).toContain('assumable by oncall');
  });

  it('a service principal: PASS', () => {
    expect(only(role('Admin', { ...admin, trust: trustFor('lambda.amazonaws.com') })).status).toBe('PASS');
  });

  it('a service principal acting for another account (aws:SourceAccount): FAIL high, naming the account', () => {
    const f = only(
      role('Admin', {
        ...admin,
        trust: trust(assume({ Service: 'sns.amazonaws.com' }, { StringEquals: { 'aws:SourceAccount': OUTSIDE } })),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.details.outsideAccounts).toEqual([OUTSIDE]);
  });

  const oidc = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
  const webIdentity = (condition: Record<string, unknown>) =>
    trust({ Effect: 'Allow', Principal: { Federated: oidc }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: condition });

  it('a web identity provider with an audience but no subject condition: FAIL critical', () => {
    const f = only(
      role('Deploy', {
        ...admin,
        trust: webIdentity({ StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' } }),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.title).toContain('no subject condition');
  });

  it('a web identity provider with audience and subject conditions: FAIL high', () => {
    const f = only(
      role('Deploy', {
        ...admin,
        trust: webIdentity({
          StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
          StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/infra:ref:refs/heads/main' },
        }),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('a subject condition of `*` restricts nothing: FAIL critical', () => {
    const f = only(
      role('Deploy', {
        ...admin,
        trust: webIdentity({
          StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
          StringLike: { 'token.actions.githubusercontent.com:sub': '*' },
        }),
      }),
    );
    expect(f.severity).toBe('critical');
  });

  it("the account's own SAML provider with an audience condition: PASS; without any condition: FAIL critical", () => {
    const saml = `arn:aws:iam::${ACCOUNT}:saml-provider/corp-idp`;
    const withAud = trust({
      Effect: 'Allow',
      Principal: { Federated: saml },
      Action: 'sts:AssumeRoleWithSAML',
      Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
    });
    const bare = trust({ Effect: 'Allow', Principal: { Federated: saml }, Action: 'sts:AssumeRoleWithSAML' });
    expect(only(role('Sso', { ...admin, trust: withAud })).status).toBe('PASS');
    expect(only(role('Sso', { ...admin, trust: bare }))).toMatchObject({ status: 'FAIL', severity: 'critical' });
  });

  it('a role with PowerUserAccess (all actions except a few) trusted from outside: FAIL critical; trusted inside: PASS', () => {
    const power = { attachedPolicies: [{ name: 'PowerUserAccess', arn: POWER_ARN }] };
    const outside = only(role('Power', { ...power, trust: trust(assume({ AWS: OUTSIDE })) }));
    expect(outside).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(outside.title).toContain('all actions except');
    expect(only(role('Power', { ...power, trust: trust(assume({ AWS: ROOT })) })).status).toBe('PASS');
  });

  it('a role without full access is PASS whoever can assume it', () => {
    const f = only(role('Reader', { ...readOnly, trust: trust(assume('*')) }));
    expect(f).toMatchObject({ status: 'PASS', severity: 'informational' });
    expect(f.details.verdict).toBe('none');
  });

  it('a role that can attach any policy to itself is one call from full access: FAIL', () => {
    const f = only(
      role('Self', {
        ...rolePolicy({ Effect: 'Allow', Action: 'iam:AttachRolePolicy', Resource: roleArn('Self') }),
        trust: trust(assume({ AWS: OUTSIDE })),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.title).toContain('iam:AttachRolePolicy on itself');
  });

  it('a conditional administrator (Allow * only with MFA) trusted from outside: one step lower, FAIL high', () => {
    const f = only(
      role('Mfa', {
        ...rolePolicy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }),
        trust: trust(assume({ AWS: OUTSIDE })),
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('an unconditional Deny of everyone in the trust policy: nobody can assume it, PASS', () => {
    const f = only(
      role('Sealed', {
        ...admin,
        trust: trust(assume({ AWS: OUTSIDE }), { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }),
      }),
    );
    expect(f.status).toBe('PASS');
  });

  it('a service-linked role is left out', () => {
    const slr = role('AWSServiceRoleForElastiCache', {
      path: '/aws-service-role/elasticache.amazonaws.com/',
      ...admin,
      trust: trust(assume('*')),
    });
    expect(roleFullAccess.evaluate(account([slr]), settings())).toEqual([]);
  });

  it('an unreadable trust policy: ERROR, never PASS', () => {
    const f = only({ ...role('Broken', admin), trustPolicy: { ok: false, error: 'not valid JSON' } });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('trust policy cannot be read (not valid JSON)');
  });

  it('a trust policy IAM would refuse (an unknown element): ERROR', () => {
    expect(
      only(role('Broken', { ...admin, trust: trust({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Condtion: {} }) })).status,
    ).toBe('ERROR');
  });

  it('a trust statement without a Principal: ERROR; an Allow with NotPrincipal is read as everyone', () => {
    expect(only(role('Broken', { ...admin, trust: trust({ Effect: 'Allow', Action: 'sts:AssumeRole' }) })).status).toBe('ERROR');
    expect(
      only(role('Wide', { ...admin, trust: trust({ Effect: 'Allow', NotPrincipal: { AWS: ROOT }, Action: 'sts:AssumeRole' }) })),
    ).toMatchObject({ status: 'FAIL', severity: 'critical' });
  });

  it('an unreadable permission policy: ERROR, naming it', () => {
    const f = only(
      role('Broken', {
        inlinePolicies: [{ name: 'bad', document: { ok: false, error: 'not valid JSON' } }],
        trust: trust(assume({ AWS: ROOT })),
      }),
    );
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('inline policy bad on role Broken');
  });

  it('ERROR for every role when the authorization details could not be read', () => {
    const findings = roleFullAccess.evaluate(inventory({ authorizationDetails: denied('iam:GetAccountAuthorizationDetails') }), settings());
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ status: 'ERROR', resource: `arn:aws:iam::${ACCOUNT}:role/*` });
    expect(findings[0]!.title).toContain('iam:GetAccountAuthorizationDetails');
  });
});

describe('reachability: users one AssumeRole call (or a chain) away from an administrator role', () => {
  const adminRole = (name = 'Admin', principal: unknown = { AWS: ROOT }) => role(name, { ...admin, trust: trust(assume(principal)) });

  it('a user allowed sts:AssumeRole on * whose admin role trusts the account root: FAIL high through the role, and the role lists the user', () => {
    const inv = account([adminRole()], [user('oncall', assumeAny)]);
    const u = users(inv).get('oncall')!;
    expect(u).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(u.title).toContain(`sts:AssumeRole on ${roleArn('Admin')}`);
    expect(u.title).toContain('can become an administrator through role Admin');
    const grant = (u.details.grants as Array<{ class: string; paths: Array<{ policy: string }>; routes: Array<{ chain: string[] }> }>)[0]!;
    expect(grant.class).toBe('escalation');
    // The path: user -> policy -> role.
    expect(grant.paths[0]!.policy).toBe('oncall-policy');
    expect(grant.routes[0]!.chain).toEqual([roleArn('Admin')]);
    const r = evaluate(inv).get('Admin')!;
    expect((r.details.assumableBy as { users: Array<{ user: string }> }).users.map((x) => x.user)).toEqual(['oncall']);
  });

  it('the same user with a Deny on that role: PASS, and the role lists nobody', () => {
    const inv = account(
      [adminRole()],
      [user('oncall', assumeAny, { Effect: 'Deny', Action: 'sts:AssumeRole', Resource: roleArn('Admin') })],
    );
    expect(users(inv).get('oncall')!.status).toBe('PASS');
    expect(evaluate(inv).get('Admin')!.details.assumableBy).toEqual({ users: [], roles: [], usersThroughRoles: [] });
  });

  it('a permissions boundary without sts:AssumeRole stops it', () => {
    const boundaryArn = `arn:aws:iam::${ACCOUNT}:policy/S3Only`;
    const capped = { ...user('oncall', assumeAny), permissionsBoundary: { arn: boundaryArn, type: 'Policy' } };
    const inv = { ...account([adminRole()], [capped]) };
    if (inv.authorizationDetails.state === 'read')
      inv.authorizationDetails.data.policies[boundaryArn] = managed(
        'S3Only',
        boundaryArn,
        doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
      );
    expect(users(inv).get('oncall')!.status).toBe('PASS');
  });

  it('a trust policy that does not admit the account: the Allow alone is not enough', () => {
    const inv = account([adminRole('Admin', { AWS: `arn:aws:iam::${ACCOUNT}:user/someone-else` })], [user('oncall', assumeAny)]);
    expect(users(inv).get('oncall')!.status).toBe('PASS');
  });

  it("a same-account trust naming the user's own ARN admits it without an identity Allow", () => {
    const inv = account([adminRole('Admin', { AWS: `arn:aws:iam::${ACCOUNT}:user/oncall` })], [user('oncall')]);
    const u = users(inv).get('oncall')!;
    expect(u).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(u.title).toContain('the trust policy of Admin names oncall');
  });

  it('a trust condition the user cannot be known to meet makes it conditional: one step lower', () => {
    const inv = account([adminRole('Admin', { AWS: ROOT })], [user('oncall', assumeAny)]);
    if (inv.authorizationDetails.state === 'read') {
      inv.authorizationDetails.data.roles[0]!.trustPolicy = {
        ok: true,
        document: trust(assume({ AWS: ROOT }, { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })),
      };
    }
    expect(users(inv).get('oncall')).toMatchObject({ status: 'FAIL', severity: 'medium' });
  });

  it('a chain of 2 roles: the user assumes A, A assumes the admin role B', () => {
    const a = role('A', { ...rolePolicy(assumeOf('B')), trust: trust(assume({ AWS: ROOT })) });
    const b = role('B', { ...admin, trust: trust(assume({ AWS: roleArn('A') })) });
    const inv = account([a, b], [user('dev', assumeOf('A'))]);
    const u = users(inv).get('dev')!;
    expect(u).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(u.title).toContain(`sts:AssumeRole on ${roleArn('A')}`);
    expect(u.title).toContain('through role B (assumes A, then B)');
    const found = evaluate(inv);
    expect(found.get('A')!.status).toBe('PASS');
    expect(found.get('B')!.details.assumableBy).toMatchObject({
      users: [],
      roles: [{ role: 'A' }],
      usersThroughRoles: [{ user: 'dev', through: [roleArn('A')] }],
    });
  });

  it('a cycle (A and B assume each other, neither an administrator) ends: PASS', () => {
    const a = role('A', { ...rolePolicy(assumeOf('B')), trust: trust(assume({ AWS: ROOT }), assume({ AWS: roleArn('B') })) });
    const b = role('B', { ...rolePolicy(assumeOf('A')), trust: trust(assume({ AWS: roleArn('A') })) });
    const inv = account([a, b], [user('dev', assumeOf('A'))]);
    expect(users(inv).get('dev')!.status).toBe('PASS');
    const found = evaluate(inv);
    expect(found.get('A')!.details.assumableBy).toMatchObject({ users: [{ user: 'dev' }], roles: [{ role: 'B' }] });
  });

  it('a cycle on the way to an administrator three calls away: FAIL high; four calls away: not followed', () => {
    const a = role('A', { ...rolePolicy(assumeOf('B')), trust: trust(assume({ AWS: ROOT }), assume({ AWS: roleArn('B') })) });
    const b = role('B', { ...rolePolicy(assumeOf('A', 'C')), trust: trust(assume({ AWS: roleArn('A') })) });
    const c = role('C', { ...admin, trust: trust(assume({ AWS: roleArn('B') })) });
    const three = account([a, b, c], [user('dev', assumeOf('A'))]);
    expect(users(three).get('dev')!.title).toContain('through role C (assumes A, then B, then C)');

    const c2 = role('C', { ...rolePolicy(assumeOf('D')), trust: trust(assume({ AWS: roleArn('B') })) });
    const d = role('D', { ...admin, trust: trust(assume({ AWS: roleArn('C') })) });
    const four = account([a, b, c2, d], [user('dev', assumeOf('A'))]);
    expect(users(four).get('dev')!.status).toBe('PASS');
  });

  it('the users a role lists are the users user-full-access reports through it', () => {
    const inv = account(
      [adminRole('Admin'), role('A', { ...rolePolicy(assumeOf('Admin')), trust: trust(assume({ AWS: ROOT })) })],
      [
        user('oncall', assumeOf('Admin')),
        user('dev', assumeOf('A')),
        user('reader', { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }),
      ],
    );
    const r = evaluate(inv).get('Admin')!.details.assumableBy as {
      users: Array<{ user: string }>;
      usersThroughRoles: Array<{ user: string }>;
    };
    const listed = [...r.users, ...r.usersThroughRoles].map((x) => x.user).sort();
    const reported = [...users(inv).values()]
      .filter((f) => f.title.includes('through role Admin'))
      .map((f) => f.resource.split('/').pop())
      .sort();
    expect(listed).toEqual(['dev', 'oncall']);
    expect(reported).toEqual(listed);
  });
});

describe('role-full-access: bounded details and settings', () => {
  it('lists at most 50 assumers by name and counts them all', () => {
    const many = Array.from({ length: 60 }, (_, i) => user(`u${i}`, assumeAny));
    const f = evaluate(account([role('Admin', { ...admin, trust: trust(assume({ AWS: ROOT })) })], many)).get('Admin')!;
    const who = f.details.assumableBy as { users: unknown[]; counts?: { users: number } };
    expect(who.users).toHaveLength(50);
    expect(who.counts?.users).toBe(60);
    expect(f.title).toContain('and 55 more');
  });

  it('hands user-full-access the 10 shortest ways to an administrator role, and says how many there are', () => {
    const admins = Array.from({ length: 12 }, (_, i) => role(`Admin${i}`, { ...admin, trust: trust(assume({ AWS: ROOT })) }));
    const u = users(account(admins, [user('oncall', assumeAny)])).get('oncall')!;
    const grant = (u.details.grants as Array<{ class: string; routes: unknown[] }>).find((g) => g.class === 'escalation')!;
    expect(grant.routes).toHaveLength(10);
    expect(u.title).toContain('12 roles lead to an administrator role');
  });

  it('trustedAccounts takes 12-digit account IDs only', () => {
    expect(settings().trustedAccounts).toEqual([]);
    expect(settings({ trustedAccounts: [OUTSIDE] }).trustedAccounts).toEqual([OUTSIDE]);
    expect(() => settings({ trustedAccounts: ['12345'] })).toThrow(/trustedAccounts\.0: must be a 12-digit AWS account ID/);
  });
});
