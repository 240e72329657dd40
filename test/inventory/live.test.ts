import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { DescribeCacheClustersCommand, DescribeReplicationGroupsCommand } from '@aws-sdk/client-elasticache';
import { DescribeClustersCommand } from '@aws-sdk/client-dax';
import { collectLive, NO_REGION_REASON } from '#lib/inventory/live.ts';
import { NO_REGION, SKIPPED_REASON } from '#lib/inventory/definition.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import {
  MAX_GENERATE_REPORT_CALLS,
  MAX_REPORT_CALLS,
  REPORT_WAIT_SHARES,
  reportWaitsMs,
} from '#lib/inventory/sources/credential-report/live.ts';
import { KEY_LOOKUP_CONCURRENCY } from '#lib/inventory/sources/access-keys/live.ts';
import { isMissingEndpoint } from '#lib/inventory/sources/dax/live.ts';
import { type LiveRequest, liveOptions } from '#lib/audit/collect.ts';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import { evaluateChecks } from '#lib/audit/run.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import { selectChecks } from '#test/checks.ts';
import { CHECK_INPUTS } from '#test/checks.ts';
import { sources } from '#test/sdk-boundary.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import {
  ADMINISTRATOR_ACCESS,
  cacheCluster,
  credentialReportCsv,
  credentialReportResponse,
  daxCluster,
  daxError,
  daysBefore,
  dnsNotFoundError,
  elastiCacheError,
  FIXTURE_ACCOUNT_ID,
  FIXTURE_NOW,
  generateAccount,
  iamError,
  listAccessKeysResponse,
  mockIam,
  replicationGroup,
  roleArn,
  rootReportRow,
  stsError,
  userReportRow,
  type GeneratedAccount,
  type ReportKeyInput,
} from '#test/aws.ts';
import { dax, elastiCache, iam, recordingSleep, resetAws, serveRegions, sts, type RegionWorld } from '#test/mock-aws.ts';

const REGIONS = ['eu-west-1', 'us-east-1'];

function world(): Record<string, RegionWorld> {
  return {
    // 130 clusters: more than one page of DescribeCacheClusters at MaxRecords 100.
    'eu-west-1': {
      cacheClusters: Array.from({ length: 130 }, (_, i) =>
        cacheCluster({ id: `cache-${i + 1}`, region: 'eu-west-1', replicationGroupId: i < 2 ? 'sessions' : undefined }),
      ),
      replicationGroups: [replicationGroup({ id: 'sessions', region: 'eu-west-1' })],
      daxClusters: [daxCluster({ name: 'orders', region: 'eu-west-1', iamRoleArn: roleArn('DAXServiceRole') })],
    },
    'us-east-1': {
      cacheClusters: [],
      replicationGroups: [],
      daxClusters: [daxCluster({ name: 'catalog', region: 'us-east-1', iamRoleArn: roleArn('missing-role') })],
    },
  };
}

function options(
  overrides: Omit<Partial<LiveRequest>, 'settings'> & { settings?: SettingsInput } = {},
): LiveRequest & { waits: number[]; progress: string[] } {
  const { sleep, waits } = recordingSleep();
  const progress: string[] = [];
  const { settings, ...rest } = overrides;
  return {
    sleep,
    waits,
    progress,
    onProgress: (m) => progress.push(m),
    now: () => FIXTURE_NOW,
    regions: REGIONS,
    ...rest,
    settings: parseSettings(settings ?? {}),
  };
}

/** The collector, given its options as the command line and the Lambda build them from the settings. */
const collect = (request: LiveRequest): Promise<Inventory> => collectLive(liveOptions(request));

function read<T>(source: Source<T>): T {
  if (source.state !== 'read') throw new Error(`expected read, got unread ${source.call}: ${source.reason}`);
  return source.data;
}

function expectAllReadExcept(inv: Inventory, except: string[]): void {
  for (const [name, source] of sources(inv)) {
    if (!except.includes(name)) expect(source.state, `${name} should be read`).toBe('read');
  }
}

// 2,400 users plus groups, roles and policies: three pages at MaxItems 1000. Read-only, so shared.
const account: GeneratedAccount = generateAccount({ users: 2400, overAgeKeyRatio: 0.01 });

