/**
 * The reference evaluator checked on textbook cases of IAM's documented evaluation logic, so
 * that the oracle of the effective-access property is itself tested.
 */
import { describe, expect, it } from 'vitest';
import { ACCOUNT } from '#test/build-inventory.ts';
import { buildCase, doc, inlineOnly, USER, USER_ARN, type PolicySet, type Statement } from './cases.ts';
import { actionMatches, loadCatalogue, referenceDecide, referenceVerdict, resourceMatcher, type FailClass } from './iam-reference.ts';

const allowAll: Statement = { Effect: 'Allow', Action: '*', Resource: '*' };
const verdict = (set: PolicySet) => referenceVerdict(buildCase(set), USER);
const decide = (set: PolicySet, action: string, resource: string) => referenceDecide(buildCase(set), USER, action, resource);
const classes = (set: PolicySet): FailClass[] => verdict(set).witnesses.map((w) => w.class);
const BUCKET_OBJECT = 'arn:aws:s3:::bucket/key';

describe('matching', () => {
  it('actions: case-insensitive, * and ? wildcards, * and *:* alike', () => {
    expect(actionMatches('IAM:putuserpolicy', 'iam:PutUserPolicy'.toLowerCase())).toBe(true);
    expect(actionMatches('s3:Get*', 's3:getobject')).toBe(true);
    expect(actionMatches('s3:Get*', 's3:putobject')).toBe(false);
    expect(actionMatches('iam:?utUserPolicy', 'iam:putuserpolicy')).toBe(true);
    expect(actionMatches('*:*', 'ec2:describeinstances')).toBe(true);
    expect(actionMatches('*', 'ec2:describeinstances')).toBe(true);
  });

  it('resources: case-sensitive, * spans : and /, variables resolved', () => {
    const vars = { 'aws:username': 'alice' };
    expect(resourceMatcher('arn:*', vars)!.test(BUCKET_OBJECT)).toBe(true);
    expect(resourceMatcher('arn:*', vars)!.test('*')).toBe(false);
    expect(resourceMatcher('arn:aws:*:*:*:*', vars)!.test('arn:aws:s3:::bucket')).toBe(true);
    expect(resourceMatcher('arn:aws:s3:::Bucket/*', vars)!.test(BUCKET_OBJECT)).toBe(false);
    expect(resourceMatcher('arn:aws:iam::*:user/${aws:username}', vars)!.test(USER_ARN)).toBe(true);
    expect(resourceMatcher('arn:aws:iam::*:user/${aws:username}', vars)!.test(`arn:aws:iam::${ACCOUNT}:user/bob`)).toBe(false);
    expect(resourceMatcher('arn:aws:s3:::a${*}b', vars)!.test('arn:aws:s3:::a*b')).toBe(true);
    expect(resourceMatcher('arn:aws:s3:::a${*}b', vars)!.test('arn:aws:s3:::axb')).toBe(false);
    expect(resourceMatcher('arn:aws:s3:::${aws:unknown}', vars)).toBeNull();
  });

  it('the catalogue knows which actions take no resource type', () => {
    const cat = loadCatalogue();
    expect(cat.byId.get('s3:listallmybuckets')!.resourceTemplates).toEqual([]);
    expect(cat.byId.get('ec2:describeinstances')!.resourceTemplates).toEqual([]);
    expect(cat.byId.get('iam:putuserpolicy')!.resourceTemplates).toEqual(['arn:${Partition}:iam::${Account}:user/${UserNameWithPath}']);
  });
});

