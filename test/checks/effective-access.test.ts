/**
 * Regression tests of issue 10 section 1 (effective access, SPEC 3.3): one test per class of input
 * that the statement-shape reading got wrong, each the smallest input that shows it.
 */
import { describe, expect, it } from 'vitest';
import type { AccessGrant } from '#lib/checks/iam/user-full-access.ts';
import { userFullAccess } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { ACCOUNT } from '#test/account.ts';
import {
  administratorAccess,
  ADMIN_ARN,
  authorizationInventory,
  doc,
  group,
  groupArn,
  inlineUser,
  managed,
  user,
  userArn,
  type AuthorizationParts,
} from '#test/iam.ts';
import type { ManagedPolicy } from '#lib/inventory/types.ts';
import { parseSettings } from '#lib/settings.ts';

const settings = parseSettings({});
const MFA = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };

const allowAll = { Effect: 'Allow', Action: '*', Resource: '*' };

const admin = { attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }] };

/** Every inventory here also holds AdministratorAccess, attached or not. */
function evaluate(details: AuthorizationParts): Finding[] {
  return userFullAccess.evaluate(
    authorizationInventory({ ...details, policies: [administratorAccess, ...(details.policies ?? [])] }),
    settings,
  );
}

/** The finding of the first user (the one under test; others are targets). */
const first = (details: Parameters<typeof evaluate>[0]): Finding => evaluate(details)[0]!;
const one = (...statements: unknown[]): Finding => first({ users: [inlineUser('alice', ...statements)] });

const grants = (f: Finding) => (f.details.grants ?? []) as AccessGrant[];
const classes = (f: Finding) => grants(f).map((g) => g.class);
const routes = (f: Finding) => grants(f).flatMap((g) => (g.routes ?? []).map((r) => `${r.action} on ${r.resource}`));

/** A user with AdministratorAccess under the given permissions boundary. */
function capped(boundary: ManagedPolicy): Finding {
  return first({ users: [user('alice', { ...admin, permissionsBoundary: { arn: boundary.arn, type: 'Policy' } })], policies: [boundary] });
}

describe('effective access: Deny coverage is computed, not pattern-matched', () => {
  it('Deny * on arn:* leaves every action that takes no resource: FAIL high, not PASS', () => {
    const f = one(allowAll, { Effect: 'Deny', Action: '*', Resource: 'arn:*' });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain('can do all actions on * (every action that takes no resource)');
    expect(grants(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['*'] })]);
    expect(f.details.denies).toEqual([expect.objectContaining({ statement: 'statement #1' })]);
  });

  it('Deny * on arn:* plus Deny * on * (the rest) adds up: PASS', () => {
    const f = one(allowAll, { Effect: 'Deny', Action: '*', Resource: 'arn:*' }, { Effect: 'Deny', Action: '*', NotResource: 'arn:*' });
    expect(f.status).toBe('PASS');
  });

  it('Denies split over statements add up: Deny NotAction s3:* and Deny s3:* is PASS, naming both', () => {
    const f = one(
      allowAll,
      { Sid: 'AllButS3', Effect: 'Deny', NotAction: 's3:*', Resource: '*' },
      { Sid: 'S3', Effect: 'Deny', Action: 's3:*', Resource: '*' },
    );
    expect(f).toMatchObject({ status: 'PASS', severity: 'informational' });
    expect(f.details.reason).toContain('Sid AllButS3');
    expect(f.details.reason).toContain('Sid S3');
  });

  it('Denies split over policies and a group add up, action names in any case', () => {
    const f = first({
      users: [
        user('alice', {
          ...admin,
          groups: ['g'],
          inlinePolicies: [{ name: 'D1', document: doc({ Effect: 'Deny', Action: ['IAM:*', 'S3:*'], Resource: '*' }) }],
        }),
      ],
      groups: [
        group('g', { inlinePolicies: [{ name: 'D2', document: doc({ Effect: 'Deny', NotAction: ['iam:*', 's3:*'], Resource: '*' }) }] }),
      ],
    });
    expect(f.status).toBe('PASS');
    expect((f.details.denies as unknown[]).length).toBe(2);
  });

  it('Deny NotAction [x] on * leaves only x: nothing of full access when x is s3:GetObject (PASS)', () => {
    expect(one(allowAll, { Effect: 'Deny', NotAction: ['s3:GetObject'], Resource: '*' }).status).toBe('PASS');
  });

  it('Deny NotAction [x] on * leaves only x: x = iam:PutUserPolicy is the one escalation left', () => {
    const f = one(allowAll, { Effect: 'Deny', NotAction: ['iam:PutUserPolicy'], Resource: '*' });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(classes(f)).toEqual(['escalation']);
    // iam:AttachUserPolicy is denied: only x remains.
    expect(routes(f)).toEqual([`iam:PutUserPolicy on ${userArn('alice')}`]);
  });

  it('Deny * NotResource [r] leaves all actions on r, and nothing else', () => {
    const f = one(allowAll, { Effect: 'Deny', Action: '*', NotResource: ['arn:aws:s3:::data'] });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toBe('alice can do all actions on arn:aws:s3:::data directly via inline policy Inline (inline on user alice)');
    expect(grants(f)).toEqual([expect.objectContaining({ class: 'all-actions-on-resources', resources: ['arn:aws:s3:::data'] })]);
  });

  it('a Deny under a Condition removes nothing: Allow * beside a conditional Deny * is still FAIL critical', () => {
    const f = one(allowAll, { Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(classes(f)).toEqual(['full-access']);
    expect(f.details.denies).toEqual([]);
  });
});