beforeEach(() => {
  resetAws('eu-west-1');
  mockIam(iam, account);
  serveRegions(world());
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('collectLive: happy path', () => {
  it('reads every source, polls the report with backoff and pages authorization details', async () => {
    iam
      .on(GenerateCredentialReportCommand)
      .resolvesOnce({ State: 'STARTED', Description: 'No report exists. Starting a new report generation task' })
      .resolvesOnce({ State: 'INPROGRESS' })
      .resolves({ State: 'COMPLETE' });
    const opts = options();
    const inv = await collect(opts);

    expect(inv.accountId).toBe(FIXTURE_ACCOUNT_ID);
    expect(inv.partition).toBe('aws');
    expect(inv.origin).toBe('live');
    expect(inv.collectedAt).toBe(FIXTURE_NOW.toISOString());
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);

    // Summary.
    expect(read(inv.accountSummary)).toMatchObject({ accountAccessKeysPresent: 0, accountMfaEnabled: 1 });

    // Report: two waits, 1/7 then 2/7 of the 60 s bound, then Get only once Generate said COMPLETE.
    expect(opts.waits).toEqual([8571, 17143]);
    const calls = iam.calls().map((c) => (c.args[0] as object).constructor.name);
    const generates = calls.flatMap((name, i) => (name === 'GenerateCredentialReportCommand' ? [i] : []));
    const gets = calls.flatMap((name, i) => (name === 'GetCredentialReportCommand' ? [i] : []));
    expect(generates).toHaveLength(3);
    expect(gets).toHaveLength(1);
    expect(gets[0]).toBeGreaterThan(generates[2]!);
    const report = read(inv.credentialReport);
    expect(report.rows).toHaveLength(account.users.length + 1);
    expect(report.rows[0]).toMatchObject({ user: '<root_account>', isRoot: true });
    expect(report.generatedAt).toBe(account.credentialReport().GeneratedTime!.toISOString());
    expect(opts.progress).toContain('generating the IAM credential report…');

    // Authorization details: three pages, each Marker passed on, MaxItems 1000.
    const pageCalls = iam.commandCalls(GetAccountAuthorizationDetailsCommand);
    expect(pageCalls).toHaveLength(Math.ceil(account.entityCount / 1000));
    expect(pageCalls).toHaveLength(3);
    const firstPage = account.authorizationDetailsPage({ MaxItems: 1000 });
    const secondPage = account.authorizationDetailsPage({ MaxItems: 1000, Marker: firstPage.Marker! });
    expect(pageCalls.map((c) => c.args[0].input)).toEqual([
      { MaxItems: 1000 },
      { MaxItems: 1000, Marker: firstPage.Marker },
      { MaxItems: 1000, Marker: secondPage.Marker },
    ]);
    expect(opts.progress.filter((m) => m.startsWith('read IAM authorization details page'))).toHaveLength(3);
    const details = read(inv.authorizationDetails);
    expect(details.users).toHaveLength(account.entities.users.length);
    expect(details.groups).toHaveLength(account.entities.groups.length);
    expect(details.roles).toHaveLength(account.entities.roles.length);
    expect(Object.keys(details.policies)).toHaveLength(account.entities.policies.length);

    // Documents arrive URL-encoded and leave decoded.
    expect(account.entities.policies[0]!.PolicyVersionList![0]!.Document).toMatch(/^%7B/);
    expect(details.policies[ADMINISTRATOR_ACCESS.Arn!]!.document).toEqual({
      ok: true,
      document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
    });
    const daxRole = details.roles.find((r) => r.name === 'DAXServiceRole')!;
    expect(daxRole.trustPolicy).toEqual({
      ok: true,
      document: JSON.parse(
        decodeURIComponent(account.entities.roles.find((r) => r.RoleName === 'DAXServiceRole')!.AssumeRolePolicyDocument!),
      ),
    });
    expect(daxRole.trustPolicy.ok && JSON.stringify(daxRole.trustPolicy.document)).toContain('dax.amazonaws.com');

    // Two regions, each with its own resources; ElastiCache paged.
    expect(inv.regions.map((r) => r.region)).toEqual(REGIONS);
    const [eu, us] = inv.regions;
    expect(read(eu!.elastiCache).cacheClusters).toHaveLength(130);
    expect(read(eu!.elastiCache).replicationGroups.map((g) => g.id)).toEqual(['sessions']);
    expect(read(eu!.elastiCache).cacheClusters[0]).toMatchObject({ id: 'cache-1', replicationGroupId: 'sessions', engine: 'redis' });
    expect(read(eu!.dax)).toEqual({
      available: true,
      clusters: [expect.objectContaining({ name: 'orders', iamRoleArn: roleArn('DAXServiceRole') })],
    });
    expect(read(us!.elastiCache)).toEqual({ cacheClusters: [], replicationGroups: [] });
    expect(read(us!.dax)).toMatchObject({ available: true, clusters: [{ name: 'catalog' }] });
    const clusterCalls = elastiCache.commandCalls(DescribeCacheClustersCommand).map((c) => c.args[0].input);
    expect(clusterCalls.filter((i) => i.Marker)).toHaveLength(1);
    expect(clusterCalls).toHaveLength(3); // eu-west-1 twice (130 clusters), us-east-1 once

    // The over-age users of the generated account were looked up.
    expect(Object.keys(inv.accessKeys).sort()).toEqual([...account.overAgeUsers].sort());
    expectAllReadExcept(inv, []);
  });

  it('exports the IAM actions it calls, and calls nothing else', async () => {
    await collect(options());
    const called = new Set<string>();
    const service = { IAMClient: 'iam', ElastiCacheClient: 'elasticache', DAXClient: 'dax' } as Record<string, string>;
    for (const [stub, name] of [
      [iam, 'IAMClient'],
      [elastiCache, 'ElastiCacheClient'],
      [dax, 'DAXClient'],
    ] as const) {
      for (const call of stub.calls()) called.add(`${service[name]}:${(call.args[0] as object).constructor.name.replace(/Command$/, '')}`);
    }
    expect([...called].every((action) => (LIVE_READ_ACTIONS as readonly string[]).includes(action))).toBe(true);
    expect(new Set(LIVE_READ_ACTIONS)).toEqual(called);
  });
});

describe('collectLive: only what the selected checks read', () => {
  const callNames = () =>
    [...iam.calls(), ...elastiCache.calls(), ...dax.calls()]
      .map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, ''))
      .sort();

  it.each([
    ['access-key-age', ['GenerateCredentialReport', 'GetAccountAuthorizationDetails', 'GetCredentialReport', 'ListAccessKeys']],
    ['root-access-key', ['GenerateCredentialReport', 'GetAccountSummary', 'GetCredentialReport']],
    ['user-full-access', ['GetAccountAuthorizationDetails']],
    ['dax-service-role', ['DescribeCacheClusters', 'DescribeClusters', 'DescribeReplicationGroups', 'GetAccountAuthorizationDetails']],
  ] as const)('%s alone: only its calls, and the same findings as a full run', async (check, expected) => {
    const full = await collect(options());
    const fullFindings = evaluateChecks(full, parseSettings({}), selectChecks([check])).findings;
    iam.resetHistory();
    elastiCache.resetHistory();
    dax.resetHistory();

    const narrow = await collect(options({ settings: { checks: [check] } }));

    expect([...new Set(callNames())]).toEqual(expected);
    expect(evaluateChecks(narrow, parseSettings({ checks: [check] }), selectChecks([check])).findings).toEqual(fullFindings);
    // What was skipped says so, and no selected check reads it.
    const skipped = sources(narrow).filter(([, s]) => s.state !== 'read');
    expect(skipped.length).toBeGreaterThan(0);
    for (const [, s] of skipped) expect(s).toMatchObject({ state: 'skipped', reason: 'not read: none of the selected checks needs it' });
    expect(SKIPPED_REASON).toBe('not read: none of the selected checks needs it');
    // A check reading none of what was read, had it run on this inventory, says ERROR, never PASS.
    const mine = new Set(CHECK_INPUTS[check]);
    const disjoint = ALL_CHECKS.filter((c) => CHECK_INPUTS[c.id].every((input) => !mine.has(input)));
    // access-key-age shares a source with every other check (the report, or the authorization details).
    expect(disjoint.length > 0).toBe(check !== 'access-key-age');
    const others = evaluateChecks(narrow, parseSettings({}), disjoint).findings;
    expect(others.length > 0).toBe(disjoint.length > 0);
    expect(others.filter((f) => f.status !== 'ERROR')).toEqual([]);
  });
});

