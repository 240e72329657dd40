/**
 * lib/policy/effective.ts on its own: action sets over the catalogue, point decisions, layers
 * and the access classes, for principals built directly from statements.
 */
import { describe, expect, it } from 'vitest';
import { ActionSet, catalogue } from '#lib/policy/catalogue.ts';
import { EffectiveAccess, summarize, type PrincipalPolicies, type SourcedStatement } from '#lib/policy/effective.ts';
import { normalizeStatements } from '#lib/policy/statements.ts';
import { ACCOUNT } from '#test/account.ts';

const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const STRICT = { conditional: false, boundary: true, guardrails: true } as const;
const LOOSE = { conditional: true, boundary: true, guardrails: true } as const;
const MFA = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };

function sourced(via: string, ...statements: unknown[]): SourcedStatement[] {
  const read = normalizeStatements({ Version: '2012-10-17', Statement: statements }, 'identity');
  if (!read.ok) throw new Error(read.error);
  return read.statements.map((statement) => ({ origin: { policy: 'P', via, path: `via ${via}` }, statement }));
}

function access(identity: unknown[], boundary?: unknown[]): EffectiveAccess {
  const principal: PrincipalPolicies = {
    arn: ALICE,
    variables: { username: 'alice', userid: 'AIDAALICE' },
    identity: sourced('user', ...identity),
    ...(boundary ? { boundary: { arn: `arn:aws:iam::${ACCOUNT}:policy/B`, name: 'B', statements: sourced('boundary', ...boundary) } } : {}),
  };
  return new EffectiveAccess(principal, 'aws');
}

const cat = catalogue();
const noResource = cat.templatesOf.filter((t) => t.length === 0).length;

describe('the catalogue effective access is decided over', () => {
  it('holds over 20,000 actions, about a third of them authorized against * only', () => {
    expect(cat.size).toBeGreaterThan(20_000);
    expect(noResource).toBeGreaterThan(cat.size / 5);
    expect(noResource).toBeLessThan(cat.size / 2);
  });
});