describe('effective access: what a grant reaches', () => {
  it('NotAction s3:* on its own user ARN is all actions there: it can grant itself any permission', () => {
    const f = one({ Effect: 'Allow', NotAction: 's3:*', Resource: userArn('alice') });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain(`can do all actions on ${userArn('alice')} (can grant itself any permission)`);
    expect(classes(f)).toEqual(['all-actions-on-resources', 'escalation']);
    expect(routes(f)).toContain(`iam:PutUserPolicy on ${userArn('alice')}`);
  });

  it.each([
    ['Allow NotAction "*"', { Effect: 'Allow', NotAction: '*', Resource: '*' }],
    ['Allow * NotResource *', { Effect: 'Allow', Action: '*', NotResource: '*' }],
    [
      'Allow * only on arn:aws-cn:* in an aws account',
      { Effect: 'Allow', Action: '*', Resource: ['arn:aws-cn:*', 'arn:aws-cn:iam::*:user/*'] },
    ],
  ])('a grant that allows nothing is PASS: %s', (_label, statement) => {
    const f = one(statement);
    expect(f).toMatchObject({ status: 'PASS', severity: 'informational' });
    expect(f.details.verdict).toBe('none');
  });

  it('Allow * on arn:aws:*:*:*:* is all actions on that pattern (high), not full access', () => {
    const f = one({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:*:*:*:*' });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grants(f)[0]).toMatchObject({ class: 'all-actions-on-resources', resources: ['arn:aws:*:*:*:*'] });
  });
});

describe('effective access: permissions boundaries', () => {
  it('a boundary of Allow NotAction iam:* leaves all but IAM: FAIL high, not WARN', () => {
    const boundary = managed('NoIam', doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }));
    const f = capped(boundary);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toBe('alice can do all actions except iam:* directly via policy AdministratorAccess');
    expect(grants(f)).toEqual([expect.objectContaining({ class: 'all-actions-except', excluded: ['iam:*'] })]);
    expect(f.details.permissionsBoundary).toEqual({ arn: boundary.arn, policy: 'NoIam' });
  });

  it("a boundary's own Deny counts: Allow * with Deny iam:* in the boundary is all but IAM, FAIL high", () => {
    const boundary = managed('DenyIam', doc(allowAll, { Sid: 'NoIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' }));
    const f = capped(boundary);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grants(f)).toEqual([expect.objectContaining({ class: 'all-actions-except', excluded: ['iam:*'] })]);
    expect(f.details.denies).toEqual([expect.objectContaining({ via: 'boundary', statement: 'Sid NoIam', policyArn: boundary.arn })]);
  });

  it('a boundary that really caps is WARN one severity lower, naming the cap and what remains', () => {
    const boundary = managed('S3Only', doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }));
    const f = capped(boundary);
    expect(f).toMatchObject({ status: 'WARN', severity: 'high' });
    expect(f.title).toBe('alice has full access (*:* on *) directly via policy AdministratorAccess, capped by permissions boundary S3Only');
    expect(f.details.verdict).toBe('capped');
    expect(f.details.reason).toContain(`capped by permissions boundary S3Only (${boundary.arn}), which the user cannot remove`);
    expect(f.details.reason).toContain('what remains allowed: s3:*');
    expect(f.details.remainsAllowed).toMatchObject({ items: ['s3:*'], services: 1 });
  });

  it('a capped one-step escalation is WARN one lower: IAMFullAccess within an S3-only boundary is WARN medium', () => {
    const iamFull = managed('IAMFullAccess', doc({ Effect: 'Allow', Action: 'iam:*', Resource: '*' }), true);
    const boundary = managed('S3Only', doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }));
    const f = first({
      users: [
        user('ivan', {
          attachedPolicies: [{ name: 'IAMFullAccess', arn: iamFull.arn }],
          permissionsBoundary: { arn: boundary.arn, type: 'Policy' },
        }),
      ],
      policies: [iamFull, boundary],
    });
    expect(f).toMatchObject({ status: 'WARN', severity: 'medium' });
    expect(classes(f)).toEqual(['escalation']);
  });

  it.each([
    ['iam:DeleteUserPermissionsBoundary', userArn('alice')],
    ['iam:PutUserPermissionsBoundary', userArn('alice')],
    ['iam:CreatePolicyVersion', `arn:aws:iam::${ACCOUNT}:policy/Escapable`],
    ['iam:SetDefaultPolicyVersion', `arn:aws:iam::${ACCOUNT}:policy/Escapable`],
  ])('a boundary the user can escape (%s on %s) is FAIL critical for an administrator', (action, resource) => {
    const boundary = managed('Escapable', doc({ Effect: 'Allow', Action: ['s3:*', action], Resource: '*' }));
    const f = capped(boundary);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.title).toContain(
      `permissions boundary Escapable does not cap it: the user may remove or rewrite it (${action} on ${resource})`,
    );
    expect(f.details.boundaryEscapes).toEqual([`${action} on ${resource}`]);
    expect(classes(f)).toEqual(['full-access', 'escalation']);
    expect(grants(f)[1]).toMatchObject({ action, resource, severity: 'high' });
  });

  it('an AWS managed boundary cannot be rewritten: CreatePolicyVersion within it does not escape it (WARN)', () => {
    const boundary = managed('S3AndVersions', doc({ Effect: 'Allow', Action: ['s3:*', 'iam:CreatePolicyVersion'], Resource: '*' }), true);
    expect(capped(boundary)).toMatchObject({ status: 'WARN', severity: 'high' });
  });

  // SPEC 3.3: "A conditional grant of any of the above: the same finding one severity lower": a boundary
  // escape allowed only under a Condition gives the administrator's full access conditionally (high).
  it('a boundary the user can escape only under a Condition is one severity lower: FAIL high', () => {
    const boundary = managed(
      'EscapableWithMfa',
      doc(
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Allow', Action: 'iam:DeleteUserPermissionsBoundary', Resource: '*', Condition: MFA },
      ),
    );
    const f = capped(boundary);
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain('alice conditionally has full access (*:* on *)');
    expect(grants(f).find((g) => g.class === 'full-access')).toMatchObject({ conditional: true, severity: 'high' });
    expect(f.details.boundaryEscapes).toEqual([`iam:DeleteUserPermissionsBoundary on ${userArn('alice')}`]);
  });
});