describe('collectLive: credential report', () => {
  /** Every report-related IAM call, in order, as `Generate` / `Get`. */
  const reportCalls = (): string[] =>
    iam
      .calls()
      .map((c) => (c.args[0] as object).constructor.name)
      .filter((name) => name === 'GenerateCredentialReportCommand' || name === 'GetCredentialReportCommand')
      .map((name) => (name === 'GenerateCredentialReportCommand' ? 'Generate' : 'Get'));

  it('caps the report calls for the IAM budget: 4 Generate, 5 in all, waits doubling over the whole bound', () => {
    expect(MAX_GENERATE_REPORT_CALLS).toBe(4);
    expect(MAX_REPORT_CALLS).toBe(5);
    expect(REPORT_WAIT_SHARES).toEqual([1 / 7, 2 / 7, 4 / 7]);
    expect(reportWaitsMs(60_000)).toEqual([8571, 17143, 34286]);
    expect(reportWaitsMs(60_000).reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(reportWaitsMs(1_000)).toEqual([143, 286, 571]);
  });

  it('gives up once reportWaitSeconds is spent while the report stays in progress on Get', async () => {
    iam.on(GetCredentialReportCommand).rejects(iamError('ReportInProgress', 'Report is in progress'));
    const opts = options({ settings: { reportWaitSeconds: 3 } });
    const inv = await collect(opts);
    expect(inv.credentialReport).toMatchObject({ state: 'unread', call: 'iam:GetCredentialReport' });
    expect(inv.credentialReport.state === 'unread' && inv.credentialReport.reason).toContain('still being generated after 3 s');
    expect(opts.waits).toEqual(reportWaitsMs(3000));
    expect(opts.waits.reduce((a, b) => a + b, 0)).toBe(3000);
    // Get retries come out of the same budget: one Generate, then four Gets, and no more.
    expect(reportCalls()).toEqual(['Generate', 'Get', 'Get', 'Get', 'Get']);
    expect(inv.accessKeys).toEqual({});
    expectAllReadExcept(inv, ['credentialReport']);
  });

  it('polls Generate at most 3 times, spread geometrically over the bound, while it stays in progress', async () => {
    iam.on(GenerateCredentialReportCommand).resolves({ State: 'INPROGRESS' });
    const opts = options({ settings: { reportWaitSeconds: 20 } });
    const inv = await collect(opts);
    expect(inv.credentialReport).toMatchObject({ state: 'unread', call: 'iam:GenerateCredentialReport' });
    expect(inv.credentialReport.state === 'unread' && inv.credentialReport.reason).toContain('after 20 s');
    // 20 s × 1/7, 2/7, 4/7: each wait twice the one before, the bound used in full, no wait after the last poll.
    expect(opts.waits).toEqual([2857, 5714, 11429]);
    expect(opts.waits.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(iam.commandCalls(GenerateCredentialReportCommand)).toHaveLength(MAX_GENERATE_REPORT_CALLS);
    expect(iam.commandCalls(GetCredentialReportCommand)).toHaveLength(0);
  });

  it('the longest bound (600 s) does not buy more calls', async () => {
    iam.on(GenerateCredentialReportCommand).resolves({ State: 'INPROGRESS' });
    const opts = options({ settings: { reportWaitSeconds: 600 } });
    const inv = await collect(opts);
    expect(inv.credentialReport).toMatchObject({ state: 'unread', call: 'iam:GenerateCredentialReport' });
    expect(reportCalls()).toEqual(['Generate', 'Generate', 'Generate', 'Generate']);
    expect(opts.waits).toEqual(reportWaitsMs(600_000));
  });

  it('a report COMPLETE on the last allowed poll is still read', async () => {
    iam
      .on(GenerateCredentialReportCommand)
      .resolvesOnce({ State: 'STARTED' })
      .resolvesOnce({ State: 'INPROGRESS' })
      .resolvesOnce({ State: 'INPROGRESS' })
      .resolves({ State: 'COMPLETE' });
    const opts = options();
    const inv = await collect(opts);
    expect(read(inv.credentialReport).rows).toHaveLength(account.users.length + 1);
    expect(reportCalls()).toEqual(['Generate', 'Generate', 'Generate', 'Generate', 'Get']);
    expect(opts.waits).toEqual(reportWaitsMs(60_000));
  });

  const scripts: { name: string; script: () => void; expected: string[]; unreadCall?: string; reason?: string }[] = [
    {
      name: 'regenerated after ReportNotPresent, the new report never completes',
      script: () => {
        iam.on(GenerateCredentialReportCommand).resolvesOnce({ State: 'COMPLETE' }).resolves({ State: 'INPROGRESS' });
        iam.on(GetCredentialReportCommand).rejects(iamError('ReportNotPresent'));
      },
      // A third Generate would leave no call for its Get: stop at four calls, before the bound is spent.
      expected: ['Generate', 'Get', 'Generate', 'Generate'],
      unreadCall: 'iam:GenerateCredentialReport',
      reason: 'after 4 report calls in 9 s (at most 5 per run',
    },
    {
      name: 'slow Generate, then ReportExpired, then regenerated at once',
      script: () => {
        iam.on(GenerateCredentialReportCommand).resolvesOnce({ State: 'STARTED' }).resolves({ State: 'COMPLETE' });
        iam.on(GetCredentialReportCommand).rejectsOnce(iamError('ReportExpired')).resolves(account.credentialReport());
      },
      expected: ['Generate', 'Generate', 'Get', 'Generate', 'Get'],
    },
    {
      name: 'slow Generate three times, then ReportNotPresent: no room left to generate again',
      script: () => {
        iam
          .on(GenerateCredentialReportCommand)
          .resolvesOnce({ State: 'STARTED' })
          .resolvesOnce({ State: 'INPROGRESS' })
          .resolvesOnce({ State: 'INPROGRESS' })
          .resolves({ State: 'COMPLETE' });
        iam.on(GetCredentialReportCommand).rejects(iamError('ReportNotPresent', 'no report'));
      },
      expected: ['Generate', 'Generate', 'Generate', 'Generate', 'Get'],
      unreadCall: 'iam:GetCredentialReport',
    },
    {
      name: 'Generate slow, then Get in progress forever',
      script: () => {
        iam.on(GenerateCredentialReportCommand).resolvesOnce({ State: 'STARTED' }).resolves({ State: 'COMPLETE' });
        iam.on(GetCredentialReportCommand).rejects(iamError('ReportInProgress'));
      },
      expected: ['Generate', 'Generate', 'Get', 'Get', 'Get'],
      unreadCall: 'iam:GetCredentialReport',
    },
  ];

  it.each(scripts)('within the call budget: $name', async ({ script, expected, unreadCall, reason }) => {
    script();
    const opts = options();
    const inv = await collect(opts);
    const calls = reportCalls();
    expect(calls).toEqual(expected);
    expect(calls.length).toBeLessThanOrEqual(MAX_REPORT_CALLS);
    expect(calls.filter((c) => c === 'Generate').length).toBeLessThanOrEqual(MAX_GENERATE_REPORT_CALLS);
    expect(opts.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000);
    if (unreadCall) expect(inv.credentialReport).toMatchObject({ state: 'unread', call: unreadCall });
    else expect(read(inv.credentialReport).rows).toHaveLength(account.users.length + 1);
    if (reason) expect(inv.credentialReport.state === 'unread' && inv.credentialReport.reason).toContain(reason);
  });

  it('generates the report again when Get says ReportNotPresent, then reads it', async () => {
    iam.on(GetCredentialReportCommand).rejectsOnce(iamError('ReportNotPresent')).resolves(account.credentialReport());
    const inv = await collect(options());
    expect(read(inv.credentialReport).rows).toHaveLength(account.users.length + 1);
    expect(iam.commandCalls(GenerateCredentialReportCommand)).toHaveLength(2);
    expect(iam.commandCalls(GetCredentialReportCommand)).toHaveLength(2);
  });

  // Every way the report can fail (in progress past the wait, ReportNotPresent, ReportExpired,
  // LimitExceeded, content that cannot be decoded) and the findings it gives: report-failures.test.ts.
});

describe('collectLive: AccessDenied', () => {
  const cases: { call: string; deny: () => void; source: (inv: Inventory) => Source<unknown>[]; code: string; unreadNames: string[] }[] = [
    {
      call: 'iam:GetAccountSummary',
      deny: () => iam.on(GetAccountSummaryCommand).rejects(iamError('AccessDenied')),
      source: (inv) => [inv.accountSummary],
      code: 'AccessDenied',
      unreadNames: ['accountSummary'],
    },
    {
      call: 'iam:GenerateCredentialReport',
      deny: () => iam.on(GenerateCredentialReportCommand).rejects(iamError('AccessDenied')),
      source: (inv) => [inv.credentialReport],
      code: 'AccessDenied',
      unreadNames: ['credentialReport'],
    },
    {
      call: 'iam:GetCredentialReport',
      deny: () => iam.on(GetCredentialReportCommand).rejects(iamError('AccessDenied')),
      source: (inv) => [inv.credentialReport],
      code: 'AccessDenied',
      unreadNames: ['credentialReport'],
    },
    {
      call: 'iam:GetAccountAuthorizationDetails',
      deny: () => iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied')),
      source: (inv) => [inv.authorizationDetails],
      code: 'AccessDenied',
      unreadNames: ['authorizationDetails'],
    },
    {
      call: 'elasticache:DescribeCacheClusters',
      deny: () =>
        serveRegions({ ...world(), 'eu-west-1': { ...world()['eu-west-1'], cacheClustersError: elastiCacheError('AccessDenied') } }),
      source: (inv) => [inv.regions[0]!.elastiCache],
      code: 'AccessDenied',
      unreadNames: ['eu-west-1.elastiCache'],
    },
    {
      call: 'elasticache:DescribeReplicationGroups',
      deny: () =>
        serveRegions({ ...world(), 'eu-west-1': { ...world()['eu-west-1'], replicationGroupsError: elastiCacheError('AccessDenied') } }),
      source: (inv) => [inv.regions[0]!.elastiCache],
      code: 'AccessDenied',
      unreadNames: ['eu-west-1.elastiCache'],
    },
    {
      // DAX speaks JSON: AWS's code there is AccessDeniedException.
      call: 'dax:DescribeClusters',
      deny: () => serveRegions({ ...world(), 'eu-west-1': { ...world()['eu-west-1'], daxError: daxError('AccessDeniedException') } }),
      source: (inv) => [inv.regions[0]!.dax],
      code: 'AccessDeniedException',
      unreadNames: ['eu-west-1.dax'],
    },
    {
      call: 'iam:ListAccessKeys',
      deny: () => iam.on(ListAccessKeysCommand).rejects(iamError('AccessDenied')),
      source: (inv) => Object.values(inv.accessKeys),
      code: 'AccessDenied',
      unreadNames: [], // every looked-up user, taken from the inventory below
    },
  ];

  it.each(cases)('$call denied: that source unread with code $code, the others read', async ({ call, deny, source, code, unreadNames }) => {
    deny();
    const inv = await collect(options());
    const denied = source(inv);
    expect(denied.length).toBeGreaterThan(0);
    for (const s of denied) expect(s).toMatchObject({ state: 'unread', call, code });
    const names = call === 'iam:ListAccessKeys' ? Object.keys(inv.accessKeys).map((u) => `accessKeys.${u}`) : unreadNames;
    expectAllReadExcept(inv, names);
  });

  it('one failing authorization details page makes the whole source unread', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input: { MaxItems?: number; Marker?: string }) => {
      if (input.Marker) throw iamError('ServiceFailure', 'Internal failure');
      return account.authorizationDetailsPage(input);
    });
    const inv = await collect(options());
    expect(inv.authorizationDetails).toEqual({
      state: 'unread',
      call: 'iam:GetAccountAuthorizationDetails',
      code: 'ServiceFailure',
      reason: 'Internal failure',
      kind: 'failed',
    });
    expect(iam.commandCalls(GetAccountAuthorizationDetailsCommand)).toHaveLength(2);
  });

  it('a truncated page without a Marker is an error, not a silently short list', async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .callsFake((input: { MaxItems?: number }) => ({ ...account.authorizationDetailsPage(input), Marker: undefined }));
    const inv = await collect(options());
    expect(inv.authorizationDetails).toMatchObject({ state: 'unread', call: 'iam:GetAccountAuthorizationDetails' });
  });

  it('STS failing: the account comes from the credential report root row', async () => {
    sts.on(GetCallerIdentityCommand).rejects(stsError('ExpiredToken', 'The security token included in the request is expired'));
    const opts = options();
    const inv = await collect(opts);
    expect(inv.accountId).toBe(FIXTURE_ACCOUNT_ID);
    expect(inv.partition).toBe('aws');
    expect(opts.progress.some((m) => m.includes('sts:GetCallerIdentity') && m.includes('expired'))).toBe(true);
  });

  it('STS and the report failing: the account comes from the authorization details', async () => {
    sts.on(GetCallerIdentityCommand).rejects(stsError('ExpiredToken'));
    iam.on(GenerateCredentialReportCommand).rejects(iamError('AccessDenied'));
    const other = generateAccount({ users: 3, accountId: '210987654321' });
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .callsFake((input: { MaxItems?: number; Marker?: string }) => other.authorizationDetailsPage(input));
    const inv = await collect(options());
    expect(inv.accountId).toBe('210987654321');
  });

  it('everything denied: accountId unknown, every source unread, no throw', async () => {
    sts.on(GetCallerIdentityCommand).rejects(stsError('AccessDenied'));
    iam.on(GetAccountSummaryCommand).rejects(iamError('AccessDenied'));
    iam.on(GenerateCredentialReportCommand).rejects(iamError('AccessDenied'));
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied'));
    serveRegions(
      Object.fromEntries(
        REGIONS.map((r) => [r, { cacheClustersError: elastiCacheError('AccessDenied'), daxError: daxError('AccessDeniedException') }]),
      ),
    );
    const inv = await collect(options());
    expect(inv.accountId).toBe('unknown');
    expect(inv.partition).toBe('aws');
    for (const s of [
      inv.accountSummary,
      inv.credentialReport,
      inv.authorizationDetails,
      ...inv.regions.flatMap((r) => [r.elastiCache, r.dax]),
    ]) {
      expect(s.state).toBe('unread');
    }
  });
});

