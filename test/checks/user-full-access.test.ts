import { describe, expect, it } from 'vitest';
import { userFullAccess, type DenyStatement, type FullAccessGrant } from '#lib/checks/user-full-access.ts';
import type { Finding } from '#lib/checks/types.ts';
import type {
  AuthorizationDetails,
  IamGroup,
  IamUser,
  Inventory,
  ManagedPolicy,
  PolicyDocument,
} from '#lib/inventory/types.ts';
import { parseSettings } from '#lib/settings.ts';

const ACCOUNT = '123456789012';
const settings = parseSettings({});
const notNeeded = { state: 'unread', call: 'x', reason: 'not needed' } as const;

const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;
const ADMIN_ARN = 'arn:aws:iam::aws:policy/AdministratorAccess';

function doc(...statements: unknown[]): PolicyDocument {
  return { ok: true, document: { Version: '2012-10-17', Statement: statements } };
}

const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action: '*', Resource: '*', ...extra });
const narrow = { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' };

function user(name: string, fields: Partial<IamUser> = {}): IamUser {
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

function group(name: string, fields: Partial<IamGroup> = {}): IamGroup {
  return {
    name,
    arn: `arn:aws:iam::${ACCOUNT}:group/${name}`,
    id: `AGPA${name.toUpperCase()}`,
    path: '/',
    inlinePolicies: [],
    attachedPolicies: [],
    ...fields,
  };
}

function managed(name: string, document: PolicyDocument, awsManaged = false): ManagedPolicy {
  return {
    name,
    arn: awsManaged ? `arn:aws:iam::aws:policy/${name}` : `arn:aws:iam::${ACCOUNT}:policy/${name}`,
    path: '/',
    defaultVersionId: 'v1',
    document,
    awsManaged,
  };
}

const administratorAccess = managed('AdministratorAccess', doc({ Effect: 'Allow', Action: '*', Resource: '*' }), true);

function inventory(details: Partial<Omit<AuthorizationDetails, 'policies'>> & { policies?: ManagedPolicy[] }): Inventory {
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

/** The one finding of a one-user inventory. */
function evaluateOne(details: Parameters<typeof inventory>[0]): Finding {
  const findings = userFullAccess.evaluate(inventory(details), settings);
  expect(findings).toHaveLength(1);
  return findings[0]!;
}

/** A user with one inline policy holding the given statements. */
function inlineUser(name: string, ...statements: unknown[]): IamUser {
  return user(name, { inlinePolicies: [{ name: 'Inline', document: doc(...statements) }] });
}

const grantsOf = (f: Finding) => f.details.grants as FullAccessGrant[];
const deniesOf = (f: Finding) => f.details.denies as DenyStatement[];

describe('user-full-access metadata', () => {
  it('carries the CIS, Security Hub and Config references', () => {
    expect(userFullAccess.id).toBe('user-full-access');
    expect(userFullAccess.severity).toBe('critical');
    expect(userFullAccess.references.cis).toEqual({ 'v1.4.0': '1.16', 'v3.0.0': '1.16', 'v5.0.0': '1.15' });
    expect(userFullAccess.references.securityHub).toEqual(['IAM.1']);
    expect(userFullAccess.references.awsConfig).toEqual(['iam-policy-no-statements-with-admin-access']);
    expect(userFullAccess.remediation.command).toContain('aws iam detach-user-policy');
  });
});

describe('user-full-access: full access on every resource', () => {
  it('fails critical for the AWS managed AdministratorAccess attached to the user', () => {
    const f = evaluateOne({
      users: [user('alice', { attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }] })],
      policies: [administratorAccess],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.resource).toBe(userArn('alice'));
    expect(f.id).toBe(`${ACCOUNT}#user-full-access#${userArn('alice')}`);
    expect(f.title).toBe('alice has full access (*:* on *) directly via policy AdministratorAccess');
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({
        policy: 'AdministratorAccess',
        policyArn: ADMIN_ARN,
        via: 'user',
        statement: 'statement #0',
        access: 'full',
        resources: ['*'],
        conditional: false,
        severity: 'critical',
      }),
    ]);
    expect(f.details.commands).toEqual([`aws iam detach-user-policy --user-name alice --policy-arn ${ADMIN_ARN}`]);
  });

  it.each([
    ['"*:*"', '*:*'],
    ['"*"', '*'],
    ['["*"]', ['*']],
    ['a list mixing service actions and "*:*"', ['s3:GetObject', '*:*']],
    ['a list with " *:* " spaced', ['ec2:DescribeInstances', ' *:* ']],
  ])('treats Action %s as all actions', (_label, action) => {
    const f = evaluateOne({ users: [inlineUser('alice', { Sid: 'Admin', Effect: 'Allow', Action: action, Resource: '*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('alice has full access (*:* on *) directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f)[0]).toMatchObject({ statement: 'Sid Admin', access: 'full', via: 'user' });
    expect(grantsOf(f)[0]).not.toHaveProperty('policyArn');
    expect(f.details.commands).toEqual(['aws iam delete-user-policy --user-name alice --policy-name Inline']);
  });

  it('treats a Resource list containing "*" as every resource', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow({ Resource: ['arn:aws:s3:::bucket', '*'] }))],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('has full access (*:* on *)');
    expect(grantsOf(f)[0]!.resources).toEqual(['arn:aws:s3:::bucket', '*']);
  });

  it('treats arn:aws:*:*:*:* as every resource, and says which pattern', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Resource: 'arn:aws:*:*:*:*' }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('has full access (*:* on arn:aws:*:*:*:*)');
  });

  it('reads a Statement given as one object, not a list', () => {
    const f = evaluateOne({
      users: [
        user('alice', {
          inlinePolicies: [{ name: 'Solo', document: { ok: true, document: { Statement: allow() } } }],
        }),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(grantsOf(f)[0]).toMatchObject({ policy: 'Solo', statement: 'statement #0', access: 'full' });
  });

  // IAM's Effect values and element names are case-sensitive (IAM refuses `allow`): such a document
  // is unreadable, ERROR naming the policy, never evaluated as a guess.
  it('refuses a lowercase Effect: ERROR naming the policy', () => {
    const f = evaluateOne({ users: [inlineUser('alice', { Effect: 'allow', Action: '*', Resource: '*' })] });
    expect(f.status).toBe('ERROR');
    expect(f.title).toBe(
      'alice could not be evaluated: inline policy Inline on user alice cannot be read (statement 0: Effect must be "Allow" or "Deny" (case-sensitive), got "allow")',
    );
  });

  it('regression (property test): a lowercase "deny" of * on * is not a Deny that neutralises Allow *: ERROR, not PASS', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow(), { Effect: 'deny', Action: '*', Resource: '*' })] });
    expect(f.status).toBe('ERROR');
  });

  it('regression (property test): element names in another case are not read: ERROR, not PASS', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow(), { effect: 'Deny', action: '*', resource: '*' })] });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('element "effect" must be spelled Effect (IAM element names are case-sensitive)');
  });
});