describe('single requests', () => {
  it('Allow * and Deny *: explicit deny', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: '*' })]);
    expect(decide(set, 'iam:PutUserPolicy', USER_ARN)).toBe('explicit-deny');
    expect(verdict(set).none).toBe(true);
  });

  it('no Allow: implicit deny', () => {
    expect(decide(inlineOnly([]), 's3:GetObject', BUCKET_OBJECT)).toBe('implicit-deny');
  });

  it('Deny * on arn:* leaves the actions that take no resource type allowed', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: 'arn:*' })]);
    expect(decide(set, 's3:ListAllMyBuckets', '*')).toBe('allow');
    expect(decide(set, 'ec2:DescribeInstances', '*')).toBe('allow');
    expect(decide(set, 's3:GetObject', BUCKET_OBJECT)).toBe('explicit-deny');
    expect(decide(set, 'iam:PutUserPolicy', USER_ARN)).toBe('explicit-deny');
    const v = verdict(set);
    expect(v.full).toBe(false);
    expect(v.none).toBe(false);
    expect(classes(set)).toEqual(['all-on-star-but-some']);
  });

  it('Deny NotAction [x] leaves only x', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', NotAction: 's3:GetObject', Resource: '*' })]);
    const v = verdict(set);
    const allowedActions = new Set(v.probes.filter((p, i) => p.kind !== 'anchor' && v.decisions[i] === 'allow').map((p) => p.action));
    expect([...allowedActions]).toEqual(['s3:GetObject']);
    expect(classes(set)).toEqual([]);
  });

  it('Deny * NotResource [r] leaves only r', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::bucket/*' })]);
    expect(decide(set, 's3:GetObject', BUCKET_OBJECT)).toBe('allow');
    expect(decide(set, 's3:ListAllMyBuckets', '*')).toBe('explicit-deny');
    expect(decide(set, 'iam:PutUserPolicy', USER_ARN)).toBe('explicit-deny');
    // Every action on the objects of one bucket: "all actions on <resources>".
    expect(classes(set)).toEqual(['all-actions-on-resource']);
  });

  it('Denies split over statements add up', () => {
    const set = inlineOnly([
      doc(allowAll),
      doc({ Effect: 'Deny', Action: 'iam:*', Resource: '*' }),
      doc({ Effect: 'Deny', NotAction: 'iam:*', Resource: '*' }),
    ]);
    expect(verdict(set).none).toBe(true);
  });

  it('a boundary of Allow NotAction iam:* removes IAM and leaves all but IAM', () => {
    const set = inlineOnly([doc(allowAll)], doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }));
    expect(decide(set, 'iam:PutUserPolicy', USER_ARN)).toBe('implicit-deny');
    expect(decide(set, 's3:GetObject', BUCKET_OBJECT)).toBe('allow');
    const v = verdict(set);
    expect(v.full).toBe(false);
    expect(classes(set)).toContain('all-but-some');
    expect(classes(set)).not.toContain('escalation');
  });

  it("a boundary's own Deny removes what it covers", () => {
    const set = inlineOnly([doc(allowAll)], doc(allowAll, { Effect: 'Deny', Action: 's3:*', Resource: '*' }));
    expect(decide(set, 's3:GetObject', BUCKET_OBJECT)).toBe('explicit-deny');
    expect(decide(set, 'ec2:DescribeInstances', '*')).toBe('allow');
    expect(verdict(set).full).toBe(false);
  });

  it('a boundary grants nothing by itself', () => {
    const set = inlineOnly([], doc(allowAll));
    expect(verdict(set).none).toBe(true);
  });

  it('an Allow under a Condition is conditional; a Deny under a Condition removes nothing', () => {
    const mfa = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    const conditionalAllow = inlineOnly([doc({ ...allowAll, Condition: mfa })]);
    const v = verdict(conditionalAllow);
    expect(v.full).toBe(false);
    expect(v.fullConditional).toBe(true);
    expect(v.witnesses).toContainEqual(expect.objectContaining({ class: 'full', conditional: true }));
    const conditionalDeny = inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: '*', Condition: mfa })]);
    expect(verdict(conditionalDeny).full).toBe(true);
  });

  it('a Condition operator that names no keys: no condition on an Allow, a condition (removes nothing) on a Deny', () => {
    const vacuous = { StringEquals: {} };
    const allow = verdict(inlineOnly([doc({ ...allowAll, Condition: vacuous })]));
    expect(allow.full).toBe(true);
    expect(verdict(inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: '*', Condition: vacuous })])).full).toBe(true);
  });

  it('the resource * of the actions without resource types: a Deny reaches it with * alone, an Allow with any pattern matching it', () => {
    const denyQ = inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: '?' })]);
    expect(decide(denyQ, 's3:ListAllMyBuckets', '*')).toBe('allow');
    expect(decide(inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', Resource: '**' })]), 's3:ListAllMyBuckets', '*')).toBe(
      'explicit-deny',
    );
    expect(decide(inlineOnly([doc(allowAll, { Effect: 'Deny', Action: '*', NotResource: '?' })]), 's3:ListAllMyBuckets', '*')).toBe(
      'allow',
    );
    expect(decide(inlineOnly([doc({ Effect: 'Allow', Action: '*', Resource: '?' })]), 's3:ListAllMyBuckets', '*')).toBe('allow');
    expect(decide(inlineOnly([doc({ Effect: 'Allow', Action: '*', NotResource: '?' })]), 's3:ListAllMyBuckets', '*')).toBe('allow');
  });

  it('grants that allow nothing: NotAction *, NotResource *, another partition only', () => {
    expect(verdict(inlineOnly([doc({ Effect: 'Allow', NotAction: '*', Resource: '*' })])).none).toBe(true);
    expect(verdict(inlineOnly([doc({ Effect: 'Allow', Action: '*', NotResource: '*' })])).none).toBe(true);
    const cn = inlineOnly([doc({ Effect: 'Allow', Action: '*', Resource: 'arn:aws-cn:*' })]);
    const v = verdict(cn);
    expect(v.none).toBe(true);
    // The foreign probes are allowed, and take no part in the verdict.
    expect(v.probes.some((p, i) => p.kind === 'foreign' && v.decisions[i] === 'allow')).toBe(true);
  });

  it('Allow * on arn:* covers every ARN but not the actions authorized against * only', () => {
    const set = inlineOnly([doc({ Effect: 'Allow', Action: '*', Resource: 'arn:*' })]);
    expect(decide(set, 's3:ListAllMyBuckets', '*')).toBe('implicit-deny');
    expect(decide(set, 'iam:PutUserPolicy', USER_ARN)).toBe('allow');
    expect(classes(set)).toEqual(expect.arrayContaining(['all-actions-on-resource', 'escalation']));
  });
});

describe('escalation', () => {
  it('iam:PutUserPolicy on itself, via ${aws:username}', () => {
    const set = inlineOnly([doc({ Effect: 'Allow', Action: 'iam:PutUserPolicy', Resource: 'arn:aws:iam::*:user/${aws:username}' })]);
    expect(verdict(set).witnesses).toEqual([{ class: 'escalation', conditional: false, detail: `iam:PutUserPolicy on ${USER_ARN}` }]);
  });

  it('Allow NotAction s3:* on its own ARN can grant itself anything', () => {
    const set = inlineOnly([doc({ Effect: 'Allow', NotAction: 's3:*', Resource: USER_ARN })]);
    expect(classes(set)).toContain('escalation');
  });

  it('IAMFullAccess alone can make itself an administrator', () => {
    const set: PolicySet = { inline: [], attached: [{ aws: 'IAMFullAccess' }], groups: [] };
    const v = verdict(set);
    expect(v.full).toBe(false);
    expect(v.witnesses.filter((w) => w.class === 'escalation').map((w) => w.detail)).toEqual([`iam:PutUserPolicy on ${USER_ARN}`]);
  });

  it('PutUserPolicy under a boundary that caps it is no escalation', () => {
    const set = inlineOnly(
      [doc({ Effect: 'Allow', Action: 'iam:PutUserPolicy', Resource: USER_ARN })],
      doc({ Effect: 'Allow', Action: ['iam:PutUserPolicy', 's3:*'], Resource: '*' }),
    );
    expect(classes(set)).toEqual([]);
  });

  it('a boundary the user can remove over full identity access', () => {
    const set = inlineOnly([doc(allowAll)], doc({ Effect: 'Allow', Action: ['s3:*', 'iam:DeleteUserPermissionsBoundary'], Resource: '*' }));
    const v = verdict(set);
    expect(v.full).toBe(false);
    expect(v.escapableBoundaryFull).toBe(true);
    expect(v.witnesses).toContainEqual({
      class: 'escalation',
      conditional: false,
      detail: `iam:DeleteUserPermissionsBoundary on ${USER_ARN} (removes the boundary)`,
    });
  });

  // SPEC 3.3 counts SetDefaultPolicyVersion on a customer managed policy that reaches the user, as the
  // check does: another version may hold any document (the boundary's included).
  it('SetDefaultPolicyVersion on a customer managed boundary over full identity access; on an attached customer policy', () => {
    const boundaryArn = `arn:aws:iam::${ACCOUNT}:policy/Boundary`;
    const set = inlineOnly([doc(allowAll)], doc({ Effect: 'Allow', Action: ['s3:*', 'iam:SetDefaultPolicyVersion'], Resource: '*' }));
    const v = verdict(set);
    expect(v.escapableBoundaryFull).toBe(true);
    expect(v.witnesses).toContainEqual({
      class: 'escalation',
      conditional: false,
      detail: `iam:SetDefaultPolicyVersion on ${boundaryArn} (removes the boundary)`,
    });
    const attached: PolicySet = {
      inline: [],
      attached: [{ customer: doc({ Effect: 'Allow', Action: 'iam:SetDefaultPolicyVersion', Resource: '*' }) }],
      groups: [],
    };
    expect(verdict(attached).witnesses).toContainEqual(
      expect.objectContaining({
        class: 'escalation',
        conditional: false,
        detail: expect.stringContaining('iam:SetDefaultPolicyVersion on'),
      }),
    );
  });

  it('PutGroupPolicy on its own group; AddUserToGroup to an administrators group', () => {
    const own: PolicySet = {
      inline: [doc({ Effect: 'Allow', Action: 'iam:PutGroupPolicy', Resource: `arn:aws:iam::${ACCOUNT}:group/*` })],
      attached: [],
      groups: [{ inline: [], attached: [], member: true }],
    };
    expect(classes(own)).toEqual(['escalation']);
    const join: PolicySet = {
      inline: [doc({ Effect: 'Allow', Action: 'iam:AddUserToGroup', Resource: '*' })],
      attached: [],
      groups: [{ inline: [], attached: [{ aws: 'AdministratorAccess' }], member: false }],
    };
    expect(classes(join)).toEqual(['escalation']);
  });

  it('CreatePolicyVersion on an attached customer managed policy', () => {
    const set: PolicySet = {
      inline: [],
      attached: [{ customer: doc({ Effect: 'Allow', Action: 'iam:CreatePolicyVersion', Resource: '*' }) }],
      groups: [],
    };
    expect(verdict(set).witnesses.map((w) => w.detail)).toEqual([
      `iam:CreatePolicyVersion on arn:aws:iam::${ACCOUNT}:policy/Customer0 (replaces its document)`,
    ]);
  });
});

describe('SCPs', () => {
  it('every level must allow, and a Deny at any level removes', () => {
    const inv = buildCase(inlineOnly([doc(allowAll)]));
    const root = [doc(allowAll)];
    expect(referenceVerdict(inv, USER, { scps: [root, [doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' })]] }).full).toBe(false);
    expect(
      referenceDecide(inv, USER, 's3:GetObject', BUCKET_OBJECT, {
        scps: [root, [doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' })]],
      }),
    ).toBe('allow');
    expect(
      referenceDecide(inv, USER, 's3:GetObject', BUCKET_OBJECT, {
        scps: [[doc(allowAll, { Effect: 'Deny', Action: 's3:*', Resource: '*' })]],
      }),
    ).toBe('explicit-deny');
    expect(referenceVerdict(inv, USER, { scps: [root, root] }).full).toBe(true);
  });
});

describe('the verdict', () => {
  it('AdministratorAccess, directly or via a group: full', () => {
    expect(verdict({ inline: [], attached: [{ aws: 'AdministratorAccess' }], groups: [] }).full).toBe(true);
    expect(
      verdict({ inline: [], attached: [], groups: [{ inline: [], attached: [{ aws: 'AdministratorAccess' }], member: true }] }).full,
    ).toBe(true);
    expect(
      verdict({ inline: [], attached: [], groups: [{ inline: [], attached: [{ aws: 'AdministratorAccess' }], member: false }] }).none,
    ).toBe(true);
  });

  it('probes span the catalogue: every service, and thousands of requests', () => {
    const v = verdict(inlineOnly([doc(allowAll)]));
    expect(new Set(v.probes.map((p) => p.service)).size).toBe(loadCatalogue().services.length);
    expect(v.probes.length).toBeGreaterThan(2000);
    expect(v.probes.some((p) => p.kind === 'star')).toBe(true);
    expect(v.probes.some((p) => p.kind === 'foreign')).toBe(true);
    expect(v.probes.some((p) => p.action === 'iam:PutUserPolicy' && p.resource === USER_ARN)).toBe(true);
  });
});

describe('escalation by removing or replacing what caps it', () => {
  it('PutUserPolicy can replace the inline policy that holds the Deny', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', NotAction: 'iam:*', Resource: '*' })]);
    const details = verdict(set)
      .witnesses.filter((w) => w.class === 'escalation')
      .map((w) => w.detail);
    expect(details).toContain(`iam:PutUserPolicy on ${USER_ARN} (replaces inline0)`);
  });

  it('DeleteUserPolicy alone, when the deleted policy holds the only Deny', () => {
    const set = inlineOnly([doc(allowAll), doc({ Effect: 'Deny', NotAction: 'iam:DeleteUserPolicy', Resource: '*' })]);
    expect(verdict(set).witnesses).toEqual([
      { class: 'escalation', conditional: false, detail: `iam:DeleteUserPolicy on ${USER_ARN} (deletes inline1)` },
    ]);
  });

  it('CreatePolicyVersion on a customer managed boundary escapes it', () => {
    const set = inlineOnly([doc(allowAll)], doc({ Effect: 'Allow', Action: 'iam:CreatePolicyVersion', Resource: '*' }));
    const v = verdict(set);
    expect(v.escapableBoundaryFull).toBe(true);
    expect(v.witnesses.map((w) => w.detail)).toContain(
      `iam:CreatePolicyVersion on arn:aws:iam::${ACCOUNT}:policy/Boundary (removes the boundary)`,
    );
  });

  it('a Deny of the call itself leaves no escalation', () => {
    const set = inlineOnly([doc(allowAll, { Effect: 'Deny', NotAction: 's3:*', Resource: '*' })]);
    expect(classes(set)).toEqual([]);
  });
});