describe('collectLive: DAX availability', () => {
  it('a region without DAX gives available:false while another region is read', async () => {
    const w = world();
    serveRegions({
      ...w,
      'ap-south-2': {
        cacheClusters: [cacheCluster({ id: 'hyd-1', region: 'ap-south-2' })],
        daxError: dnsNotFoundError('dax.ap-south-2.amazonaws.com'),
      },
    });
    const inv = await collect(options({ regions: ['eu-west-1', 'ap-south-2'] }));
    const [eu, hyd] = inv.regions;
    expect(read(eu!.dax)).toMatchObject({ available: true, clusters: [{ name: 'orders' }] });
    const unavailable = read(hyd!.dax);
    expect(unavailable.available).toBe(false);
    expect(!unavailable.available && unavailable.reason).toContain('ap-south-2');
    expect(read(hyd!.elastiCache).cacheClusters.map((c) => c.id)).toEqual(['hyd-1']);
  });

  it('ElastiCache answering with an error still proves the region reachable', async () => {
    serveRegions({
      ...world(),
      'ap-south-2': { cacheClustersError: elastiCacheError('AccessDenied'), daxError: dnsNotFoundError('dax.ap-south-2.amazonaws.com') },
    });
    const inv = await collect(options({ regions: ['ap-south-2'] }));
    expect(read(inv.regions[0]!.dax).available).toBe(false);
    expect(inv.regions[0]!.elastiCache).toMatchObject({ state: 'unread', code: 'AccessDenied' });
  });

  it('offline (ElastiCache unreachable too): DAX is unread, never "not available"', async () => {
    serveRegions({
      ...world(),
      'ap-south-2': {
        cacheClustersError: dnsNotFoundError('elasticache.ap-south-2.amazonaws.com'),
        replicationGroupsError: dnsNotFoundError('elasticache.ap-south-2.amazonaws.com'),
        daxError: dnsNotFoundError('dax.ap-south-2.amazonaws.com'),
      },
    });
    const inv = await collect(options({ regions: ['ap-south-2', 'eu-west-1'] }));
    const [hyd, eu] = inv.regions;
    expect(hyd!.dax).toMatchObject({ state: 'unread', call: 'dax:DescribeClusters', code: 'ENOTFOUND' });
    expect(hyd!.dax.state === 'unread' && hyd!.dax.reason).toContain('network or DNS failure');
    expect(hyd!.elastiCache).toMatchObject({ state: 'unread', code: 'ENOTFOUND' });
    expect(read(eu!.dax).available).toBe(true);
  });

  it('a temporary DNS failure (EAI_AGAIN) is not "not available"', async () => {
    serveRegions({
      ...world(),
      'eu-west-1': { ...world()['eu-west-1'], daxError: dnsNotFoundError('dax.eu-west-1.amazonaws.com', 'EAI_AGAIN') },
    });
    const inv = await collect(options({ regions: ['eu-west-1'] }));
    expect(inv.regions[0]!.dax).toMatchObject({ state: 'unread', code: 'EAI_AGAIN' });
  });

  it('recognises the ways a missing endpoint surfaces', () => {
    expect(isMissingEndpoint(dnsNotFoundError('dax.ap-south-2.amazonaws.com'))).toBe(true);
    expect(isMissingEndpoint(Object.assign(new Error('Inaccessible host: `dax.xx-1.amazonaws.com`'), { name: 'UnknownEndpoint' }))).toBe(
      true,
    );
    expect(isMissingEndpoint(new Error('Could not resolve endpoint for dax in xx-1'))).toBe(true);
    expect(isMissingEndpoint(Object.assign(new Error('wrapped'), { cause: dnsNotFoundError('dax.xx-1.amazonaws.com') }))).toBe(true);
    expect(isMissingEndpoint(dnsNotFoundError('dax.xx-1.amazonaws.com', 'EAI_AGAIN'))).toBe(false);
    expect(isMissingEndpoint(dnsNotFoundError('proxy.corp.example'))).toBe(false);
    expect(isMissingEndpoint(daxError('AccessDeniedException'))).toBe(false);
  });
});

