/**
 * Service control policies in the verdicts of user-full-access and role-full-access (SPEC 3.3,
 * 3.6, 8): each level (root, OUs, the account) must allow, a Deny at any level removes, the
 * management account (no level) is subject to none, and an SCP that cannot be read is ERROR.
 */
import { describe, expect, it } from 'vitest';
import type { Finding } from '#lib/model/finding.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { roleFullAccess, userFullAccess } from '#test/checks.ts';
import { ACCOUNT, inventory, role, settings } from '#test/build-inventory.ts';
import { buildCase, doc, guardrailLevels, ouId, USER, USER_ARN, type Doc, type PolicySet } from '../reference/cases.ts';

const SETTINGS = settings();
const FULL: Doc = doc({ Effect: 'Allow', Action: '*', Resource: '*' });
const DENY_IAM: Doc = doc({ Sid: 'DenyIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' });
const ONLY_S3: Doc = doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
const ADMIN: PolicySet = { inline: [], attached: [{ aws: 'AdministratorAccess' }], groups: [] };

function userFinding(set: PolicySet): Finding {
  const finding = userFullAccess.evaluate(buildCase(set), SETTINGS).find((f) => f.resource === USER_ARN);
  if (!finding) throw new Error('no finding for the user');
  return finding;
}

/** The parts of a finding a verdict is: what stays the same when SCPs change nothing. */
const verdict = (f: Finding) => ({ status: f.status, severity: f.severity, title: f.title });

