import { describe, expect, it } from 'vitest';
import type { AccessGrant } from '#lib/checks/iam/user-full-access.ts';
import { userFullAccess } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { ACCOUNT } from '#test/account.ts';
import {
  administratorAccess,
  ADMIN_ARN,
  authorizationInventory as inventory,
  doc,
  group,
  inlineUser,
  managed,
  user,
  userArn,
} from '#test/iam.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { parseSettings } from '#lib/settings.ts';

const settings = parseSettings({});

const allow = (extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Action: '*', Resource: '*', ...extra });
const narrow = { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' };

/** The one finding of a one-user inventory. */
function evaluateOne(details: Parameters<typeof inventory>[0]): Finding {
  const findings = userFullAccess.evaluate(inventory(details), settings);
  expect(findings).toHaveLength(1);
  return findings[0]!;
}

const grantsOf = (f: Finding) => f.details.grants as AccessGrant[];
const classesOf = (f: Finding) => grantsOf(f).map((g) => g.class);
const deniesOf = (f: Finding) => f.details.denies as Array<Record<string, unknown>>;

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
    expect(f.details.verdict).toBe('full-access');
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({
        class: 'full-access',
        severity: 'critical',
        conditional: false,
        summary: 'has full access (*:* on *) directly via policy AdministratorAccess',
        paths: [
          {
            policy: 'AdministratorAccess',
            policyArn: ADMIN_ARN,
            via: 'user',
            path: 'directly via policy AdministratorAccess',
            statement: 'statement #0',
            conditional: false,
          },
        ],
      }),
    ]);
    expect(deniesOf(f)).toEqual([]);
    expect(f.details.commands).toEqual([`aws iam detach-user-policy --user-name alice --policy-arn ${ADMIN_ARN}`]);
  });

  it.each([
    ['"*:*"', '*:*'],
    ['"*"', '*'],
    ['["*"]', ['*']],
    ['a list mixing service actions and "*:*"', ['s3:GetObject', '*:*']],
  ])('treats Action %s as all actions', (_label, action) => {
    const f = evaluateOne({ users: [inlineUser('alice', { Sid: 'Admin', Effect: 'Allow', Action: action, Resource: '*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('alice has full access (*:* on *) directly via inline policy Inline (inline on user alice)');
    expect(classesOf(f)).toEqual(['full-access']);
    expect(grantsOf(f)[0]!.paths).toEqual([expect.objectContaining({ statement: 'Sid Admin', via: 'user', policy: 'Inline' })]);
    expect(grantsOf(f)[0]!.paths[0]).not.toHaveProperty('policyArn');
    expect(f.details.commands).toEqual(['aws iam delete-user-policy --user-name alice --policy-name Inline']);
  });

  // IAM reads Action values as written: " *:* " is not `*:*` (it matches no action), and a document
  // we cannot read exactly is unreadable: ERROR naming the value, never evaluated as a guess.
  it('refuses an Action list with " *:* " spaced: ERROR naming the value', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', { Sid: 'Admin', Effect: 'Allow', Action: ['ec2:DescribeInstances', ' *:* '], Resource: '*' })],
    });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain(
      'alice could not be evaluated: inline policy Inline on user alice cannot be read (statement 0: Action value " *:* "',
    );
  });

  it('treats a Resource list containing "*" as every resource', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow({ Resource: ['arn:aws:s3:::bucket', '*'] }))],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain('has full access (*:* on *)');
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({ class: 'full-access', paths: [expect.objectContaining({ statement: 'statement #0' })] }),
    ]);
  });

  // SPEC 3.3: actions with no resource types are authorized against `*` only, so arn:aws:*:*:*:* does
  // not reach them: all actions on resources narrower than `*` (high), no longer full access (critical).
  it('reads Allow * on arn:aws:*:*:*:* as all actions on that pattern (high), which covers the user itself', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Resource: 'arn:aws:*:*:*:*' }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'alice can do all actions on arn:aws:*:*:*:* (can grant itself any permission) directly via inline policy Inline (inline on user alice) (and 1 more grant)',
    );
    expect(f.details.verdict).toBe('all-actions-on-resources');
    expect(classesOf(f)).toEqual(['all-actions-on-resources', 'escalation']);
    expect(grantsOf(f)[0]).toMatchObject({ resources: ['arn:aws:*:*:*:*'], severity: 'high', conditional: false });
    expect(grantsOf(f)[1]).toMatchObject({ action: 'iam:PutUserPolicy', resource: userArn('alice') });
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
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({ class: 'full-access', paths: [expect.objectContaining({ policy: 'Solo', statement: 'statement #0' })] }),
    ]);
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
    ['the exact user ARN', userArn('bob'), userArn('bob')],
    ['every user in the account', `arn:aws:iam::${ACCOUNT}:user/*`, `arn:aws:iam::${ACCOUNT}:user/*`],
    // The policy variable is resolved for the user before it is matched, and named resolved.
    ['the ${aws:username} policy variable', `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`, userArn('bob')],
  ])('says the user can grant itself any permission when Resource is %s', (_label, resource, named) => {
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
      `bob can do all actions on ${named} (can grant itself any permission) directly via inline policy FullAccess (inline on user bob) (and 1 more grant)`,
    );
    expect(classesOf(f)).toEqual(['all-actions-on-resources', 'escalation']);
    expect(grantsOf(f)[0]).toMatchObject({ resources: [named] });
    // The self-grant is an escalation grant of its own, naming both calls.
    expect(grantsOf(f)[1]!.routes!.map((r) => [r.action, r.resource])).toEqual([
      ['iam:PutUserPolicy', userArn('bob')],
      ['iam:AttachUserPolicy', userArn('bob')],
    ]);
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
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({ class: 'all-actions-on-resources', resources: ['arn:aws:s3:::data', 'arn:aws:s3:::data/*'] }),
    ]);
  });

  it('does not mistake another user ARN for the user itself', () => {
    const f = evaluateOne({ users: [inlineUser('bob', allow({ Resource: userArn('bobby') }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).not.toContain('grant itself');
    expect(classesOf(f)).toEqual(['all-actions-on-resources']);
  });

  // The excluded list is summarized by service, in the catalogue's service order.
  it('fails high for Allow NotAction on "*", listing what is excluded (PowerUserAccess shape)', () => {
    const f = evaluateOne({
      users: [inlineUser('carol', { Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'carol can do all actions except account:*, iam:*, organizations:* directly via inline policy Inline (inline on user carol)',
    );
    expect(f.details.verdict).toBe('all-actions-except');
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({ class: 'all-actions-except', severity: 'high', excluded: ['account:*', 'iam:*', 'organizations:*'] }),
    ]);
  });

  // SPEC 3.3 one-step escalation: the self-grant is now its own escalation grant, not a title note.
  it('adds a self-escalation grant for NotAction that leaves IAM allowed', () => {
    const f = evaluateOne({ users: [inlineUser('carol', { Effect: 'Allow', NotAction: 's3:*', Resource: '*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'carol can do all actions except s3:* directly via inline policy Inline (inline on user carol) (and 1 more grant)',
    );
    expect(classesOf(f)).toEqual(['all-actions-except', 'escalation']);
    expect(grantsOf(f)[1]).toMatchObject({ action: 'iam:PutUserPolicy', resource: userArn('carol'), severity: 'high' });
  });

  it('fails high for Allow "*" with NotResource', () => {
    const f = evaluateOne({
      users: [inlineUser('dave', { Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::audit-logs/*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'dave can do all actions on every resource except arn:aws:s3:::audit-logs/* directly via inline policy Inline (inline on user dave) (and 1 more grant)',
    );
    expect(grantsOf(f)[0]).toMatchObject({ class: 'all-actions-except', excluded: [], exceptResources: ['arn:aws:s3:::audit-logs/*'] });
    // The user's own ARN is not excluded, so it can write its own policies.
    expect(grantsOf(f)[1]).toMatchObject({ class: 'escalation', action: 'iam:PutUserPolicy', resource: userArn('dave') });
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
        class: 'all-actions-except',
        excluded: ['iam:*'],
        exceptResources: ['arn:aws:s3:::x'],
        severity: 'high',
        conditional: false,
      }),
    ]);
    expect(f.details.commands).toEqual(['aws iam delete-user-policy --user-name erin --policy-name Inline']);
  });

  it('adds self-escalation for NotAction with NotResource when neither excludes the self-grant calls on the user', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: ['s3:*'], NotResource: ['arn:aws:s3:::x', 'arn:aws:s3:::x/*'] })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.title).toContain('can do all actions except s3:* on every resource except arn:aws:s3:::x, arn:aws:s3:::x/*');
    expect(classesOf(f)).toEqual(['all-actions-except', 'escalation']);
    expect(grantsOf(f)[1]).toMatchObject({ action: 'iam:PutUserPolicy', resource: userArn('erin') });
  });

  it('has no self-escalation grant when the NotResource excludes the user itself', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: 's3:*', NotResource: `arn:aws:iam::${ACCOUNT}:user/*` })],
    });
    expect(f.status).toBe('FAIL');
    expect(classesOf(f)).toEqual(['all-actions-except']);
    expect(grantsOf(f)[0]).toMatchObject({ exceptResources: [`arn:aws:iam::${ACCOUNT}:user/*`] });
    // s3:*, and the actions that take only a user ARN (allowed on no resource at all).
    expect(grantsOf(f)[0]!.excluded![0]).toBe('s3:*');
  });

  it('reads an empty NotAction on narrower resources as all actions on them', () => {
    const f = evaluateOne({ users: [inlineUser('erin', { Effect: 'Allow', NotAction: [], Resource: 'arn:aws:s3:::data/*' })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toContain('erin can do all actions on arn:aws:s3:::data/*');
    expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['arn:aws:s3:::data/*'] })]);
  });

  // Issue 10 §1 / SPEC 3.3 "all actions on <resources>": NotAction on a narrow resource is judged like
  // Action "*" there; no IAM action applies to an S3 object, so excluding iam:* removes nothing (was PASS).
  it('judges NotAction iam:* on an S3 object pattern as all actions on it', () => {
    const f = evaluateOne({
      users: [inlineUser('erin', { Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::data/*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe('erin can do all actions on arn:aws:s3:::data/* directly via inline policy Inline (inline on user erin)');
    expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['arn:aws:s3:::data/*'] })]);
  });
});

describe('user-full-access: wildcard patterns', () => {
  it('regression (property test): a run of wildcards in a Resource is matched in linear time (the regex took minutes)', () => {
    evaluateOne({ users: [inlineUser('warm', allow())] }); // the catalogue is loaded outside the timing
    const started = Date.now();
    const f = evaluateOne({
      users: [inlineUser('alice', allow({ Resource: `arn:${'*'.repeat(40)}x` }), allow({ Resource: `arn:${'*?'.repeat(15)}e` }))],
    });
    // 2 s, not 1 s: the machine is shared; the regex it guards against took minutes.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grantsOf(f)[0]).toMatchObject({
      class: 'all-actions-on-resources',
      resources: [`arn:${'*'.repeat(40)}x`, `arn:${'*?'.repeat(15)}e`],
    });
    // Only the second pattern covers the user's own ARN (it ends in e): full access one call away.
    expect(grantsOf(f)[1]).toMatchObject({ class: 'escalation', action: 'iam:PutUserPolicy', resource: userArn('alice') });
    expect(grantsOf(f)[1]!.paths.map((p) => p.statement)).toEqual(['statement #1']);
  });
});

describe('user-full-access: conditions', () => {
  it('reports a conditional Allow one severity lower, with the condition in the details', () => {
    const condition = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Condition: condition }))] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe('alice conditionally has full access (*:* on *) directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f)).toEqual([
      expect.objectContaining({
        class: 'full-access',
        conditional: true,
        severity: 'high',
        paths: [expect.objectContaining({ conditional: true, condition })],
      }),
    ]);
  });

  // SPEC 3.3 "the worst that holds": unconditional full access subsumes the conditional and narrower
  // grants of the same user, which are no longer listed as grants of their own ("and 2 more grants").
  it('takes the worst verdict when several grants hold, naming the statement that makes it', () => {
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
    expect(f.title).toBe('alice has full access (*:* on *) directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f).map((g) => [g.class, g.severity, g.paths.map((p) => p.statement)])).toEqual([
      ['full-access', 'critical', ['Sid Everything']],
    ]);
  });

  it('lists every class that holds below full access: a conditional full access beside all actions on a bucket', () => {
    const f = evaluateOne({
      users: [
        inlineUser(
          'alice',
          allow({ Sid: 'OnlyWithMfa', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }),
          allow({ Sid: 'Data', Resource: 'arn:aws:s3:::data' }),
        ),
      ],
    });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toBe(
      'alice can do all actions on arn:aws:s3:::data directly via inline policy Inline (inline on user alice) (and 1 more grant)',
    );
    expect(grantsOf(f).map((g) => [g.class, g.severity, g.conditional, g.paths.map((p) => p.statement)])).toEqual([
      ['all-actions-on-resources', 'high', false, ['Sid Data']],
      ['full-access', 'high', true, ['Sid OnlyWithMfa']],
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
    expect(f.title).toBe(
      'alice has no effective full access: no full-access grant survives; Deny statements reaching the user: Sid Quarantine via group quarantine, inline policy DenyAll (inline on group quarantine)',
    );
    expect(f.details.verdict).toBe('none');
    expect(f.details.reason).toContain('Sid Quarantine');
    expect(deniesOf(f)).toEqual([
      {
        policy: 'DenyAll',
        via: 'group',
        group: 'quarantine',
        path: 'via group quarantine, inline policy DenyAll (inline on group quarantine)',
        statement: 'Sid Quarantine',
        conditional: false,
      },
    ]);
    // SPEC 3.3 PASS "say which" Deny is the reason: the Deny is named; the neutralised grant is no longer listed.
    expect(f.details).not.toHaveProperty('grants');
    expect(f.details).not.toHaveProperty('commands');
  });

  // SPEC 3.3: a Deny removes exactly what it covers: Allow * minus iam:* is "all actions except iam:*"
  // (FAIL high), no longer full access (critical) beside a partial Deny.
  it('fails high for Allow * beside a partial Deny, naming what is excluded and the Deny', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Sid: 'NoIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe('alice can do all actions except iam:* directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'all-actions-except', excluded: ['iam:*'] })]);
    expect(deniesOf(f)).toEqual([expect.objectContaining({ statement: 'Sid NoIam', conditional: false })]);
  });

  // IAM documents no rule for a Condition operator that names no keys: read on the reporting side,
  // it is no condition on an Allow (full access, critical; it was read as conditional, high) and a
  // condition on a Deny (it removes nothing).
  it('reads an Allow whose Condition operator names no keys as unconditional, and such a Deny as conditional', () => {
    const vacuous = { StringEquals: {} };
    const allowed = evaluateOne({ users: [inlineUser('alice', allow({ Condition: vacuous }))] });
    expect(allowed).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(grantsOf(allowed)[0]).toMatchObject({ class: 'full-access', conditional: false });
    const denied = evaluateOne({
      users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: '*', Condition: vacuous })],
    });
    expect(denied).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(deniesOf(denied)).toEqual([]);
  });

  // IAM does not trim Resource values: " *" is a literal pattern that matches nothing real, so this
  // Deny denies nothing; it was read as a Deny of everything, and the administrator passed.
  it('does not read a Deny on " *" as a Deny of everything: ERROR naming the value, never PASS', () => {
    const f = evaluateOne({
      users: [
        user('alice', {
          attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }],
          inlinePolicies: [{ name: 'Quarantine', document: doc({ Effect: 'Deny', Action: '*', Resource: ' *' }) }],
        }),
      ],
      policies: [administratorAccess],
    });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('inline policy Quarantine on user alice cannot be read (statement 0: Resource value " *"');
    expect((f.details.readableGrants as AccessGrant[])[0]).toMatchObject({ class: 'full-access', severity: 'critical' });
  });

  // SPEC 3.3: a Deny under a Condition removes nothing for the verdict, so it is not among the denies that remove.
  it('still fails critical when Deny *:* on * is conditional', () => {
    const condition = { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } };
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: '*', Condition: condition })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(classesOf(f)).toEqual(['full-access']);
    expect(deniesOf(f)).toEqual([]);
  });

  // SPEC 3.3: `Deny NotResource` removes what it covers: everything but the one bucket (was "still critical").
  it('leaves all actions on the one resource a Deny "*" NotResource spares', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::x' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe('alice can do all actions on arn:aws:s3:::x directly via inline policy Inline (inline on user alice)');
    expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['arn:aws:s3:::x'] })]);
    expect(deniesOf(f)).toEqual([expect.objectContaining({ statement: 'statement #1' })]);
  });

  it('still fails critical when Deny *:* names every resource of another partition only (arn:aws-cn in an aws account)', () => {
    const f = evaluateOne({
      users: [inlineUser('alice', allow(), { Sid: 'ChinaOnly', Effect: 'Deny', Action: '*', Resource: 'arn:aws-cn:*:*:*:*' })],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.title).not.toContain('no effective full access');
    expect(classesOf(f)).toEqual(['full-access']);
    // It removes nothing here, so it is not listed among the denies that count.
    expect(deniesOf(f)).toEqual([]);
  });

  // SPEC 3.3: a Resource other than literal `*` does not cover the actions with no resource types, so a
  // Deny * on these patterns leaves them allowed: FAIL high "all actions on *", no longer PASS.
  it.each(['arn:aws:*:*:*:*', 'arn:*:*:*:*:*', 'arn:aws:*', 'arn:*'])(
    'leaves every action that takes no resource when the unconditional Deny *:* is on %s',
    (resource) => {
      const f = evaluateOne({ users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: resource })] });
      expect(f.status).toBe('FAIL');
      expect(f.severity).toBe('high');
      expect(f.title).toBe(
        'alice can do all actions on * (every action that takes no resource) directly via inline policy Inline (inline on user alice)',
      );
      expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['*'] })]);
      expect(deniesOf(f)).toEqual([expect.objectContaining({ statement: 'statement #1' })]);
    },
  );

  // A Deny on `?` does not certainly reach the resource `*` that the actions without resource types are
  // authorized against: beside a Deny on arn:* it was read as a Deny of everything, and the user passed.
  it('leaves every action that takes no resource when the Denies are on arn:* and "?": FAIL high, not PASS', () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow(), { Effect: 'Deny', Action: '*', Resource: ['arn:*', '?'] })] });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('high');
    expect(f.title).toBe(
      'alice can do all actions on * (every action that takes no resource) directly via inline policy Inline (inline on user alice)',
    );
  });

  it("judges a Deny's partition against the audited account's partition, not against aws", () => {
    const run = (denyResource: string) => {
      const li = user('li', {
        arn: `arn:aws-cn:iam::${ACCOUNT}:user/li`,
        inlinePolicies: [{ name: 'Inline', document: doc(allow(), { Effect: 'Deny', Action: '*', Resource: denyResource }) }],
      });
      const inv: Inventory = { ...inventory({ users: [li] }), partition: 'aws-cn' };
      const findings = userFullAccess.evaluate(inv, settings);
      expect(findings).toHaveLength(1);
      return findings[0]!;
    };
    expect(run('*').status).toBe('PASS');
    // SPEC 3.3: arn:aws-cn:*:*:*:* removes every resource action of the account's partition, but not
    // those that take no resource: FAIL high, no longer PASS.
    expect(run('arn:aws-cn:*:*:*:*')).toMatchObject({ status: 'FAIL', severity: 'high', details: { verdict: 'all-actions-on-resources' } });
    const f = run('arn:aws:*:*:*:*');
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(deniesOf(f)).toEqual([]);
  });

  // SPEC 3.3 / issue 10 §1: grants that allow nothing are not FAIL: an Allow only on another partition's
  // ARNs reaches no resource of this account (was "lenient for grants": FAIL critical).
  it("passes an Allow only on another partition's every-resource pattern", () => {
    const f = evaluateOne({ users: [inlineUser('alice', allow({ Resource: 'arn:aws-cn:*:*:*:*' }))] });
    expect(f.status).toBe('PASS');
    expect(f.details.verdict).toBe('none');
  });

  it('drops the self-grant when an unconditional Deny blocks both self-grant calls', () => {
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
    expect(classesOf(f)).toEqual(['all-actions-on-resources']);
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
    expect(f.title).toBe('alice has full access (*:* on *) via group admins, inline policy AdminInline (inline on group admins)');
    expect(grantsOf(f)[0]!.paths).toEqual([expect.objectContaining({ via: 'group', group: 'admins', policy: 'AdminInline' })]);
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
    expect(grantsOf(f)[0]!.paths).toEqual([
      {
        via: 'group',
        group: 'ops',
        policy: 'OrgAdmin',
        policyArn: policy.arn,
        path: 'via group ops, policy OrgAdmin',
        statement: 'Sid All',
        conditional: false,
      },
    ]);
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

  it('warns, one severity lower, when a boundary without *:* caps the user, naming it and what remains', () => {
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
    expect(f.details.verdict).toBe('capped');
    expect(f.details.permissionsBoundary).toEqual({ arn: boundary.arn, policy: 'DevBoundary' });
    expect(f.details.reason).toContain(boundary.arn);
    expect(f.details.reason).toContain('which the user cannot remove; what remains allowed: dynamodb:*, s3:*');
    expect(f.details.remainsAllowed).toMatchObject({ items: ['dynamodb:*', 's3:*'], more: 0, services: 2 });
    // The uncapped grant it would be, for the reader.
    expect(grantsOf(f)).toEqual([expect.objectContaining({ class: 'full-access', severity: 'critical' })]);
  });

  it('fails when the boundary itself allows *:* on *', () => {
    const boundary = managed('OpenBoundary', doc(allow()));
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('FAIL');
    expect(f.severity).toBe('critical');
    expect(f.details.verdict).toBe('full-access');
    expect(f.details.permissionsBoundary).toEqual({ arn: boundary.arn, policy: 'OpenBoundary' });
  });

  it('fails critical when the boundary lets the user delete its own boundary', () => {
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
    expect(f.details.boundaryEscapes).toEqual([`iam:DeleteUserPermissionsBoundary on ${userArn('alice')}`]);
    expect(classesOf(f)).toEqual(['full-access', 'escalation']);
    expect(grantsOf(f)[1]).toMatchObject({ action: 'iam:DeleteUserPermissionsBoundary', resource: userArn('alice'), severity: 'high' });
  });

  // Shrunk from the monotonicity property (policy.property.test.ts, seed 1344935003): the added
  // conditional Allow * made rewriting the boundary (CreatePolicyVersion) conditionally allowed; the
  // uncapped grants, lowered for that conditional escape, then replaced the capped unconditional
  // escalation of the same class, and adding an Allow lowered the FAIL from high to medium.
  it('regression (property test): a conditional way out of the boundary does not lower an unconditional escalation it already has', () => {
    const boundary = managed('Boundary', doc({ Effect: 'Allow', Action: ['*'], Resource: ['*'] }));
    const deny = { Effect: 'Deny', NotAction: ['iam:AttachUserPolicy', 'iam:CreatePolicyVersion'], NotResource: [] };
    const added = { Effect: 'Allow', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, Action: ['*'], NotResource: [] };
    const run = (...statements: unknown[]) =>
      evaluateOne({
        users: [
          user('alice', {
            groups: ['G'],
            inlinePolicies: [{ name: 'Inline', document: doc(...statements) }],
            permissionsBoundary: { arn: boundary.arn, type: 'Policy' },
          }),
        ],
        groups: [
          group('G', {
            inlinePolicies: [
              { name: 'GroupInline', document: doc({ Effect: 'Allow', NotAction: ['iam:CreatePolicyVersion'], Resource: ['*'] }) },
            ],
          }),
        ],
        policies: [boundary],
      });
    const before = run(deny);
    expect(before).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grantsOf(before)[0]).toMatchObject({
      class: 'escalation',
      action: 'iam:AttachUserPolicy',
      conditional: false,
      severity: 'high',
    });
    const after = run(deny, added);
    expect(after).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grantsOf(after)[0]).toMatchObject({ class: 'escalation', action: 'iam:AttachUserPolicy', conditional: false, severity: 'high' });
    // The conditional way out is still named.
    expect(after.details.boundaryEscapes).toEqual([`iam:CreatePolicyVersion on ${boundary.arn}`]);
    expect(grantsOf(after)).toContainEqual(
      expect.objectContaining({ class: 'escalation', conditional: true, action: 'iam:CreatePolicyVersion', resource: boundary.arn }),
    );
  });

  // SPEC 3.3 ERROR: a document that reaches the user (here the boundary) cannot be read: ERROR, with the
  // readable grants as a partial result (was FAIL critical "not assumed to cap").
  it('reports ERROR when the boundary is missing from the inventory, keeping the readable grant', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:policy/Gone`;
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn, type: 'Policy' } })],
      policies: [administratorAccess],
    });
    expect(f.status).toBe('ERROR');
    expect(f.severity).toBe('critical');
    expect(f.title).toContain(`alice could not be evaluated: permissions boundary ${arn}`);
    expect(f.title).toContain('cannot be read (not in the GetAccountAuthorizationDetails policies)');
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policyArn: arn, path: `permissions boundary ${arn}` })]);
    expect(f.details.readableGrants).toEqual([expect.objectContaining({ class: 'full-access', severity: 'critical' })]);
  });

  // SPEC 3.3: an unresolvable boundary is unreadable: ERROR (was FAIL critical).
  it.each(['constructor', '__proto__', 'toString'])(
    'regression (property test): a boundary or attached policy ARN %j is looked up among the policies only (it crashed)',
    (arn) => {
      const f = evaluateOne({
        users: [user('alice', { ...admin, permissionsBoundary: { arn, type: 'Policy' } })],
        policies: [administratorAccess],
      });
      expect(f).toMatchObject({ status: 'ERROR', severity: 'critical' });
      expect(f.title).toContain(`permissions boundary ${arn}`);
      expect(f.title).toContain('not in the GetAccountAuthorizationDetails policies');
      const g = evaluateOne({ users: [user('bob', { attachedPolicies: [{ name: 'Odd', arn }] })] });
      expect(g.status).toBe('ERROR');
      expect(g.title).toContain('not in the GetAccountAuthorizationDetails policies');
    },
  );

  // SPEC 3.3 ERROR: an undecodable boundary is unreadable (was FAIL "not assumed to cap").
  it('reports ERROR for an undecodable boundary, naming it', () => {
    const boundary = managed('Garbled', { ok: false, error: 'URIError: URI malformed' });
    const f = evaluateOne({
      users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })],
      policies: [administratorAccess, boundary],
    });
    expect(f.status).toBe('ERROR');
    expect(f.title).toBe(
      `alice could not be evaluated: permissions boundary Garbled (${boundary.arn}) cannot be read (URIError: URI malformed)`,
    );
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policy: 'Garbled', reason: 'URIError: URI malformed' })]);
    expect(f.details.readableGrants).toEqual([expect.objectContaining({ class: 'full-access' })]);
  });
});

describe('user-full-access: unreadable policies and groups', () => {
  it('reports ERROR, never PASS, for an undecodable policy, naming it', () => {
    const f = evaluateOne({
      users: [user('alice', { inlinePolicies: [{ name: 'Broken', document: { ok: false, error: 'URIError: URI malformed' } }] })],
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

  // SPEC 3.3 ERROR whenever a document reaching the user is unreadable, even beside a readable full
  // grant (was FAIL critical): the readable grants are the partial result.
  it('reports ERROR (not FAIL) when a readable statement grants full access beside an unreadable policy', () => {
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
    expect(f.status).toBe('ERROR');
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('alice could not be evaluated: inline policy Broken on user alice cannot be read (Unexpected token)');
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policy: 'Broken', reason: 'Unexpected token' })]);
    expect(f.details.readableGrants).toEqual([
      expect.objectContaining({
        class: 'full-access',
        severity: 'critical',
        summary: 'has full access (*:* on *) directly via inline policy Admin (inline on user alice)',
      }),
    ]);
    expect(f.details.commands).toEqual(['aws iam delete-user-policy --user-name alice --policy-name Admin']);
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
    expect(f.title).toBe('alice could not be evaluated: group ghosts cannot be read (not in the GetAccountAuthorizationDetails groups)');
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
    expect(f.title).toBe('alice could not be evaluated: inline policy Broken on user alice cannot be read (bad)');
    expect(f.details.reason).toBe('a policy reaching the user cannot be read, so its effective access is unknown');
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
    expect(f.title).toContain('inline policy Broken on user alice cannot be read (bad)');
    expect(f.details.unreadable).toEqual([expect.objectContaining({ policy: 'Broken' })]);
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
    expect(f.title).toBe('alice has no effective full access: no full-access grant');
    expect(f.details.verdict).toBe('none');
    expect(f.details).not.toHaveProperty('grants');
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
        kind: 'denied',
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