describe('collectLive: regions and clients', () => {
  it('without regions, audits the SDK default region and sends IAM there', async () => {
    resetAws('eu-central-1');
    mockIam(iam, account);
    serveRegions({ 'eu-central-1': { daxClusters: [] } });
    const regionsSeen: string[] = [];
    iam.on(GetAccountSummaryCommand).callsFake(async (_input, getClient) => {
      regionsSeen.push(await (getClient() as { config: { region: () => Promise<string> } }).config.region());
      return account.summary;
    });
    const inv = await collect(options({ regions: [] }));
    expect(inv.regions.map((r) => r.region)).toEqual(['eu-central-1']);
    expect(regionsSeen).toEqual(['eu-central-1']);
  });

  it('settings.regions apply when no regions option is given; the option overrides them', async () => {
    serveRegions({ ...world(), 'ap-southeast-2': {} });
    const fromSettings = await collect(options({ regions: undefined, settings: { regions: ['us-east-1', 'ap-southeast-2'] } }));
    expect(fromSettings.regions.map((r) => r.region)).toEqual(['us-east-1', 'ap-southeast-2']);
    const overridden = await collect(options({ regions: ['eu-west-1'], settings: { regions: ['us-east-1'] } }));
    expect(overridden.regions.map((r) => r.region)).toEqual(['eu-west-1']);
  });

  it('no region anywhere: regional sources unread with the reason, IAM still read in us-east-1', async () => {
    resetAws(null);
    mockIam(iam, account);
    const regionsSeen: string[] = [];
    iam.on(GetAccountSummaryCommand).callsFake(async (_input, getClient) => {
      regionsSeen.push(await (getClient() as { config: { region: () => Promise<string> } }).config.region());
      return account.summary;
    });
    const inv = await collect(options({ regions: [] }));
    expect(inv.regions).toEqual([
      {
        region: NO_REGION,
        elastiCache: { state: 'unread', call: 'elasticache:DescribeCacheClusters', reason: NO_REGION_REASON, kind: 'failed' },
        dax: { state: 'unread', call: 'dax:DescribeClusters', reason: NO_REGION_REASON, kind: 'failed' },
      },
    ]);
    expect(NO_REGION_REASON).toBe('no region configured: pass --region or set AWS_REGION');
    expect(regionsSeen).toEqual(['us-east-1']);
    expect(read(inv.accountSummary).accountAccessKeysPresent).toBe(0);
    expect(elastiCache.calls()).toHaveLength(0);
    expect(dax.calls()).toHaveLength(0);
  });

  const retryCases: {
    name: string;
    given: Parameters<typeof options>[0];
    expected: { profile?: string; maxAttempts: number; retryMode: string };
  }[] = [
    { name: 'defaults: 3 attempts, standard mode', given: {}, expected: { profile: undefined, maxAttempts: 3, retryMode: 'standard' } },
    {
      name: 'the settings',
      given: { settings: { awsMaxAttempts: 5, awsRetryMode: 'adaptive' } },
      expected: { profile: undefined, maxAttempts: 5, retryMode: 'adaptive' },
    },
    {
      name: 'the profile, and the maxAttempts option over the settings',
      given: { profile: 'audit', maxAttempts: 7, settings: { awsMaxAttempts: 5 } },
      expected: { profile: 'audit', maxAttempts: 7, retryMode: 'standard' },
    },
  ];

  it.each(retryCases)('passes the retry configuration to every client: $name', async ({ given, expected }) => {
    const seen: { profile?: string; maxAttempts: number; retryMode: string }[] = [];
    const record = async (getClient: () => unknown) => {
      type Value<T> = T | (() => Promise<T>);
      const config = (getClient() as { config: { profile?: string; maxAttempts: Value<number>; retryMode: Value<string> } }).config;
      const value = async <T>(v: Value<T>): Promise<T> => (typeof v === 'function' ? (v as () => Promise<T>)() : v);
      seen.push({ profile: config.profile, maxAttempts: await value(config.maxAttempts), retryMode: await value(config.retryMode) });
    };
    iam.on(GetAccountSummaryCommand).callsFake(async (_i, getClient) => {
      await record(getClient);
      return account.summary;
    });
    sts.on(GetCallerIdentityCommand).callsFake(async (_i, getClient) => {
      await record(getClient);
      return { Account: FIXTURE_ACCOUNT_ID, Arn: `arn:aws:iam::${FIXTURE_ACCOUNT_ID}:user/auditor` };
    });
    dax.on(DescribeClustersCommand).callsFake(async (_i, getClient) => {
      await record(getClient);
      return { Clusters: [] };
    });
    elastiCache.on(DescribeReplicationGroupsCommand).callsFake(async (_i, getClient) => {
      await record(getClient);
      return { ReplicationGroups: [] };
    });
    await collect(options({ ...given, regions: ['eu-west-1'] }));
    expect(seen).toHaveLength(4);
    for (const s of seen) expect(s).toEqual(expected);
  });

  it('AWS_MAX_ATTEMPTS and AWS_RETRY_MODE cannot lift the bound the settings give', async () => {
    vi.stubEnv('AWS_MAX_ATTEMPTS', '10');
    vi.stubEnv('AWS_RETRY_MODE', 'adaptive');
    const seen: unknown[] = [];
    iam.on(GetAccountSummaryCommand).callsFake(async (_i, getClient) => {
      const config = (getClient() as { config: { maxAttempts: () => Promise<number>; retryMode: string | (() => Promise<string>) } })
        .config;
      seen.push([await config.maxAttempts(), typeof config.retryMode === 'function' ? await config.retryMode() : config.retryMode]);
      return account.summary;
    });
    await collect(options({ settings: { awsMaxAttempts: 2 } }));
    expect(seen).toEqual([[2, 'standard']]);
  });

  it('partition comes from the caller ARN (aws-cn)', async () => {
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '111122223333', Arn: 'arn:aws-cn:sts::111122223333:assumed-role/Auditor/session' });
    const inv = await collect(options());
    expect(inv).toMatchObject({ accountId: '111122223333', partition: 'aws-cn' });
  });
});

