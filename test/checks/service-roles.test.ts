import { describe, expect, it } from 'vitest';
import { elastiCacheServiceLinkedRole } from '#test/checks.ts';
import { trustsDax } from '#lib/checks/services/dax-service-role.ts';
import { daxServiceRole } from '#test/checks.ts';
import { ACCOUNT, denied, inventory, region, role, settings, trustFor } from '#test/build-inventory.ts';

const ecPath = '/aws-service-role/elasticache.amazonaws.com/';
const withClusters = region('us-east-1', {
  elastiCache: {
    state: 'read',
    data: {
      cacheClusters: [{ id: 'sessions-001', arn: null, engine: 'redis', status: 'available', replicationGroupId: 'sessions' }],
      replicationGroups: [{ id: 'sessions', arn: null, status: 'available' }],
    },
  },
});

describe('elasticache-service-linked-role', () => {
  const only = (inv: ReturnType<typeof inventory>) => {
    const findings = elastiCacheServiceLinkedRole.evaluate(inv, settings());
    expect(findings).toHaveLength(1);
    expect(findings[0]!.resource).toBe(`arn:aws:iam::${ACCOUNT}:role${ecPath}AWSServiceRoleForElastiCache`);
    return findings[0]!;
  };

  it('PASS when a role exists under the service path, even with a name suffix', () => {
    const f = only(inventory({ auth: { roles: [role('AWSServiceRoleForElastiCache_2', { path: ecPath })] }, regions: [withClusters] }));
    expect(f.status).toBe('PASS');
    expect(f.title).toContain('AWSServiceRoleForElastiCache_2');
  });

  it('a role with the right name but another path does not count', () => {
    const f = only(inventory({ auth: { roles: [role('AWSServiceRoleForElastiCache')] }, regions: [withClusters] }));
    expect(f.status).toBe('FAIL');
  });

  it('missing with clusters: FAIL high, naming the region', () => {
    const f = only(inventory({ regions: [region('eu-west-1'), withClusters] }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain('us-east-1');
  });

  it('missing without clusters: WARN low with the create command', () => {
    const f = only(inventory({ regions: [region('us-east-1'), region('eu-west-1')] }));
    expect(f).toMatchObject({ status: 'WARN', severity: 'low' });
    expect(f.details.command).toBe('aws iam create-service-linked-role --aws-service-name elasticache.amazonaws.com');
  });

  it('missing, and a region could not be listed: ERROR (cannot tell FAIL from WARN)', () => {
    const f = only(inventory({ regions: [region('us-east-1', { elastiCache: denied('elasticache:DescribeCacheClusters') })] }));
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('elasticache:DescribeCacheClusters in us-east-1');
  });

  it('missing, with clusters in a readable region: FAIL even if another region failed', () => {
    const f = only(
      inventory({ regions: [withClusters, region('eu-west-1', { elastiCache: denied('elasticache:DescribeCacheClusters') })] }),
    );
    expect(f.status).toBe('FAIL');
  });

  it('ERROR when the roles could not be read', () => {
    const f = only(inventory({ authorizationDetails: denied('iam:GetAccountAuthorizationDetails') }));
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('iam:GetAccountAuthorizationDetails');
  });
});

describe('dax-service-role', () => {
  const daxRegion = (name: string, clusters: { name: string; iamRoleArn: string | null }[]) =>
    region(name, {
      dax: {
        state: 'read',
        data: {
          available: true,
          clusters: clusters.map((c) => ({ ...c, arn: `arn:aws:dax:${name}:${ACCOUNT}:cache/${c.name}`, status: 'available' })),
        },
      },
    });
  const daxRole = role('CacheReader', {
    path: '/service-role/',
    trust: trustFor('dax.amazonaws.com'),
    inlinePolicies: [
      {
        name: 'dynamo',
        document: { ok: true, document: { Statement: [{ Effect: 'Allow', Action: ['dynamodb:GetItem', 's3:GetObject'], Resource: '*' }] } },
      },
    ],
  });
  const evaluate = (inv: ReturnType<typeof inventory>) => new Map(daxServiceRole.evaluate(inv, settings()).map((f) => [f.resource, f]));
  const accountLevel = `arn:aws:iam::${ACCOUNT}:role/*`;

  it('finds the role by its trust policy, whatever its name, and lists its DynamoDB permissions', () => {
    const f = evaluate(
      inventory({ auth: { roles: [daxRole] }, regions: [daxRegion('us-east-1', [{ name: 'orders', iamRoleArn: daxRole.arn }])] }),
    );
    expect(f.get(accountLevel)).toMatchObject({ status: 'PASS' });
    const cluster = f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/orders`)!;
    expect(cluster.status).toBe('PASS');
    expect(cluster.details.dynamodbPermissions).toEqual([{ policy: 'dynamo (inline)', actions: ['dynamodb:GetItem'], resources: ['*'] }]);
  });

  it('the DAX service-linked role trusts dax.amazonaws.com but is not a service role', () => {
    const slr = role('AWSServiceRoleForDAX', { path: '/aws-service-role/dax.amazonaws.com/', trust: trustFor('dax.amazonaws.com') });
    const f = evaluate(
      inventory({
        auth: { roles: [slr] },
        regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/Gone` }])],
      }),
    );
    expect(f.get(accountLevel)).toMatchObject({ status: 'FAIL' });
    expect(f.get(accountLevel)!.details.serviceLinkedRole).toEqual([slr.arn]);
  });

  it('a cluster whose role was deleted: FAIL high', () => {
    const f = evaluate(
      inventory({
        auth: { roles: [daxRole] },
        regions: [daxRegion('eu-west-1', [{ name: 'legacy', iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/DeletedDaxRole` }])],
      }),
    );
    const cluster = f.get(`arn:aws:dax:eu-west-1:${ACCOUNT}:cache/legacy`)!;
    expect(cluster).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(cluster.title).toContain('does not exist');
    expect(f.get(accountLevel)?.status).toBe('PASS');
  });

  it('a cluster whose role does not trust dax.amazonaws.com: FAIL high', () => {
    const ec2Role = role('NotForDax', { trust: trustFor('ec2.amazonaws.com') });
    const f = evaluate(
      inventory({ auth: { roles: [daxRole, ec2Role] }, regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: ec2Role.arn }])] }),
    );
    expect(f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)).toMatchObject({ status: 'FAIL' });
  });

  it('no role trusts DAX and clusters exist: account-level FAIL high', () => {
    const f = evaluate(inventory({ regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/Gone` }])] }));
    expect(f.get(accountLevel)).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('no role trusts DAX and no clusters: WARN low', () => {
    const f = evaluate(inventory({ regions: [daxRegion('us-east-1', [])] }));
    expect(f.get(accountLevel)).toMatchObject({ status: 'WARN', severity: 'low' });
  });

  it('a region without DAX counts as no clusters, not an error', () => {
    const f = evaluate(
      inventory({
        regions: [region('ap-east-2', { dax: { state: 'read', data: { available: false, reason: 'DAX is not offered here' } } })],
      }),
    );
    expect(f.get(accountLevel)?.status).toBe('WARN');
    expect([...f.values()].every((x) => x.status !== 'ERROR')).toBe(true);
  });

  it('DAX clusters could not be listed: ERROR for that region, and no WARN on a guess', () => {
    const f = evaluate(inventory({ regions: [region('us-east-1', { dax: denied('dax:DescribeClusters') })] }));
    expect(f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/*`)).toMatchObject({ status: 'ERROR' });
    expect(f.get(accountLevel)?.status).toBe('ERROR');
  });

  it('roles unreadable: ERROR at account level and for each known cluster', () => {
    const f = evaluate(
      inventory({
        authorizationDetails: denied('iam:GetAccountAuthorizationDetails'),
        regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: daxRole.arn }])],
      }),
    );
    expect(f.get(accountLevel)?.status).toBe('ERROR');
    expect(f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)?.status).toBe('ERROR');
  });

  it('an unreadable trust policy is never taken for "no DAX role"', () => {
    const broken = role('Mystery', { trustPolicy: { ok: false, error: 'the policy document is not valid JSON' } });
    const f = evaluate(
      inventory({ auth: { roles: [broken] }, regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: broken.arn }])] }),
    );
    expect(f.get(accountLevel)?.status).toBe('ERROR');
    expect(f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)?.status).toBe('ERROR');
  });

  it('trust detection accepts a list of services and any case, and rejects other services', () => {
    const doc = (principal: unknown, action: unknown = 'sts:AssumeRole') => ({
      ok: true as const,
      document: { Statement: { Effect: 'Allow', Principal: principal, Action: action } },
    });
    expect(trustsDax(doc({ Service: ['ec2.amazonaws.com', 'DAX.amazonaws.com'] }))).toEqual({ trusts: true });
    expect(trustsDax(doc({ Service: 'dax.amazonaws.com' }, ['sts:TagSession']))).toEqual({ trusts: false });
    expect(trustsDax(doc({ AWS: `arn:aws:iam::${ACCOUNT}:root` }))).toEqual({ trusts: false });
  });

  it('regression (property test): a trust policy IAM would refuse (Effect "allow") is unreadable, not trust: ERROR', () => {
    const lowercase = role('Lowercase', {
      trust: { Statement: { Effect: 'allow', Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:AssumeRole' } },
    });
    expect(trustsDax(lowercase.trustPolicy)).toEqual({
      error: 'statement 0: Effect must be "Allow" or "Deny" (case-sensitive), got "allow"',
    });
    const f = evaluate(
      inventory({ auth: { roles: [lowercase] }, regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: lowercase.arn }])] }),
    );
    expect(f.get(accountLevel)?.status).toBe('ERROR');
    expect(f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)?.status).toBe('ERROR');
  });

  describe('Deny statements in the trust policy', () => {
    const allowDax = { Effect: 'Allow', Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:AssumeRole' };
    const trustDoc = (...statements: unknown[]) => ({ ok: true as const, document: { Version: '2012-10-17', Statement: statements } });

    it.each<[string, Record<string, unknown>]>([
      ['Service dax.amazonaws.com, sts:AssumeRole', { Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      ['a Service list naming DAX, sts:*', { Principal: { Service: ['ec2.amazonaws.com', 'dax.amazonaws.com'] }, Action: 'sts:*' }],
      ['Principal "*", Action "*"', { Principal: '*', Action: '*' }],
      ['Principal {"AWS": "*"}, Action in any case', { Principal: { AWS: '*' }, Action: ['sts:TagSession', 'STS:AssumeRole'] }],
      ['a Service wildcard, NotAction leaving AssumeRole in', { Principal: { Service: '*.amazonaws.com' }, NotAction: 'sts:TagSession' }],
    ])('an unconditional Deny (%s) overrides the Allow', (_label, deny) => {
      expect(trustsDax(trustDoc(allowDax, { Sid: 'NoDax', Effect: 'Deny', ...deny }))).toEqual({ trusts: false, deniedBy: 'Sid NoDax' });
    });

    it.each<[string, Record<string, unknown>]>([
      ['another service', { Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      ['an account principal', { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: '*' }],
      ['another action', { Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:TagSession' }],
      ['a NotAction excluding AssumeRole', { Principal: '*', NotAction: 'sts:AssumeRole' }],
    ])('a Deny that does not reach DAX assuming the role (%s) leaves the trust', (_label, deny) => {
      expect(trustsDax(trustDoc(allowDax, { Effect: 'Deny', ...deny }))).toEqual({ trusts: true });
    });

    it('a conditional Deny keeps the trust, and is named', () => {
      const deny = {
        Sid: 'OnlyFromOrg',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sts:AssumeRole',
        Condition: { StringNotEquals: { 'aws:SourceAccount': ACCOUNT } },
      };
      expect(trustsDax(trustDoc(allowDax, deny))).toEqual({ trusts: true, conditionalDenies: ['Sid OnlyFromOrg'] });
    });

    it('a Deny without any Allow is still no trust', () => {
      expect(trustsDax(trustDoc({ Effect: 'Deny', Principal: '*', Action: '*' }))).toEqual({ trusts: false });
    });

    it('a cluster whose role trusts DAX but denies it unconditionally: FAIL high, naming the Deny; no role counted', () => {
      const denied = role('DeniedDax', {
        trust: {
          Statement: [allowDax, { Sid: 'Lockout', Effect: 'Deny', Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
      });
      const f = evaluate(
        inventory({ auth: { roles: [denied] }, regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: denied.arn }])] }),
      );
      const cluster = f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)!;
      expect(cluster).toMatchObject({ status: 'FAIL', severity: 'high' });
      expect(cluster.title).toBe(
        `DAX cluster c1 (us-east-1) uses DeniedDax, which does not trust dax.amazonaws.com (its trust policy denies it: Sid Lockout)`,
      );
      expect(cluster.details.trustDeniedBy).toBe('Sid Lockout');
      const account = f.get(accountLevel)!;
      expect(account).toMatchObject({ status: 'FAIL', severity: 'high' });
      expect(account.details.rolesTrustingDax).toEqual([]);
      expect(account.details.trustDeniedRoles).toEqual([{ role: denied.arn, deniedBy: 'Sid Lockout' }]);
    });

    it('a cluster whose role has only a conditional Deny: PASS, with the Deny noted', () => {
      const guarded = role('GuardedDax', {
        trust: {
          Statement: [
            allowDax,
            { Sid: 'SourceOnly', Effect: 'Deny', Principal: '*', Action: 'sts:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          ],
        },
      });
      const f = evaluate(
        inventory({ auth: { roles: [guarded] }, regions: [daxRegion('us-east-1', [{ name: 'c1', iamRoleArn: guarded.arn }])] }),
      );
      const cluster = f.get(`arn:aws:dax:us-east-1:${ACCOUNT}:cache/c1`)!;
      expect(cluster.status).toBe('PASS');
      expect(cluster.details.conditionalTrustDenies).toEqual(['Sid SourceOnly']);
      expect(f.get(accountLevel)?.status).toBe('PASS');
    });
  });

  it('excludes roles under the service-linked path by path, not by name', () => {
    // Any name under /aws-service-role/ is excluded; a role merely named like the SLR is not.
    const slr = role('AWSServiceRoleForDAX', { path: '/aws-service-role/dax.amazonaws.com/', trust: trustFor('dax.amazonaws.com') });
    const slrRenamed = role('SomethingElse', { path: '/aws-service-role/dax.amazonaws.com/', trust: trustFor('dax.amazonaws.com') });
    const lookalike = role('AWSServiceRoleForDAX', { path: '/service-role/', trust: trustFor('dax.amazonaws.com') });

    const onlySlr = evaluate(inventory({ auth: { roles: [slr, slrRenamed] }, regions: [daxRegion('us-east-1', [])] })).get(accountLevel)!;
    expect(onlySlr).toMatchObject({ status: 'WARN', severity: 'low' });
    expect(onlySlr.details.rolesTrustingDax).toEqual([]);
    expect(onlySlr.details.serviceLinkedRole).toEqual([slr.arn, slrRenamed.arn]);

    const withLookalike = evaluate(inventory({ auth: { roles: [slr, lookalike] }, regions: [daxRegion('us-east-1', [])] })).get(
      accountLevel,
    )!;
    expect(withLookalike.status).toBe('PASS');
    expect(withLookalike.title).toBe('1 role(s) trust dax.amazonaws.com: AWSServiceRoleForDAX');
    expect((withLookalike.details.rolesTrustingDax as { arn: string }[]).map((r) => r.arn)).toEqual([lookalike.arn]);
  });
});