describe('user-full-access under SCPs', () => {
  it('FullAWSAccess at every level changes no verdict, and the details list the levels', () => {
    for (const set of [
      ADMIN,
      { ...ADMIN, attached: [{ aws: 'ReadOnlyAccess' as const }] },
      { inline: [doc({ Effect: 'Allow', Action: 'iam:PutUserPolicy', Resource: USER_ARN })], attached: [], groups: [] },
    ]) {
      const plain = userFinding(set);
      const capped = userFinding({ ...set, scps: [[FULL], [FULL], [FULL]] });
      expect(verdict(capped)).toEqual(verdict(plain));
      expect(capped.details.serviceControlPolicies).toEqual([
        { level: 'root r-ab12', policies: ['SCP0x0 (p-scp0x0abcd)'] },
        { level: `OU ${ouId(1)}`, policies: ['SCP1x0 (p-scp1x0abcd)'] },
        { level: `account ${ACCOUNT}`, policies: ['SCP2x0 (p-scp2x0abcd)'] },
      ]);
      expect(plain.details.serviceControlPolicies).toBeUndefined();
    }
  });

  it('Deny iam:* at an OU: an administrator is FAIL high, all actions except iam, naming the SCP', () => {
    const f = userFinding({ ...ADMIN, scps: [[FULL], [FULL, DENY_IAM], [FULL]] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.details.verdict).toBe('all-actions-except');
    expect(f.title).toBe(
      `${USER} can do all actions except iam:* directly via policy AdministratorAccess; service control policy SCP1x1 at OU ${ouId(1)} removes iam:*`,
    );
    expect(f.details.cappedBy).toEqual([
      expect.objectContaining({ level: `OU ${ouId(1)}`, policies: [`service control policy SCP1x1 at OU ${ouId(1)}`], removes: 'iam:*' }),
    ]);
    expect((f.details.cappedBy as { statements: { statement: string }[] }[])[0]!.statements.map((s) => s.statement)).toEqual([
      'Sid DenyIam',
    ]);
  });

  it('an allow list of s3:* at the account: WARN one lower, naming the SCP and what remains', () => {
    const f = userFinding({ ...ADMIN, scps: [[FULL], [FULL], [ONLY_S3]] });
    expect(f.status).toBe('WARN');
    expect(f.severity).toBe('high');
    expect(f.details.verdict).toBe('capped');
    expect(f.title).toBe(
      `${USER} has full access (*:* on *) directly via policy AdministratorAccess, capped by service control policy SCP2x0 at account ${ACCOUNT}`,
    );
    expect(f.details.reason).toMatch(
      new RegExp(
        `^capped by service control policy SCP2x0 at account ${ACCOUNT}, which the user cannot remove: service control policy SCP2x0 at account ${ACCOUNT} allows only s3:\\* of it; what remains allowed: s3:\\* \\(\\d+ actions\\) on every resource$`,
      ),
    );
  });

  it('a level with no Allow covering an action removes it: two allow lists leave nothing', () => {
    const f = userFinding({ ...ADMIN, scps: [[FULL], [ONLY_S3], [doc({ Effect: 'Allow', Action: 'ec2:*', Resource: '*' })]] });
    expect(f.status).toBe('WARN');
    expect(f.title).toContain(
      `capped by service control policy SCP1x0 at OU ${ouId(1)}, service control policy SCP2x0 at account ${ACCOUNT}`,
    );
    expect(f.details.reason).toContain('what remains allowed: nothing on every resource');
  });

  it('an Allow under a Condition counts conditionally; a Deny under a Condition removes nothing', () => {
    const conditional = doc({
      Effect: 'Allow',
      Action: '*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } },
    });
    const allowIf = userFinding({ ...ADMIN, scps: [[FULL], [conditional]] });
    expect(verdict(allowIf)).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(allowIf.title).toContain('conditionally has full access');
    const denyIf = userFinding({
      ...ADMIN,
      scps: [
        [FULL],
        [FULL, doc({ Effect: 'Deny', Action: 'iam:*', Resource: '*', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'false' } } })],
      ],
    });
    expect(verdict(denyIf)).toEqual(verdict(userFinding(ADMIN)));
  });

  it('writing its own policies escalates no further than the SCPs allow', () => {
    const self = { inline: [doc({ Effect: 'Allow', Action: 'iam:PutUserPolicy', Resource: USER_ARN })], attached: [], groups: [] };
    expect(userFinding(self)).toMatchObject({ status: 'FAIL', severity: 'high' });
    // Only IAM is allowed: what it writes into its policy reaches IAM actions only.
    const f = userFinding({ ...self, scps: [[FULL], [doc({ Effect: 'Allow', Action: 'iam:*', Resource: '*' })]] });
    expect(f).toMatchObject({ status: 'WARN', severity: 'medium' });
    expect(f.title).toContain('can make itself an administrator in one call');
    // Denying IAM takes the call itself away.
    expect(userFinding({ ...self, scps: [[FULL], [FULL, DENY_IAM]] })).toMatchObject({ status: 'WARN', severity: 'medium' });
    // Denying EC2 alone leaves all actions but EC2: the escalation stands.
    expect(userFinding({ ...self, scps: [[FULL], [FULL, doc({ Effect: 'Deny', Action: 'ec2:*', Resource: '*' })]] })).toMatchObject({
      status: 'FAIL',
      severity: 'high',
    });
  });

  it('with a boundary too, the cap named is the one that removes the full access, or both', () => {
    const s3Boundary = doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
    // The SCP alone leaves all actions but IAM: the boundary is the cap, as without SCPs.
    const boundaryCaps = userFinding({ ...ADMIN, boundary: s3Boundary, scps: [[FULL], [FULL, DENY_IAM]] });
    expect(boundaryCaps).toMatchObject({ status: 'WARN', severity: 'high' });
    expect(boundaryCaps.title).toBe(userFinding({ ...ADMIN, boundary: s3Boundary }).title);
    // Each removes it alone: both are named.
    const both = userFinding({ ...ADMIN, boundary: s3Boundary, scps: [[FULL], [ONLY_S3]] });
    expect(both.title).toContain(`capped by permissions boundary Boundary and service control policy SCP1x0 at account ${ACCOUNT}`);
    expect(both.details.reason).toContain(
      `capped by permissions boundary Boundary (arn:aws:iam::${ACCOUNT}:policy/Boundary) and service control policy SCP1x0 at account ${ACCOUNT}, which the user cannot remove: `,
    );
  });

  it('a PASS says what the SCPs take away when they take something', () => {
    const set = { inline: [doc({ Effect: 'Allow', Action: ['s3:*', 'iam:GetUser'], Resource: '*' })], attached: [], groups: [] };
    const f = userFinding({ ...set, scps: [[FULL], [FULL, DENY_IAM], [FULL]] });
    expect(f.status).toBe('PASS');
    expect(f.details.reason).toBe(
      `no full-access grant; within the service control policies: service control policy SCP1x1 at OU ${ouId(1)} removes iam:GetUser`,
    );
    expect(userFinding({ ...set, attached: [], inline: [ONLY_S3], scps: [[FULL], [FULL, DENY_IAM]] }).details.reason).toBe(
      'no full-access grant',
    );
  });

  it('the management account: no level, no SCP applied, the same findings as outside an organization', () => {
    const plain = buildCase(ADMIN);
    const management: Inventory = {
      ...plain,
      organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], guardrails: { state: 'read', data: [] } },
    };
    expect(userFullAccess.evaluate(management, SETTINGS)).toEqual(userFullAccess.evaluate(plain, SETTINGS));
  });

  it('an SCP that cannot be read: ERROR naming it, never PASS', () => {
    const levels = guardrailLevels([[FULL], [FULL], [FULL]]);
    levels[1]!.policies.push({
      ...levels[1]!.policies[0]!,
      id: 'p-broken1234',
      name: 'Broken',
      document: { ok: false, error: 'organizations:DescribePolicy failed (AccessDeniedException): not authorized' },
    });
    const readOnly = buildCase({ inline: [], attached: [{ aws: 'ReadOnlyAccess' }], groups: [] });
    const inv: Inventory = {
      ...readOnly,
      organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], guardrails: { state: 'read', data: levels } },
    };
    const f = userFullAccess.evaluate(inv, SETTINGS)[0]!;
    expect(f.status).toBe('ERROR');
    expect(f.title).toBe(
      `${USER} could not be evaluated: service control policy Broken (p-broken1234) at OU ${ouId(1)} cannot be read (organizations:DescribePolicy failed (AccessDeniedException): not authorized)`,
    );
    // IAM's grammar holds for SCPs too, with no Principal.
    const principal = userFinding({
      ...ADMIN,
      scps: [[FULL], [doc({ Effect: 'Deny', Action: '*', Resource: '*', Principal: '*' } as never)]],
    });
    expect(principal.status).toBe('ERROR');
    expect(principal.title).toContain('Principal is not allowed in a service control policy');
  });

  it('SCP levels that could not be listed, or a level listed without any SCP: ERROR naming why', () => {
    const plain = buildCase(ADMIN);
    const unread: Inventory = {
      ...plain,
      organization: {
        id: null,
        accountIds: [],
        guardrails: {
          state: 'unread',
          call: 'organizations:ListPoliciesForTarget',
          reason: 'ou-ab12-00000001: denied',
          code: 'AccessDeniedException',
          kind: 'denied',
        },
      },
    };
    expect(userFullAccess.evaluate(unread, SETTINGS)[0]).toMatchObject({
      status: 'ERROR',
      title: `${USER} could not be evaluated: the service control policies of the account (organizations:ListPoliciesForTarget failed (AccessDeniedException)) cannot be read (ou-ab12-00000001: denied)`,
    });
    const bare = guardrailLevels([[FULL], []]);
    const empty: Inventory = { ...plain, organization: { id: null, accountIds: [], guardrails: { state: 'read', data: bare } } };
    expect(userFullAccess.evaluate(empty, SETTINGS)[0]!.status).toBe('ERROR');
  });

  it('an SCP with no Resource element applies to every resource', () => {
    const f = userFinding({ ...ADMIN, scps: [[FULL], [FULL, doc({ Effect: 'Deny', Action: 'iam:*' } as never)]] });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high', details: { verdict: 'all-actions-except' } });
  });
});