describe('effective access: one-step escalation', () => {
  it('IAMFullAccess alone can make itself an administrator in one call: FAIL high, naming iam:PutUserPolicy and its ARN', () => {
    const iamFull = managed(
      'IAMFullAccess',
      doc({ Effect: 'Allow', Action: ['iam:*', 'organizations:DescribeOrganization'], Resource: '*' }),
      true,
    );
    const f = first({ users: [user('ivan', { attachedPolicies: [{ name: 'IAMFullAccess', arn: iamFull.arn }] })], policies: [iamFull] });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toBe(
      `ivan can make itself an administrator in one call: iam:PutUserPolicy on ${userArn('ivan')} (writes itself an inline policy that allows anything), or 1 other call directly via policy IAMFullAccess`,
    );
    expect(f.details.verdict).toBe('escalation');
    expect(grants(f)).toEqual([
      expect.objectContaining({ class: 'escalation', action: 'iam:PutUserPolicy', resource: userArn('ivan'), conditional: false }),
    ]);
    expect(routes(f)).toEqual([`iam:PutUserPolicy on ${userArn('ivan')}`, `iam:AttachUserPolicy on ${userArn('ivan')}`]);
  });

  it.each(['iam:PutUserPolicy', 'iam:AttachUserPolicy'])('%s on itself', (action) => {
    const f = one({ Effect: 'Allow', Action: action, Resource: userArn('alice') });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(routes(f)).toEqual([`${action} on ${userArn('alice')}`]);
  });

  it.each(['iam:PutGroupPolicy', 'iam:AttachGroupPolicy'])('%s on a group it belongs to', (action) => {
    const f = first({
      users: [user('eve', { groups: ['dev'] })],
      groups: [
        group('dev', {
          inlinePolicies: [{ name: 'DevInline', document: doc({ Effect: 'Allow', Action: action, Resource: groupArn('dev') }) }],
        }),
      ],
    });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(routes(f)).toEqual([`${action} on ${groupArn('dev')}`]);
    expect(grants(f)[0]!.paths).toEqual([expect.objectContaining({ via: 'group', group: 'dev', policy: 'DevInline' })]);
    expect(f.details.commands).toEqual(['aws iam remove-user-from-group --user-name eve --group-name dev']);
  });

  it.each(['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion'])('%s on a customer managed policy that reaches it', (action) => {
    const team = managed('Team', doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }));
    const f = first({
      users: [
        user('eve', {
          attachedPolicies: [{ name: 'Team', arn: team.arn }],
          inlinePolicies: [{ name: 'Inline', document: doc({ Effect: 'Allow', Action: action, Resource: team.arn }) }],
        }),
      ],
      policies: [team],
    });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(grants(f)).toEqual([expect.objectContaining({ class: 'escalation', action, resource: team.arn })]);
  });

  it('CreatePolicyVersion on a customer managed policy that does not reach it is no escalation (PASS)', () => {
    const other = managed('Other', doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }));
    const f = first({
      users: [inlineUser('eve', { Effect: 'Allow', Action: 'iam:CreatePolicyVersion', Resource: other.arn })],
      policies: [other],
    });
    expect(f.status).toBe('PASS');
  });

  it('AddUserToGroup of itself to a group with full access', () => {
    const admins = group('admins', { attachedPolicies: [{ name: 'AdministratorAccess', arn: ADMIN_ARN }] });
    const f = first({
      users: [inlineUser('eve', { Effect: 'Allow', Action: 'iam:AddUserToGroup', Resource: admins.arn })],
      groups: [admins],
    });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain(`iam:AddUserToGroup on ${admins.arn} (adds itself to group admins, which has full access)`);
    expect(routes(f)).toEqual([`iam:AddUserToGroup on ${admins.arn}`]);
  });

  it('AddUserToGroup to a group without full access is no escalation (PASS)', () => {
    const readers = group('readers', {
      inlinePolicies: [{ name: 'Read', document: doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }) }],
    });
    const f = first({
      users: [inlineUser('eve', { Effect: 'Allow', Action: 'iam:AddUserToGroup', Resource: readers.arn })],
      groups: [readers],
    });
    expect(f.status).toBe('PASS');
  });

  it.each(['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateLoginProfile'])(
    '%s on another user who has full access',
    (action) => {
      const findings = evaluate({
        users: [inlineUser('eve', { Effect: 'Allow', Action: action, Resource: `arn:aws:iam::${ACCOUNT}:user/*` }), user('boss', admin)],
      });
      const f = findings[0]!;
      expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
      expect(f.title).toContain(`${action} on ${userArn('boss')} (takes over user boss, who has full access)`);
      expect(routes(f)).toEqual([`${action} on ${userArn('boss')}`]);
      expect(findings[1]).toMatchObject({ status: 'FAIL', severity: 'critical' });
    },
  );

  it('CreateAccessKey on a user without full access is no escalation (PASS)', () => {
    const f = first({
      users: [inlineUser('eve', { Effect: 'Allow', Action: 'iam:CreateAccessKey', Resource: userArn('bob') }), user('bob')],
    });
    expect(f.status).toBe('PASS');
  });

  it('an escalation allowed only under a Condition is one severity lower (medium), with the condition', () => {
    const f = first({
      users: [
        inlineUser('eve', { Effect: 'Allow', Action: 'iam:UpdateLoginProfile', Resource: userArn('boss'), Condition: MFA }),
        user('boss', admin),
      ],
    });
    expect(f).toMatchObject({ status: 'FAIL', severity: 'medium' });
    expect(grants(f)[0]).toMatchObject({ class: 'escalation', conditional: true, severity: 'medium' });
    expect(grants(f)[0]!.paths).toEqual([expect.objectContaining({ conditional: true, condition: MFA })]);
  });
});