describe('collectLive: key ID lookups', () => {
  const key = (ageDays: number, active = true, hours = 0): ReportKeyInput => ({
    active,
    lastRotated: new Date(daysBefore(ageDays).getTime() - hours * 3_600_000),
  });

  /** Users with their keys; the expected candidates are derived from these ages below, not listed. */
  const people: { name: string; keys: [ReportKeyInput | null, ReportKeyInput | null] }[] = [
    { name: 'ancient', keys: [key(400), null] },
    { name: 'just-over', keys: [key(91), null] },
    { name: 'at-limit', keys: [key(90, true, 23), null] }, // 90 days and 23 hours: 90 whole days, not over
    { name: 'inactive-old', keys: [key(500, false), null] },
    { name: 'slot-two', keys: [key(10), key(200)] },
    { name: 'rotating', keys: [key(300, false), key(5)] },
    { name: 'mid', keys: [key(300), key(250)] },
    { name: 'young', keys: [key(30), null] },
    { name: 'never', keys: [null, null] },
  ];
  const maxKeyAgeDays = 90;
  const expectedOrder = people
    .map((p) => ({
      name: p.name,
      ages: p.keys
        .filter((k): k is ReportKeyInput => !!k && k.active)
        .map((k) => Math.floor((FIXTURE_NOW.getTime() - k.lastRotated.getTime()) / 86_400_000)),
    }))
    .map((p) => ({ name: p.name, oldest: Math.max(-1, ...p.ages.filter((a) => a > maxKeyAgeDays)) }))
    .filter((p) => p.oldest > 0)
    .sort((a, b) => b.oldest - a.oldest)
    .map((p) => p.name);

  beforeEach(() => {
    const csv = credentialReportCsv([
      rootReportRow({ keys: [key(1000)] }),
      ...people.map((p) => userReportRow({ name: p.name, keys: p.keys })),
    ]);
    iam.on(GetCredentialReportCommand).resolves(credentialReportResponse(csv));
    iam.on(ListAccessKeysCommand).callsFake((input: { UserName: string }) => {
      const p = people.find((x) => x.name === input.UserName)!;
      return listAccessKeysResponse(
        p.name,
        p.keys.flatMap((k, i) =>
          k
            ? [
                {
                  id: `AKIA${p.name.toUpperCase().replace(/-/g, '').padEnd(12, 'X')}000${i + 1}`,
                  active: k.active,
                  createDate: k.lastRotated,
                },
              ]
            : [],
        ),
      );
    });
  });

  it('looks up only users with an over-age active key, oldest first, capped at keyIdLookups', async () => {
    expect(expectedOrder.length).toBeGreaterThan(3); // the cap below must bite
    const inv = await collect(options({ settings: { keyIdLookups: 3, maxKeyAgeDays } }));
    const looked = iam.commandCalls(ListAccessKeysCommand).map((c) => c.args[0].input.UserName);
    expect(looked).toEqual(expectedOrder.slice(0, 3));
    expect(Object.keys(inv.accessKeys)).toEqual(expectedOrder.slice(0, 3));
    const ancient = read(inv.accessKeys.ancient!);
    expect(ancient).toEqual([{ accessKeyId: 'AKIAANCIENTXXXXX0001', status: 'Active', createDate: key(400).lastRotated.toISOString() }]);
    expect(looked).not.toContain('<root_account>');
  });

  it('all candidates when under the cap; none with keyIdLookups 0', async () => {
    const all = await collect(options({ settings: { keyIdLookups: 50, maxKeyAgeDays } }));
    expect(Object.keys(all.accessKeys)).toEqual(expectedOrder);
    for (const name of ['at-limit', 'inactive-old', 'rotating', 'young', 'never']) expect(all.accessKeys[name]).toBeUndefined();

    iam.resetHistory();
    const none = await collect(options({ settings: { keyIdLookups: 0, maxKeyAgeDays } }));
    expect(none.accessKeys).toEqual({});
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(0);
  });

  it('a user deleted since the report: that lookup unread with NoSuchEntity, the others read', async () => {
    iam.on(ListAccessKeysCommand, { UserName: 'ancient' }).rejects(iamError('NoSuchEntity', 'The user with name ancient cannot be found.'));
    const inv = await collect(options({ settings: { keyIdLookups: 2, maxKeyAgeDays } }));
    expect(inv.accessKeys.ancient).toMatchObject({ state: 'unread', call: 'iam:ListAccessKeys', code: 'NoSuchEntity' });
    expect(inv.accessKeys[expectedOrder[1]!]!.state).toBe('read');
  });

  it(`runs at most ${KEY_LOOKUP_CONCURRENCY} lookups at a time`, async () => {
    const many = generateAccount({ users: 40, overAgeKeyRatio: 1 });
    mockIam(iam, many);
    let inFlight = 0;
    let peak = 0;
    iam.on(ListAccessKeysCommand).callsFake(async (input: { UserName: string }) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return many.listAccessKeys(input.UserName);
    });
    const inv = await collect(options({ settings: { keyIdLookups: 30 } }));
    expect(Object.keys(inv.accessKeys)).toEqual(many.overAgeUsers.slice(0, 30));
    expect(peak).toBe(KEY_LOOKUP_CONCURRENCY);
  });
});

describe('collectLive: organization mode', () => {
  it('every client, STS GetCallerIdentity included, signs with the given credentials; the organization context is copied', async () => {
    const credentials = vi.fn(async () => ({ accessKeyId: 'ASIAMEMBER', secretAccessKey: 's', sessionToken: 't' }));
    const organization = { id: 'o-abcdefghij', accountIds: [FIXTURE_ACCOUNT_ID], guardrails: { state: 'read' as const, data: [] } };
    const inv = await collect(options({ credentials, organization }));
    expect(inv.organization).toBe(organization);
    const calls = [...iam.calls(), ...sts.calls(), ...elastiCache.calls(), ...dax.calls()];
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);
    expect(calls.length).toBeGreaterThan(4);
    for (const call of calls) {
      const client = call.thisValue as { config: { credentials: () => Promise<{ accessKeyId: string }> } };
      expect((await client.config.credentials()).accessKeyId).toBe('ASIAMEMBER');
    }
  });
});