describe('EffectiveAccess', () => {
  it('Allow * on * is full access; on arn:* it misses exactly the actions that take no resource', () => {
    expect(access([{ Effect: 'Allow', Action: '*', Resource: '*' }]).isFull(STRICT)).toBe(true);
    const arn = access([{ Effect: 'Allow', Action: '*', Resource: 'arn:*' }]);
    expect(arn.isFull(STRICT)).toBe(false);
    expect(arn.everywhere(STRICT).count()).toBe(cat.size - noResource);
    expect(arn.decide('sts:GetCallerIdentity', '*')).toBe('implicit');
    expect(arn.decide('iam:PutUserPolicy', ALICE)).toBe('allow');
    expect(arn.classes(STRICT)).toEqual([
      expect.objectContaining({ kind: 'on-resources', resources: [expect.objectContaining({ resource: 'arn:*' })] }),
    ]);
  });

  it('Denies add up, and a conditional Deny removes nothing', () => {
    const split = access([
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', NotAction: 'iam:*', Resource: '*' },
      { Effect: 'Deny', Action: 'iam:*', Resource: '*' },
    ]);
    expect(split.everywhere(STRICT).isEmpty()).toBe(true);
    expect(split.classes(LOOSE)).toEqual([]);
    const conditional = access([
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: '*', Resource: '*', Condition: MFA },
    ]);
    expect(conditional.isFull(STRICT)).toBe(true);
    expect(conditional.effectiveDenies(LOOSE)).toEqual([]);
  });

  it('a conditional Allow counts in the conditional view only, and decides "conditional"', () => {
    const ea = access([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: MFA }]);
    expect(ea.isFull(STRICT)).toBe(false);
    expect(ea.isFull(LOOSE)).toBe(true);
    expect(ea.decide('s3:GetObject', 'arn:aws:s3:::b/k')).toBe('conditional');
  });

  it('the boundary intersects, and its Denies count; the uncapped view ignores it', () => {
    const ea = access(
      [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      [
        { Effect: 'Allow', Action: '*', Resource: '*' },
        { Effect: 'Deny', Action: 'iam:*', Resource: '*' },
      ],
    );
    expect(ea.isFull({ ...STRICT, boundary: false })).toBe(true);
    expect(ea.isFull(STRICT)).toBe(false);
    expect(ea.decide('iam:PutUserPolicy', ALICE)).toBe('denied');
    expect(ea.decide('iam:PutUserPolicy', ALICE, { boundary: false, guardrails: true })).toBe('allow');
    const [all] = ea.classes(STRICT);
    expect(all).toMatchObject({ kind: 'all-except', excluded: { items: ['iam:*'], more: 0 } });
    const capped = access([{ Effect: 'Allow', Action: '*', Resource: '*' }], [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);
    expect(capped.decide('ec2:RunInstances', '*')).toBe('implicit');
    expect(capped.classes(STRICT)).toEqual([]);
  });

  it('NotAction on the own user ARN is all actions there; Allow NotAction "*" and Allow * NotResource * allow nothing', () => {
    const self = access([{ Effect: 'Allow', NotAction: 's3:*', Resource: ALICE }]);
    expect(self.decide('iam:PutUserPolicy', ALICE)).toBe('allow');
    expect(self.classes(STRICT)).toEqual([
      expect.objectContaining({ kind: 'on-resources', resources: [expect.objectContaining({ resource: ALICE })] }),
    ]);
    for (const nothing of [
      { Effect: 'Allow', NotAction: '*', Resource: '*' },
      { Effect: 'Allow', Action: '*', NotResource: '*' },
      { Effect: 'Allow', Action: '*', Resource: 'arn:aws-cn:*' },
    ]) {
      const ea = access([nothing]);
      expect(ea.everywhere(LOOSE).isEmpty(), JSON.stringify(nothing)).toBe(true);
      expect(ea.classes(LOOSE), JSON.stringify(nothing)).toEqual([]);
    }
  });

  // The resource `*` the actions without resource types are authorized against: only a pattern of
  // `*` alone certainly matches it. `?` matches the one-character string `*` by wildcard, and a Deny
  // on `?` was read as removing every such action (with `arn:*` beside it, a Deny of everything).
  it('a Deny reaches the actions that take no resource only with a pattern of * alone; an Allow with any pattern that may match it', () => {
    const allowAll = { Effect: 'Allow', Action: '*', Resource: '*' };
    const q = access([allowAll, { Effect: 'Deny', Action: '*', Resource: '?' }]);
    expect(q.isFull(STRICT)).toBe(true);
    expect(q.decide('sts:GetCallerIdentity', '*')).toBe('allow');
    expect(q.classes(STRICT)).toEqual([expect.objectContaining({ kind: 'full' })]);
    // `?*` and `*?*` match every ARN, and the resource `*` only by wildcard: what remains is exactly it.
    for (const pattern of ['?*', '*?*']) {
      const ea = access([allowAll, { Effect: 'Deny', Action: '*', Resource: pattern }]);
      expect(ea.decide('iam:PutUserPolicy', ALICE), pattern).toBe('denied');
      expect(ea.decide('sts:GetCallerIdentity', '*'), pattern).toBe('allow');
      expect(ea.everywhere(STRICT).count(), pattern).toBe(noResource);
      expect(ea.classes(STRICT), pattern).toEqual([
        expect.objectContaining({ kind: 'on-resources', resources: [expect.objectContaining({ resource: '*' })] }),
      ]);
    }
    const stars = access([allowAll, { Effect: 'Deny', Action: '*', Resource: '**' }]);
    expect(stars.everywhere(STRICT).isEmpty()).toBe(true);
    expect(stars.decide('sts:GetCallerIdentity', '*')).toBe('denied');
    // A Deny NotResource `?` may spare the resource `*`: it removes nothing there.
    const spared = access([allowAll, { Effect: 'Deny', Action: '*', NotResource: '?' }]);
    expect(spared.decide('sts:GetCallerIdentity', '*')).toBe('allow');
    expect(spared.decide('iam:PutUserPolicy', ALICE)).toBe('denied');
    // An Allow on `?` may reach them, and an Allow NotResource `?` may not leave them out.
    expect(access([{ Effect: 'Allow', Action: '*', Resource: '?' }]).decide('sts:GetCallerIdentity', '*')).toBe('allow');
    expect(access([{ Effect: 'Allow', Action: '*', NotResource: '?' }]).isFull(STRICT)).toBe(true);
    expect(access([{ Effect: 'Allow', Action: '*', NotResource: '?' }]).decide('sts:GetCallerIdentity', '*')).toBe('allow');
  });

  it('policy variables are resolved for the principal', () => {
    const ea = access([{ Effect: 'Allow', Action: 'iam:PutUserPolicy', Resource: `arn:aws:iam::${ACCOUNT}:user/\${aws:username}` }]);
    expect(ea.decide('iam:PutUserPolicy', ALICE)).toBe('allow');
    expect(ea.decide('iam:PutUserPolicy', `arn:aws:iam::${ACCOUNT}:user/bob`)).toBe('implicit');
  });
});

describe('summarize', () => {
  it('names whole services as service:*, a few actions by name, and counts the rest', () => {
    const set = new ActionSet(cat.size);
    const iam = cat.services.indexOf('iam');
    const [start, end] = cat.serviceRange[iam]!;
    set.addRange(start, end);
    set.add(cat.indexOf.get('s3:getobject')!);
    expect(summarize(set)).toEqual({ items: ['iam:*', 's3:GetObject'], more: 0, actions: end - start + 1, services: 2 });
    expect(summarize(ActionSet.all(cat.size), 3)).toMatchObject({ more: cat.services.length - 3, services: cat.services.length });
  });
});