describe('effective access: documents IAM would refuse are unreadable (ERROR, never PASS)', () => {
  it.each([
    [
      'an unknown element Condtion',
      { Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condtion: MFA },
      'unknown element "Condtion" (IAM refuses the document)',
    ],
    [
      'Principal in an identity policy',
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' },
      'Principal is not allowed in an identity policy',
    ],
    [
      'NotPrincipal in an identity policy',
      { Effect: 'Deny', NotPrincipal: { AWS: '*' }, Action: '*', Resource: '*' },
      'NotPrincipal is not allowed in an identity policy',
    ],
    ['both Action and NotAction', { Effect: 'Allow', Action: 's3:*', NotAction: 'iam:*', Resource: '*' }, 'has both Action and NotAction'],
    ['neither Resource nor NotResource', { Effect: 'Allow', Action: 's3:*' }, 'has neither Resource nor NotResource'],
  ])('%s', (_label, statement, reason) => {
    // Beside a full grant too: the refused document might hold the Deny that removes it.
    const f = one(allowAll, statement);
    expect(f).toMatchObject({ status: 'ERROR', severity: 'critical' });
    expect(f.title).toContain('inline policy Inline on user alice cannot be read (statement 1: ');
    expect(f.title).toContain(reason);
  });

  it('a bad Version', () => {
    const f = first({
      users: [
        user('alice', {
          inlinePolicies: [{ name: 'V', document: { ok: true, document: { Version: '2012-10-18', Statement: [allowAll] } } }],
        }),
      ],
    });
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('Version must be "2012-10-17" or "2008-10-17", got "2012-10-18"');
  });

  it('a permissions boundary with a Principal is unreadable too, with the readable grant as a partial result', () => {
    const boundary = managed('B', doc({ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' }));
    const f = capped(boundary);
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain(`permissions boundary B (${boundary.arn}) cannot be read`);
    expect(f.details.readableGrants).toEqual([expect.objectContaining({ class: 'full-access' })]);
  });
});

describe('effective access: escalation through principals that are not fully known', () => {
  // A target is judged on its readable policies: an unreadable one could only take access away
  // (SPEC 3.3: unreadable input is never PASS, for the caller either).
  it('CreateAccessKey on an administrator whose other policy is unreadable is not PASS', () => {
    const findings = evaluate({
      users: [
        inlineUser('eve', { Effect: 'Allow', Action: 'iam:CreateAccessKey', Resource: userArn('boss') }),
        user('boss', { ...admin, inlinePolicies: [{ name: 'Broken', document: { ok: false, error: 'bad' } }] }),
      ],
    });
    expect(findings[1]!.status).toBe('ERROR');
    expect(findings[0]!.status).not.toBe('PASS');
  });

  // The same for groups.
  it('AddUserToGroup into an administrators group with an unreadable policy is not PASS', () => {
    const admins = group('admins', { ...admin, inlinePolicies: [{ name: 'Broken', document: { ok: false, error: 'bad' } }] });
    const f = first({
      users: [inlineUser('eve', { Effect: 'Allow', Action: 'iam:AddUserToGroup', Resource: admins.arn })],
      groups: [admins],
    });
    expect(f.status).not.toBe('PASS');
  });

  // A target that can remove its own boundary has full access (its own finding is FAIL critical),
  // so CreateAccessKey on it is a takeover of "another user who has full access" (SPEC 3.3).
  it('CreateAccessKey on an administrator whose boundary it can escape is a takeover (FAIL high)', () => {
    const leaky = managed('Leaky', doc({ Effect: 'Allow', Action: ['s3:*', 'iam:DeleteUserPermissionsBoundary'], Resource: '*' }));
    const findings = evaluate({
      users: [
        inlineUser('eve', { Effect: 'Allow', Action: 'iam:CreateAccessKey', Resource: userArn('boss') }),
        user('boss', { ...admin, permissionsBoundary: { arn: leaky.arn, type: 'Policy' } }),
      ],
      policies: [leaky],
    });
    expect(findings[1]).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(findings[0]).toMatchObject({ status: 'FAIL', severity: 'high' });
  });
});

describe('effective access: takeover of a user with all actions but a few', () => {
  it('CreateAccessKey on a user allowed everything but CloudTrail is FAIL high, not PASS', () => {
    const findings = evaluate({
      users: [
        inlineUser('eve', { Effect: 'Allow', Action: 'iam:CreateAccessKey', Resource: userArn('boss') }),
        inlineUser('boss', { Effect: 'Allow', NotAction: 'cloudtrail:*', Resource: '*' }),
      ],
    });
    expect(findings[0]).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(findings[0]!.title).toContain(`iam:CreateAccessKey on ${userArn('boss')}`);
  });
});