describe('user-full-access: narrower grants', () => {
  it.each([
    ['the exact user ARN', userArn('bob')],
    ['every user in the account', `arn:aws:iam::${ACCOUNT}:user/*`],
    ['the ${aws:username} policy variable', `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`],
  ])('says the user can grant itself any permission when Resource is %s', (_label, resource) => {
    const f = evaluateOne({
      users: [
        user('bob', {
          inlinePolicies: [{ name: 'FullAccess', document: doc(allow({ Resource: resource })) }],
        }),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      `bob can do all actions on ${resource} (can grant itself any permission) directly via inline policy FullAccess (inline on user bob)`,
    );
    expect(grantsOf(f)[0]).toMatchObject({ access: 'resources', resources: [resource], selfEscalation: true });
  });

  it('fails high without the self-grant note when the resources do not cover the user', () => {
    const f = evaluateOne({
      users: [inlineUser('bob', allow({ Resource: ['arn:aws:s3:::data', 'arn:aws:s3:::data/*'] }))],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'bob can do all actions on arn:aws:s3:::data, arn:aws:s3:::data/* directly via inline policy Inline (inline on user bob)',
    );
    expect(f.title).not.toContain('grant itself');
    expect(grantsOf(f)[0]!.selfEscalation).toBe(false);
  });

  it('does not mistake another user ARN for the user itself', () => {
    const f = evaluateOne({ users: [inlineUser('bob', allow({ Resource: userArn('bobby') }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(grantsOf(f)[0]!.selfEscalation).toBe(false);
  });

  it('fails high for Allow NotAction on "*", listing what is excluded (PowerUserAccess shape)', () => {
    const f = evaluateOne({
      users: [
        inlineUser('carol', { Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'carol can do all actions except iam:*, organizations:*, account:* directly via inline policy Inline (inline on user carol)',
    );
    expect(grantsOf(f)[0]).toMatchObject({
      access: 'all-except-actions',
      notActions: ['iam:*', 'organizations:*', 'account:*'],
      selfEscalation: false,
    });
  });

  it('notes self-escalation for NotAction that leaves IAM allowed', () => {
    const f = evaluateOne({ users: [inlineUser('carol', { Effect: 'Allow', NotAction: 's3:*', Resource: '*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toContain('can do all actions except s3:* (can grant itself any permission)');
  });

  it('fails high for Allow "*" with NotResource', () => {
    const f = evaluateOne({
      users: [inlineUser('dave', { Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::audit-logs/*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toContain('dave can do all actions on every resource except arn:aws:s3:::audit-logs/*');
    // The user's own ARN is not excluded, so it can write its own policies.
    expect(f.title).toContain('(can grant itself any permission)');
    expect(grantsOf(f)[0]).toMatchObject({
      access: 'all-except-resources',
      resources: ['*'],
      notResources: ['arn:aws:s3:::audit-logs/*'],
    });
  });

  it('fails high for Allow NotAction with NotResource, naming both exceptions', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: 'iam:*', NotResource: 'arn:aws:s3:::x' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'erin can do all actions except iam:* on every resource except arn:aws:s3:::x directly via inline policy Inline (inline on user erin)',
    );
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({
        access: 'all-except-actions',
        notActions: ['iam:*'],
        resources: ['*'],
        notResources: ['arn:aws:s3:::x'],
        selfEscalation: false,
        severity: 'high',
      }),
    ]);
    expect(f.details.commands).toEqual(['aws iam delete-user-policy --user-name erin --policy-name Inline']);
  });

  it('notes self-escalation for NotAction with NotResource when neither excludes the self-grant calls on the user', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: ['s3:*'], NotResource: ['arn:aws:s3:::x', 'arn:aws:s3:::x/*'] })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.title).toContain(
      'can do all actions except s3:* on every resource except arn:aws:s3:::x, arn:aws:s3:::x/* (can grant itself any permission)',
    );
    expect(grantsOf(f)[0]).toMatchObject({ access: 'all-except-actions', selfEscalation: true });
  });

  it('drops the self-escalation note when the NotResource excludes the user itself', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: 's3:*', NotResource: `arn:aws:iam::${ACCOUNT}:user/*` })],
    });
    expect(f.status).toBe('FAIL');
    expect(grantsOf(f)[0]).toMatchObject({ access: 'all-except-actions', selfEscalation: false });
  });

  it('reads an empty NotAction on narrower resources as all actions on them', () => {
    const f = evaluateOne({ users: [inlineUser('erin', { Effect: 'Allow', NotAction: [], Resource: 'arn:aws:s3:::data/*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toContain('erin can do all actions on arn:aws:s3:::data/*');
    expect(grantsOf(f)[0]).toMatchObject({ access: 'resources', resources: ['arn:aws:s3:::data/*'] });
  });

  it('ignores NotAction on narrower resources (not "all actions" anywhere in particular)', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::data/*' })],
    });
    expect(f.status).toBe('PASS');
  });
});

describe('user-full-access: wildcard patterns', () => {
  it('regression (property test): a run of wildcards in a Resource is matched in linear time (the regex took minutes)', () => {
    const started = Date.now();
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Resource: `arn:${'*'.repeat(40)}x` }), allow({ Resource: `arn:${'*?'.repeat(15)}e` }))] });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    // The second pattern covers the user's own ARN (it ends in e): full access one call away.
    expect(grantsOf(f).map((g) => g.selfEscalation)).toEqual([false, true]);
  });
});

describe('user-full-access: conditions', () => {
  it('reports a conditional Allow one severity lower, with the condition in the details', () => {
    const condition = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Condition: condition }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe('alice conditionally has full access (*:* on *) directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f)[0]).toMatchObject({ conditional: true, condition, severity: 'high' });
  });

  it('takes the worst severity among several grants and counts the others in the title', () => {
    const f = evaluateOne({
      users: [
        inlineUser(
          'alice',
          allow({ Sid: 'OnlyWithMfa', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }),
          allow({ Sid: 'Data', Resource: 'arn:aws:s3:::data' }),
          allow({ Sid: 'Everything' }),
        ),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe(
      'alice has full access (*:* on *) directly via inline policy Inline (inline on user alice) (and 2 more grants)',
    );
    expect(grantsOf(f).map((g) => [g.statement, g.severity])).toEqual([
      ['Sid Everything', 'critical'],
      ['Sid OnlyWithMfa', 'high'],
      ['Sid Data', 'high'],
    ]);
  });
});

describe('user-full-access: Deny statements', () => {
  it('passes when an unconditional Deny *:* on * reaches the user, naming the deny', () => {
    const f = evaluateOne({
      users: [
        user('alice', {
          groups: ['quarantine'],
          attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }],
        }),
      ],
      groups: [
        group('quarantine', {
          inlinePolicies: [{ name: 'DenyAll', document: doc({ Sid: 'Quarantine', Effect: 'Deny', Action: '*:*', Resource: '*' }) }],
        }),
      ],
      policies: [administratorAccess],
    });
    expect(f.status).toBe('PASS');
    expect(f.severity).toBe('informational');
    expect(f.title).toContain('alice has no effective full access');
    expect(f.title).toContain('via group quarantine, inline policy DenyAll');
    expect(f.details.reason).toContain('Sid Quarantine');
    expect(deniesOf(f)[0]).toMatchObject({ full: true, group: 'quarantine', via: 'group' });
    // The neutralised grant stays visible for the reader.
    expect(grantsOf(f)).toHaveLength(1);
    expect(f.details).not.toHaveProperty('commands');
  });

  it('still fails when the Deny is partial, listing what is denied', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Sid: 'NoIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(deniesOf(f)).toEqual([
      expect.objectContaining({ statement: 'Sid NoIam', actions: ['iam:*'], resources: ['*'], full: false, conditional: false }),
    ]);
    expect(f.details.reason).toContain('do not neutralise');
  });

  it('still fails when Deny *:* on * is conditional', () => {
    const condition = { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } };
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: '*', Condition: condition })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(deniesOf(f)[0]).toMatchObject({ conditional: true, condition, full: false });
  });

  it('still fails when Deny "*" uses NotResource', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::x' })],
    });
    expect(f.status).toBe('FAIL');
    expect(deniesOf(f)[0]).toMatchObject({ notResources: ['arn:aws:s3:::x'], full: false });
  });

  it('still fails when Deny *:* names every resource of another partition only (arn:aws-cn in an aws account)', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Sid: 'ChinaOnly', Effect: 'Deny', Action: '*', Resource: 'arn:aws-cn:*:*:*:*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).not.toContain('no effective full access');
    expect(deniesOf(f)).toEqual([expect.objectContaining({ statement: 'Sid ChinaOnly', resources: ['arn:aws-cn:*:*:*:*'], full: false })]);
    expect(f.details.reason).toContain('do not neutralise');
  });

  it.each(['arn:aws:*:*:*:*', 'arn:*:*:*:*:*', 'arn:aws:*'])(
    'passes when the unconditional Deny *:* is on %s, every resource of the account partition',
    (resource) => {
      const f = evaluateOne({ users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: resource })] });
      expect(f.status).toBe('PASS');
      expect(deniesOf(f)[0]).toMatchObject({ full: true });
    },
  );

  it("judges a Deny's partition against the audited account's partition, not against aws", () => {
    const run = (denyResource: string) => {
      const inv: Inventory = {
        ...inventory({ users: [inlineUser('li', allow(), { Effect: 'Deny', Action: '*', Resource: denyResource })] }),
        partition: 'aws-cn',
      };
      const findings = userFullAccess.evaluate(inv, settings);
      expect(findings).toHaveLength(1);
      return findings[0]!;
    };
    expect(run('arn:aws-cn:*:*:*:*').status).toBe('PASS');
    const f = run('arn:aws:*:*:*:*');
    expect(f.status).toBe('FAIL');
    expect(deniesOf(f)[0]).toMatchObject({ full: false });
  });

  it('still counts an Allow on another partition\'s every-resource pattern as full access (lenient for grants)', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Resource: 'arn:aws-cn:*:*:*:*' }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(grantsOf(f)[0]).toMatchObject({ access: 'full' });
  });

  it('drops the self-grant note when an unconditional Deny blocks both self-grant calls', () => {
    const f = evaluateOne({
      users: [
        inlineUser('bob', allow({ Resource: userArn('bob') }), {
          Effect: 'Deny',
          Action: ['iam:PutUserPolicy', 'iam:AttachUserPolicy'],
          Resource: '*',
        }),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).not.toContain('grant itself');
  });
});

describe('user-full-access: groups', () => {
  it("names the group for a group's inline policy", () => {
    const f = evaluateOne({
      users: [user('alice', { groups: ['admins'] })],
      groups: [group('admins', { inlinePolicies: [{ name: 'AdminInline', document: doc(allow()) }] })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe(
      'alice has full access (*:* on *) via group admins, inline policy AdminInline (inline on group admins)',
    );
    expect(grantsOf(f)[0]).toMatchObject({ via: 'group', group: 'admins', policy: 'AdminInline' });
    expect(f.details.commands).toEqual(['aws iam remove-user-from-group --user-name alice --group-name admins']);
  });

  it("names the group and policy ARN for a group's attached managed policy", () => {
    const policy = managed('OrgAdmin', doc(allow({ Sid: 'All' })));
    const f = evaluateOne({
      users: [user('alice', { groups: ['ops'] })],
      groups: [group('ops', { attachedPolicies: [{ name: 'OrgAdmin', arn: policy.arn }] })],
      policies: [policy],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('alice has full access (*:* on *) via group ops, policy OrgAdmin');
    expect(grantsOf(f)[0]).toMatchObject({
      via: 'group',
      group: 'ops',
      policy: 'OrgAdmin',
      policyArn: policy.arn,
      statement: 'Sid All',
    });
  });

  it('gives one finding per user, each with its own paths', () => {
    const findings = userFullAccess.evaluate(
      inventory({
        users: [user('alice', { groups: ['admins'] }), user('bob'), user('carol', { groups: ['admins'] })],
        groups: [group('admins', { inlinePolicies: [{ name: 'AdminInline', document: doc(allow()) }] })],
      }),
      settings,
    );
    expect(findings.map((f) => [f.resource, f.status])).toEqual([
      [userArn('alice'), 'FAIL'],
      [userArn('bob'), 'PASS'],
      [userArn('carol'), 'FAIL'],
    ]);
  });
});

describe('user-full-access: permissions boundaries', () => {
  const admin = { attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }] };

  it('warns, one severity lower, when a boundary without *:* caps the user, naming it', () => {
    const boundary = managed('DevBoundary', doc({ Effect: 'Allow', Action: ['s3:*', 'dynamodb:*'], Resource: '*' }));
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('WARN');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'alice has full access (*:* on *) directly via policy AdministratorAccess, capped by permissions boundary DevBoundary',
    );
    expect(f.details.permissionsBoundary).toMatchObject({ arn: boundary.arn, policy: 'DevBoundary', effect: 'caps' });
    expect(f.details.reason).toContain(boundary.arn);
  });

  it('fails when the boundary itself allows *:* on *', () => {
    const boundary = managed('OpenBoundary', doc(allow()));
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.details.permissionsBoundary).toMatchObject({ policy: 'OpenBoundary', effect: 'allows-full-access' });
  });

  it('fails when the boundary lets the user delete its own boundary', () => {
    const boundary = managed(
      'LeakyBoundary',
      doc({ Effect: 'Allow', Action: ['s3:*', 'iam:DeleteUserPermissionsBoundary'], Resource: '*' }),
    );
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('permissions boundary LeakyBoundary does not cap it');
    expect(f.details.permissionsBoundary).toMatchObject({
      effect: 'escapable',
      escapes: [`iam:DeleteUserPermissionsBoundary on ${userArn('alice')}`],
    });
  });

  it('does not assume a boundary missing from the inventory caps the user', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:policy/Gone`;
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn, type: 'Policy' } })],
      policies: [administratorAccess],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain(`permissions boundary ${arn} cannot be read, not assumed to cap`);
    expect(f.details.permissionsBoundary).toMatchObject({ arn, effect: 'unreadable' });
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'regression (property test): a boundary or attached policy ARN %j is looked up among the policies only (it crashed)',
    (arn) => {
      const f = evaluateOne({
        users: [user('alice', { ...admin, permissionsBoundary: { arn, type: 'Policy' } })],
        policies: [administratorAccess],
      });
      expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
      expect(f.details.permissionsBoundary).toMatchObject({ arn, effect: 'unreadable' });
      const g = evaluateOne({ users: [user('bob', { attachedPolicies: [{ name: 'Odd', arn }] })] });
      expect(g.status).toBe('ERROR');
      expect(g.title).toContain('not in the GetAccountAuthorizationDetails policies');
    },
  );

  it('does not assume an undecodable boundary caps the user', () => {
    const boundary = managed('Garbled', { ok: false, error: 'URIError: URI malformed' });
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('FAIL');
    expect(f.details.permissionsBoundary).toMatchObject({ effect: 'unreadable' });
    expect((f.details.permissionsBoundary as { reason: string }).reason).toContain('URI malformed');
  });
});

describe('user-full-access: unreadable policies and groups', () => {
  it('reports ERROR, never PASS, for an undecodable policy, naming it', () => {
    const f = evaluateOne({
      users: [
        user('alice', { inlinePolicies: [{ name: 'Broken', document: { ok: false, error: 'URIError: URI malformed' } }] }),
      ],
    });
    expect(f.status).toBe('ERROR');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('alice could not be evaluated: inline policy Broken on user alice cannot be read (URIError: URI malformed)');
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policy: 'Broken', via: 'user' })]);
  });

  it('reports ERROR for a decoded document that is not a policy (no Statement)', () => {
    const policy = managed('NoStatements', { ok: true, document: { Version: '2012-10-17' } });
    const f = evaluateOne({
      users: [user('alice', { groups: ['g'] })],
      groups: [group('g', { attachedPolicies: [{ name: 'NoStatements', arn: policy.arn }] })],
      policies: [policy],
    });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain(`policy NoStatements (${policy.arn}) attached to group g cannot be read`);
    expect(f.title).toContain('no Statement');
  });

  it('fails (not ERROR) when a readable statement already grants full access, listing the unreadable policy', () => {
    const f = evaluateOne({
      users: [
        user('alice', {
          inlinePolicies: [
            { name: 'Broken', document: { ok: false, error: 'Unexpected token' } },
            { name: 'Admin', document: doc(allow()) },
          ],
        }),
      ],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('has full access (*:* on *) directly via inline policy Admin');
    expect(f.title).toContain('1 unreadable source not evaluated');
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policy: 'Broken', reason: 'Unexpected token' })]);
  });

  it('reports ERROR for an attached managed policy missing from the inventory', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:policy/Vanished`;
    const f = evaluateOne({ users: [user('alice', { attachedPolicies: [{ name: 'Vanished', arn }] })] });
    expect(f.status).toBe('ERROR');
    expect(f.title).toBe(
      `alice could not be evaluated: policy Vanished (${arn}) attached to user alice cannot be read (not in the GetAccountAuthorizationDetails policies)`,
    );
  });

  it('reports ERROR for a group missing from the inventory', () => {
    const f = evaluateOne({ users: [user('alice', { groups: ['ghosts'] })] });
    expect(f.status).toBe('ERROR');
    expect(f.title).toBe(
      'alice could not be evaluated: group ghosts cannot be read (not in the GetAccountAuthorizationDetails groups)',
    );
    expect(f.details.unreadable).toEqual([expect.objectContaining({ group: 'ghosts', via: 'group' })]);
  });

  it('reports ERROR, not PASS, when a full Deny exists beside an unreadable policy', () => {
    const f = evaluateOne({
      users: [
        user('alice', {
          inlinePolicies: [
            { name: 'DenyAll', document: doc({ Effect: 'Deny', Action: '*', Resource: '*' }) },
            { name: 'Broken', document: { ok: false, error: 'bad' } },
          ],
        }),
      ],
    });
    expect(f.status).toBe('ERROR');
    expect(f.details.reason).toContain('Deny *:* on *');
  });

  it('reports ERROR, not WARN, when a boundary caps but another policy cannot be read', () => {
    const boundary = managed('DevBoundary', doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }));
    const f = evaluateOne({
      users: [
        user('alice', {
          inlinePolicies: [
            { name: 'Admin', document: doc(allow()) },
            { name: 'Broken', document: { ok: false, error: 'bad' } },
          ],
          permissionsBoundary: { arn: boundary.arn, type: 'Policy' },
        }),
      ],
      policies: [boundary],
    });
    expect(f.status).toBe('ERROR');
    expect(f.details.reason).toContain('capped by permissions boundary DevBoundary');
  });
});

describe('user-full-access: compliant users and missing data', () => {
  it('passes a user with only narrow policies', () => {
    const readOnly = managed('S3Read', doc(narrow));
    const f = evaluateOne({
      users: [
        user('alice', {
          attachedPolicies: [{ name: 'S3Read', arn: readOnly.arn }],
          inlinePolicies: [{ name: 'Ec2', document: doc({ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }) }],
        }),
      ],
      policies: [readOnly],
    });
    expect(f.status).toBe('PASS');
    expect(f.severity).toBe('informational');
    expect(f.title).toBe('alice has no full-access grant');
    expect(f.details.grants).toEqual([]);
  });

  it('passes a user with no policies at all', () => {
    const f = evaluateOne({ users: [user('alice')] });
    expect(f.status).toBe('PASS');
    expect(f.severity).toBe('informational');
  });

  it('gives one ERROR naming the failed call when authorization details are unread', () => {
    const inv: Inventory = {
      ...inventory({}),
      authorizationDetails: {
        state: 'unread',
        call: 'GetAccountAuthorizationDetails',
        reason: 'User is not authorized to perform iam:GetAccountAuthorizationDetails',
        code: 'AccessDenied',
      },
    };
    const findings = userFullAccess.evaluate(inv, settings);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      status: 'ERROR',
      severity: 'critical',
      resource: `arn:aws:iam::${ACCOUNT}:user/*`,
      details: { call: 'GetAccountAuthorizationDetails', code: 'AccessDenied' },
    });
    expect(findings[0]!.title).toContain('GetAccountAuthorizationDetails failed (AccessDenied)');
  });

  it('gives no findings for an account without IAM users', () => {
    expect(userFullAccess.evaluate(inventory({}), settings)).toEqual([]);
  });
});