describe('role-full-access under SCPs', () => {
  const adminRole = role('Admin', {
    trust: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'sts:AssumeRole' }],
    },
    attachedPolicies: [{ name: 'AdministratorAccess', arn: 'arn:aws:iam::aws:policy/AdministratorAccess' }],
  });
  const serviceLinked = role('AWSServiceRoleForElastiCache', {
    path: '/aws-service-role/elasticache.amazonaws.com/',
    attachedPolicies: adminRole.attachedPolicies,
    trust: { Version: '2012-10-17', Statement: [] },
  });
  const policies = {
    'arn:aws:iam::aws:policy/AdministratorAccess': {
      name: 'AdministratorAccess',
      arn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      path: '/',
      defaultVersionId: 'v1',
      document: { ok: true as const, document: FULL },
      awsManaged: true,
    },
  };
  const withScps = (scps: Doc[][] | null): Inventory => {
    const inv = inventory({ auth: { roles: [adminRole, serviceLinked], policies } });
    return scps
      ? { ...inv, organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], guardrails: { state: 'read', data: guardrailLevels(scps) } } }
      : inv;
  };
  const roleFinding = (inv: Inventory) => {
    const findings = roleFullAccess.evaluate(inv, SETTINGS);
    // Service-linked roles are subject to no SCP and left out of the check.
    expect(findings.map((f) => f.resource)).toEqual([adminRole.arn]);
    return findings[0]!;
  };

  it('an administrator role assumable from outside: FULL at every level keeps FAIL critical, Deny iam:* makes it all actions except iam, named', () => {
    expect(verdict(roleFinding(withScps([[FULL], [FULL]])))).toEqual(verdict(roleFinding(withScps(null))));
    const f = roleFinding(withScps([[FULL], [FULL, DENY_IAM]]));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.details.access).toBe('all actions except iam:*');
    expect(f.details.cappedBy).toEqual([`service control policy SCP1x1 at account ${ACCOUNT} removes iam:*`]);
  });

  it('an allow list of s3:* leaves the role no full-access grant: PASS naming the SCP', () => {
    const f = roleFinding(withScps([[FULL], [ONLY_S3]]));
    expect(f.status).toBe('PASS');
    expect(f.title).toContain(
      `has no full-access grant (capped by service control policy SCP1x0 at account ${ACCOUNT} allows only s3:* of it)`,
    );
  });

  it('a trust naming a user needs no identity Allow of sts:AssumeRole, but the SCPs still bind it', () => {
    const bob = {
      name: 'bob',
      arn: `arn:aws:iam::${ACCOUNT}:user/bob`,
      id: 'AIDABOB',
      path: '/',
      createDate: null,
      groups: [],
      inlinePolicies: [],
      attachedPolicies: [],
      permissionsBoundary: null,
    };
    const named = role('Named', {
      trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: bob.arn }, Action: 'sts:AssumeRole' }] },
      attachedPolicies: adminRole.attachedPolicies,
    });
    const inv = (scps: Doc[][] | null): Inventory => {
      const base = inventory({ auth: { users: [bob], roles: [named], policies } });
      return scps
        ? {
            ...base,
            organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], guardrails: { state: 'read', data: guardrailLevels(scps) } },
          }
        : base;
    };
    const bobFinding = (i: Inventory) => userFullAccess.evaluate(i, SETTINGS).find((f) => f.resource === bob.arn)!;
    expect(bobFinding(inv(null))).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(bobFinding(inv(null)).title).toContain('can become an administrator through role Named');
    // All actions but STS: the role is still an administrator, and nobody can assume it.
    const noSts = [[FULL], [doc({ Effect: 'Allow', NotAction: 'sts:*', Resource: '*' })]];
    expect(bobFinding(inv(noSts)).status).not.toBe('FAIL');
    const roleFindingNoSts = roleFullAccess.evaluate(inv(noSts), SETTINGS)[0]!;
    expect(roleFindingNoSts.details.access).toBe('all actions except sts:*');
    expect((roleFindingNoSts.details.assumableBy as { users: unknown[] }).users).toEqual([]);
  });

  it('an unreadable SCP: ERROR naming it', () => {
    const inv = withScps([[FULL], [FULL]]);
    const levels = guardrailLevels([[FULL], [FULL]]);
    levels[0]!.policies[0] = { ...levels[0]!.policies[0]!, document: { ok: false, error: 'the policy content is not JSON' } };
    const f = roleFinding({ ...inv, organization: { ...inv.organization!, guardrails: { state: 'read', data: levels } } });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain(
      'service control policy SCP0x0 (p-scp0x0abcd) at root r-ab12 cannot be read (the policy content is not JSON)',
    );
  });
});