describe('guardrail levels', () => {
  const withLevels = (identity: unknown[], levels: unknown[][], boundary?: unknown[]) => {
    const base = access(identity, boundary).principal;
    return new EffectiveAccess(
      { ...base, guardrails: levels.map((statements, i) => ({ name: `level ${i}`, statements: sourced('guardrail', ...statements) })) },
      'aws',
    );
  };
  const FULL = { Effect: 'Allow', Action: '*', Resource: '*' };

  it('what each level takes away: the actions its Allows leave out, or its Denies reach', () => {
    const ea = withLevels(
      [FULL],
      [[FULL], [FULL, { Effect: 'Deny', Action: 'iam:*', Resource: '*' }], [{ Effect: 'Allow', Action: ['s3:*', 'iam:*'], Resource: '*' }]],
    );
    const effects = ea.guardrailEffects(LOOSE);
    expect(effects.map((e) => [e.level, e.allows.length, e.denies.length])).toEqual([
      ['level 1', 0, 1],
      ['level 2', 1, 0],
    ]);
    expect(effects[0]!.removed.items).toEqual(['iam:*']);
    expect(effects[1]!.kept.items).toEqual(['iam:*', 's3:*']);
    expect(ea.everywhere(LOOSE).equals(summarizeSet(['s3:']))).toBe(true);
    expect(ea.guardrailEffects({ ...LOOSE, guardrails: false })).toEqual([]);
  });

  it('the SCPs alone leave a FAIL class unless they allow little', () => {
    expect(withLevels([], [[FULL], [FULL, { Effect: 'Deny', Action: 'ec2:*', Resource: '*' }]]).guardrailsLeaveFailClass()).toBe(true);
    expect(withLevels([], [[FULL], [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }]]).guardrailsLeaveFailClass()).toBe(false);
    expect(access([]).guardrailsLeaveFailClass()).toBe(true);
  });

  it('a level that allows everything everywhere narrows nothing, whatever resources it also names', () => {
    const bucket = 'arn:aws:s3:::bucket/*';
    // Within a boundary of s3:*, a level that also names a bucket adds no "all actions on" it.
    const plain = access([FULL], [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);
    const named = withLevels(
      [FULL],
      [[FULL], [{ Effect: 'Allow', Action: '*', Resource: [bucket, '*'] }]],
      [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
    );
    expect(named.classes(LOOSE)).toEqual(plain.classes(LOOSE));
    // A level that allows everything only on the bucket narrows a wide grant to it.
    const narrow = withLevels([FULL], [[FULL], [{ Effect: 'Allow', Action: '*', Resource: bucket }]]);
    expect(narrow.classes(LOOSE).map((c) => (c.kind === 'on-resources' ? c.resources.map((r) => r.resource) : c.kind))).toEqual([[bucket]]);
  });
});

/** The set of every catalogue action whose name starts with one of the prefixes. */
function summarizeSet(prefixes: string[]): ActionSet {
  const set = new ActionSet(cat.size);
  cat.actions.forEach((a, i) => {
    if (prefixes.some((p) => a.startsWith(p))) set.add(i);
  });
  return set;
}

describe('effective access across many accounts', () => {
  /** Alice in `account`, allowed to pass her account's deploy role and to read a bucket. */
  const inAccount = (account: string): EffectiveAccess =>
    new EffectiveAccess(
      {
        arn: `arn:aws:iam::${account}:user/alice`,
        variables: { username: 'alice', userid: 'AIDAALICE' },
        identity: sourced(
          'user',
          { Effect: 'Allow', Action: 'iam:PassRole', Resource: `arn:aws:iam::${account}:role/deploy` },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::logs', 'arn:aws:s3:::logs/*'] },
        ),
      },
      'aws',
    );
  const answers = (account: string) => {
    const a = inAccount(account);
    return {
      classes: a.classes(STRICT),
      everywhere: [...a.everywhere(STRICT).indexes()],
      passRole: a.decide('iam:PassRole', `arn:aws:iam::${account}:role/deploy`),
      otherRole: a.decide('iam:PassRole', `arn:aws:iam::${account}:role/admin`),
    };
  };

  it('an account decided again after a hundred others (its caches gone, filled again) gets the same answers', () => {
    const first = answers(ACCOUNT);
    expect(first.passRole).toBe('allow');
    expect(first.otherRole).toBe('implicit');
    for (let i = 0; i < 100; i++) answers(String(300_000_000_000 + i));
    expect(answers(ACCOUNT)).toEqual(first);
  });
});
