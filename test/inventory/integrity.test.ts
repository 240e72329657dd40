/**
 * SPEC 2.1, integrity of what was collected: one regression test per class, each with the
 * smallest input that shows it, through the offline loader (temporary folders of AWS CLI
 * exports) and the live collector (the mocked SDK clients) wherever the class applies. Each
 * asserts what the checks say and that the message names the file or call, the entry and the
 * reason; and that the checks that do not depend on the bad part still run.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GetAccountAuthorizationDetailsCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
  type ManagedPolicyDetail,
} from '@aws-sdk/client-iam';
import { evaluateChecks, runAudit } from '#lib/audit/run.ts';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import type { StoredFinding } from '#lib/reconcile/types.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { collectLive } from '#lib/inventory/live.ts';
import { liveOptions } from '#lib/audit/collect.ts';
import { loadOffline, OfflineInputError } from '#lib/inventory/offline.ts';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import { parseSettings } from '#lib/settings.ts';
import {
  ADMINISTRATOR_ACCESS,
  authorizationDetailsPage,
  credentialReportCsv,
  credentialReportResponse,
  daxCluster,
  daysBefore,
  FIXTURE_ACCOUNT_ID,
  FIXTURE_NOW,
  listAccessKeysResponse,
  managedPolicyDetail,
  policy,
  allow,
  roleArn,
  roleDetail,
  rootReportRow,
  serviceTrust,
  userArn,
  userDetail,
  userReportRow,
  type AuthorizationDetailsEntities,
  type CredentialReportRecord,
} from '#test/aws.ts';
import { iam, resetAws } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';

const SETTINGS = parseSettings({});
const ACCOUNT = FIXTURE_ACCOUNT_ID;
const TOMORROW = daysBefore(-1);

function unreadOf<T>(source: Source<T>): { call: string; reason: string; code?: string } {
  if (source.state !== 'unread') throw new Error('expected unread, got read');
  return source;
}

function read<T>(source: Source<T>): T {
  if (source.state !== 'read') throw new Error(`expected read, got unread ${source.call}: ${source.reason}`);
  return source.data;
}

const findingsOf = (inventory: Inventory): Finding[] => evaluateChecks(inventory, SETTINGS, ALL_CHECKS).findings;
const byCheck = (findings: Finding[], checkId: string): Finding[] => findings.filter((f) => f.checkId === checkId);
const statuses = (findings: Finding[], checkId: string): string[] => [...new Set(byCheck(findings, checkId).map((f) => f.status))].sort();
const finding = (findings: Finding[], checkId: string, resource: string): Finding => {
  const found = findings.find((f) => f.checkId === checkId && f.resource === resource);
  if (!found)
    throw new Error(
      `no ${checkId} finding for ${resource}: ${findings
        .filter((f) => f.checkId === checkId)
        .map((f) => f.resource)
        .join(', ')}`,
    );
  return found;
};

// ---------------------------------------------------------------------------------------------
// The account, in both forms: ann is an administrator with a 200-day-old key, bob has a 10-day-old
// key and no policy; a DAX role; root has no key.

const entities = (): AuthorizationDetailsEntities => ({
  users: [userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] }), userDetail({ name: 'bob' })],
  groups: [],
  roles: [roleDetail({ name: 'dax', trust: serviceTrust('dax.amazonaws.com') })],
  policies: [ADMINISTRATOR_ACCESS],
});

const reportRows = (): CredentialReportRecord[] => [
  rootReportRow(),
  userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(200) }] }),
  userReportRow({ name: 'bob', keys: [{ active: true, lastRotated: daysBefore(10) }] }),
];

/** The AWS CLI's JSON of an SDK value: Dates become ISO strings, as `--output json` writes them. */
const asCli = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function exportFiles(options: { rows?: CredentialReportRecord[]; details?: unknown; generated?: Date } = {}): Record<string, unknown> {
  return {
    'manifest.json': { collectedAt: FIXTURE_NOW.toISOString() },
    'caller-identity.json': { UserId: 'AIDAEXAMPLE', Account: ACCOUNT, Arn: userArn('ann') },
    'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0, AccountMFAEnabled: 1 } },
    'credential-report.json': {
      Content: Buffer.from(credentialReportCsv(options.rows ?? reportRows())).toString('base64'),
      ReportFormat: 'text/csv',
      GeneratedTime: (options.generated ?? daysBefore(0.1)).toISOString(),
    },
    'account-authorization-details.json': options.details ?? asCli(authorizationDetailsPage(entities())),
    'access-keys/ann.json': asCli(
      listAccessKeysResponse('ann', [{ id: 'AKIAEXAMPLEANN000001', active: true, createDate: daysBefore(200) }]),
    ),
    'us-east-1/cache-clusters.json': { CacheClusters: [] },
    'us-east-1/replication-groups.json': { ReplicationGroups: [] },
    'us-east-1/dax-clusters.json': asCli({ Clusters: [daxCluster({ name: 'orders', region: 'us-east-1', iamRoleArn: roleArn('dax') })] }),
  };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'integrity-'));
  dirs.push(dir);
  return dir;
}

/** Writes the files into a fresh folder: objects as JSON, strings verbatim, `undefined` left out. */
async function folder(files: Record<string, unknown>): Promise<string> {
  const dir = await tempDir();
  for (const [name, content] of Object.entries(files)) {
    if (content === undefined) continue;
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), typeof content === 'string' ? content : `${JSON.stringify(content, null, 4)}\n`);
  }
  return dir;
}

const offline = async (files: Record<string, unknown>): Promise<Inventory> => loadOffline(await folder(files));

// ---------------------------------------------------------------------------------------------
// Live: the small account's calls, one of them answering the bad data

function liveEntities(overrides: Partial<AuthorizationDetailsEntities> = {}): void {
  const e = { ...entities(), ...overrides };
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input) => authorizationDetailsPage(e, input));
}

function liveReport(rows: CredentialReportRecord[]): void {
  iam.on(GetCredentialReportCommand).resolves(credentialReportResponse(credentialReportCsv(rows), daysBefore(0.1)));
}

async function live(): Promise<Inventory> {
  return collectLive(liveOptions({ settings: SETTINGS, regions: ['us-east-1'], now: () => FIXTURE_NOW, sleep: async () => {} }));
}

describe('live collector', () => {
  beforeEach(() => {
    resetAws('us-east-1');
    serveSmallAccount();
    liveEntities();
    liveReport(reportRows());
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('the account as served is clean: every source read', async () => {
    const inventory = await live();
    expect(inventory.authorizationDetails.state).toBe('read');
    expect(inventory.credentialReport.state).toBe('read');
    expect(statuses(findingsOf(inventory), 'access-key-age')).toEqual(['FAIL', 'PASS']);
  });

  it('a page without UserDetailList is an unread source, not an account without users', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ GroupDetailList: [], RoleDetailList: [], Policies: [], IsTruncated: false });
    const inventory = await live();
    const problem = unreadOf(inventory.authorizationDetails);
    expect(problem.call).toBe('iam:GetAccountAuthorizationDetails');
    expect(problem.reason).toContain('iam:GetAccountAuthorizationDetails: has no UserDetailList');
    const findings = findingsOf(inventory);
    expect(statuses(findings, 'user-full-access')).toEqual(['ERROR']);
    expect(byCheck(findings, 'user-full-access')[0]!.details).toMatchObject({
      call: 'iam:GetAccountAuthorizationDetails',
      reason: expect.stringContaining('UserDetailList'),
    });
    // The checks that read only the report still run.
    expect(statuses(findings, 'access-key-age')).toEqual(['FAIL', 'PASS']);
    expect(statuses(findings, 'root-access-key')).toEqual(['PASS']);
  });

  it('a key rotated in the future: the report is unread, naming the line, user, column and reason; never a 0-day age', async () => {
    liveReport([rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: TOMORROW }] })]);
    const inventory = await live();
    const problem = unreadOf(inventory.credentialReport);
    expect(problem.call).toBe('iam:GetCredentialReport');
    expect(problem.reason).toMatch(/^credential report line 3 \(user ann\), column access_key_1_last_rotated: .* is after the audit time/);
    const findings = findingsOf(inventory);
    expect(statuses(findings, 'access-key-age')).toEqual(['ERROR']);
    // root-access-key decides from the real-time summary; user-full-access does not read the report.
    expect(statuses(findings, 'root-access-key')).toEqual(['PASS']);
    expect(statuses(findings, 'user-full-access')).toEqual(['FAIL', 'PASS']);
  });

  it('ListAccessKeys Status "active" is an error for that user, never "deactivated since the report"', async () => {
    iam.on(ListAccessKeysCommand).callsFake((input: { UserName: string }) => ({
      AccessKeyMetadata: [{ UserName: input.UserName, AccessKeyId: 'AKIAEXAMPLEANN000001', Status: 'active', CreateDate: daysBefore(200) }],
    }));
    const inventory = await live();
    const problem = unreadOf(inventory.accessKeys.ann!);
    expect(problem.call).toBe('iam:ListAccessKeys');
    expect(problem.reason).toBe(
      'ListAccessKeys for user ann: AccessKeyMetadata[0] (AKIAEXAMPLEANN000001): Status is "active"; a key is exactly Active or Inactive',
    );
    const f = finding(findingsOf(inventory), 'access-key-age', `${userArn('ann')}#access_key_1`);
    expect(f.status).toBe('FAIL');
    expect(f.details.keyIdLookup).toMatchObject({ call: 'iam:ListAccessKeys', reason: expect.stringContaining('Status is "active"') });
  });

  it('ListAccessKeys CreateDate in the future is an error for that user', async () => {
    iam
      .on(ListAccessKeysCommand)
      .callsFake((input: { UserName: string }) =>
        listAccessKeysResponse(input.UserName, [{ id: 'AKIAEXAMPLEANN000001', active: true, createDate: TOMORROW }]),
      );
    const problem = unreadOf((await live()).accessKeys.ann!);
    expect(problem.reason).toMatch(
      /^ListAccessKeys for user ann: AccessKeyMetadata\[0\] \(AKIAEXAMPLEANN000001\): CreateDate .* is after the audit time/,
    );
  });

  it('a managed policy listed twice with different documents: ERROR for the users it reaches, naming both entries', async () => {
    const other = { ...managedPolicyDetail({ name: 'AdministratorAccess', accountId: 'aws', document: policy(allow('s3:GetObject')) }) };
    liveEntities({ policies: [ADMINISTRATOR_ACCESS, other] });
    const inventory = await live();
    const arn = ADMINISTRATOR_ACCESS.Arn!;
    const document = read(inventory.authorizationDetails).policies[arn]!.document;
    expect(document).toEqual({
      ok: false,
      error: `the managed policy ${arn} is listed twice with different content, at iam:GetAccountAuthorizationDetails Policies[0] and at iam:GetAccountAuthorizationDetails Policies[1] (they differ in document)`,
    });
    const findings = findingsOf(inventory);
    const ann = finding(findings, 'user-full-access', userArn('ann'));
    expect(ann.status).toBe('ERROR');
    expect(JSON.stringify(ann)).toContain('listed twice with different content');
    expect(finding(findings, 'user-full-access', userArn('bob')).status).toBe('PASS');
  });

  it('an exact repeat (a managed policy on two pages) is merged', async () => {
    liveEntities({ policies: [ADMINISTRATOR_ACCESS, ADMINISTRATOR_ACCESS] });
    const inventory = await live();
    expect(read(inventory.authorizationDetails).policies[ADMINISTRATOR_ACCESS.Arn!]!.document.ok).toBe(true);
    expect(finding(findingsOf(inventory), 'user-full-access', userArn('ann')).status).toBe('FAIL');
  });

  it('a user listed twice with different content: the source is unread, naming both entries', async () => {
    liveEntities({
      users: [userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] }), userDetail({ name: 'bob' }), userDetail({ name: 'ann' })],
    });
    const problem = unreadOf((await live()).authorizationDetails);
    expect(problem.call).toBe('iam:GetAccountAuthorizationDetails');
    expect(problem.reason).toBe(
      'user ann is listed twice with different content, at iam:GetAccountAuthorizationDetails UserDetailList[0] (user ann) ' +
        'and at iam:GetAccountAuthorizationDetails UserDetailList[2] (user ann) (they differ in attachedPolicies): which one IAM holds cannot be told, so neither is used',
    );
  });

  it('two default versions, and a DefaultVersionId naming another version than the one flagged default', async () => {
    const twoDefaults: ManagedPolicyDetail = {
      ...ADMINISTRATOR_ACCESS,
      PolicyVersionList: [
        { ...ADMINISTRATOR_ACCESS.PolicyVersionList![0]!, VersionId: 'v2', IsDefaultVersion: true },
        { Document: encodeURIComponent(JSON.stringify(policy(allow('s3:*')))), VersionId: 'v1', IsDefaultVersion: true },
      ],
      DefaultVersionId: 'v2',
    };
    liveEntities({ policies: [twoDefaults] });
    let inventory = await live();
    expect(read(inventory.authorizationDetails).policies[ADMINISTRATOR_ACCESS.Arn!]!.document).toEqual({
      ok: false,
      error: 'the policy has 2 versions flagged IsDefaultVersion (v2 and v1): IAM has one default version',
    });
    expect(finding(findingsOf(inventory), 'user-full-access', userArn('ann')).status).toBe('ERROR');

    liveEntities({ policies: [{ ...ADMINISTRATOR_ACCESS, DefaultVersionId: 'v7' }] });
    inventory = await live();
    expect(read(inventory.authorizationDetails).policies[ADMINISTRATOR_ACCESS.Arn!]!.document).toEqual({
      ok: false,
      error: 'DefaultVersionId is v7 but the version flagged IsDefaultVersion is v1: which document is in force cannot be told',
    });
    expect(finding(findingsOf(inventory), 'user-full-access', userArn('ann')).status).toBe('ERROR');
  });

  it('a credential report missing a listed user: that user’s key findings are ERROR, naming the user and why', async () => {
    liveReport([rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(200) }] })]);
    const findings = findingsOf(await live());
    for (const slot of ['access_key_1', 'access_key_2']) {
      const f = finding(findings, 'access-key-age', `${userArn('bob')}#${slot}`);
      expect(f.status).toBe('ERROR');
      expect(f.title).toBe(`bob's ${slot} could not be evaluated: bob is in the authorization details but not in the credential report`);
      expect(f.details.reason).toContain('has no row for this user');
    }
    expect(finding(findings, 'access-key-age', `${userArn('ann')}#access_key_1`).status).toBe('FAIL');
  });

  it('a user created after the report was generated is not expected in it', async () => {
    liveEntities({
      users: [
        userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] }),
        userDetail({ name: 'bob' }),
        userDetail({ name: 'new', createDate: daysBefore(0.01) }),
      ],
    });
    const findings = findingsOf(await live());
    expect(findings.filter((f) => f.resource.startsWith(userArn('new')))).toHaveLength(1); // user-full-access only
    expect(statuses(findings, 'access-key-age')).toEqual(['FAIL', 'PASS']);
  });

  it('a report row for a user the details do not list is reported in its finding, not silently used', async () => {
    liveReport([...reportRows(), userReportRow({ name: 'ghost', keys: [{ active: true, lastRotated: daysBefore(5) }] })]);
    const f = finding(findingsOf(await live()), 'access-key-age', `${userArn('ghost')}#access_key_1`);
    expect(f.title).toContain('(the user is not in the authorization details)');
    expect(f.details.notInAuthorizationDetails).toContain('the credential report lists ghost');
  });

  it('a report row listed twice: merged when identical, an error naming both lines when not', async () => {
    liveReport([...reportRows(), reportRows()[2]!]);
    expect(read((await live()).credentialReport).rows.map((r) => r.user)).toEqual(['<root_account>', 'ann', 'bob']);

    liveReport([...reportRows(), userReportRow({ name: 'bob', keys: [{ active: true, lastRotated: daysBefore(300) }] })]);
    const problem = unreadOf((await live()).credentialReport);
    expect(problem.reason).toBe(
      'credential report lines 4 and 5 both list user bob with different values (access_key_1_last_rotated): a report lists each user once',
    );
  });

  it('a user created in the future: the source is unread, naming the entry', async () => {
    liveEntities({ users: [userDetail({ name: 'ann', createDate: TOMORROW })] });
    const problem = unreadOf((await live()).authorizationDetails);
    expect(problem.reason).toMatch(
      /^iam:GetAccountAuthorizationDetails: UserDetailList\[0\] \(user ann\): CreateDate .* is after the audit time/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('offline loader', () => {
  it('the export as written is clean: every source read', async () => {
    const inventory = await offline(exportFiles());
    expect([inventory.authorizationDetails.state, inventory.credentialReport.state, inventory.accessKeys.ann?.state]).toEqual([
      'read',
      'read',
      'read',
    ]);
    expect(statuses(findingsOf(inventory), 'access-key-age')).toEqual(['FAIL', 'PASS']);
  });

  it('no UserDetailList: the file is unread, not an account without users', async () => {
    const { UserDetailList: _, ...rest } = asCli(authorizationDetailsPage(entities())) as Record<string, unknown>;
    const inventory = await offline(exportFiles({ details: rest }));
    const problem = unreadOf(inventory.authorizationDetails);
    expect(problem).toMatchObject({ call: 'account-authorization-details.json', code: 'InvalidFile' });
    expect(problem.reason).toMatch(/^account-authorization-details\.json: has no UserDetailList: /);
    const findings = findingsOf(inventory);
    expect(statuses(findings, 'user-full-access')).toEqual(['ERROR']);
    expect(byCheck(findings, 'user-full-access')[0]!.details.call).toBe('account-authorization-details.json');
    expect(statuses(findings, 'access-key-age')).toEqual(['FAIL', 'PASS']);
  });

  it('a manifest date 11/01 stops the import, naming the file, the field and the reason', async () => {
    for (const collectedAt of ['11/01', '2026-11-01', '2026-11-01T00:00:00']) {
      const dir = await folder({ ...exportFiles(), 'manifest.json': { collectedAt } });
      const error = await loadOffline(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OfflineInputError);
      expect((error as Error).message).toBe(
        `${path.join(dir, 'manifest.json')}: collectedAt: must be an ISO 8601 date and time with a time zone, such as 2026-11-01T00:00:00Z`,
      );
    }
  });

  it('a key rotated in the future: the report is unread, naming the file, line, user, column and reason', async () => {
    const inventory = await offline(
      exportFiles({ rows: [rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: TOMORROW }] })] }),
    );
    const problem = unreadOf(inventory.credentialReport);
    expect(problem.call).toBe('credential-report.json');
    expect(problem.reason).toMatch(
      /^credential-report\.json: credential report line 3 \(user ann\), column access_key_1_last_rotated: "2026-11-02T00:00:00\+00:00" is after the audit time \(2026-11-01T00:00:00\.000Z\)/,
    );
    const findings = findingsOf(inventory);
    expect(statuses(findings, 'access-key-age')).toEqual(['ERROR']);
    expect(statuses(findings, 'root-access-key')).toEqual(['PASS']);
    expect(statuses(findings, 'user-full-access')).toEqual(['FAIL', 'PASS']);
  });

  it('a report date without a time zone, and a GeneratedTime that is not ISO 8601, are errors', async () => {
    const rows = reportRows();
    rows[1]!.access_key_1_last_rotated = '2026-04-15';
    expect(unreadOf((await offline(exportFiles({ rows }))).credentialReport).reason).toContain(
      'column access_key_1_last_rotated: "2026-04-15" is not an ISO 8601 date and time with a time zone',
    );
    const files = exportFiles();
    (files['credential-report.json'] as Record<string, unknown>).GeneratedTime = '11/01/2026 08:00';
    expect(unreadOf((await offline(files)).credentialReport).reason).toBe(
      'credential-report.json: GeneratedTime "11/01/2026 08:00" is not an ISO 8601 date and time with a time zone (such as 2026-11-01T00:00:00Z)',
    );
  });

  it('Status "active" in an access-keys export is an error for that user, and the key stays FAIL', async () => {
    const inventory = await offline({
      ...exportFiles(),
      'access-keys/ann.json': {
        AccessKeyMetadata: [
          { UserName: 'ann', AccessKeyId: 'AKIAEXAMPLEANN000001', Status: 'active', CreateDate: daysBefore(200).toISOString() },
        ],
      },
    });
    const problem = unreadOf(inventory.accessKeys.ann!);
    expect(problem).toEqual({
      state: 'unread',
      call: 'access-keys/ann.json',
      reason: 'access-keys/ann.json: AccessKeyMetadata[0] (AKIAEXAMPLEANN000001): Status is "active"; a key is exactly Active or Inactive',
      code: 'InvalidFile',
      kind: 'invalid',
    });
    const f = finding(findingsOf(inventory), 'access-key-age', `${userArn('ann')}#access_key_1`);
    expect(f.status).toBe('FAIL');
    expect(f.details.keyIdLookup).toMatchObject({ call: 'access-keys/ann.json' });
  });

  it('a managed policy listed on two pages with different documents: ERROR for the users it reaches, naming both files', async () => {
    const page = (policies: ManagedPolicyDetail[], users: ReturnType<typeof userDetail>[]) =>
      asCli(authorizationDetailsPage({ users, groups: [], roles: [], policies })) as Record<string, unknown>;
    const other = managedPolicyDetail({ name: 'AdministratorAccess', accountId: 'aws', document: policy(allow('s3:GetObject')) });
    const files = {
      ...exportFiles(),
      'account-authorization-details.json': undefined,
      'account-authorization-details-1.json': {
        ...page([ADMINISTRATOR_ACCESS], [userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] })]),
        NextToken: 't1',
      },
      'account-authorization-details-2.json': page([other], [userDetail({ name: 'bob' })]),
    };
    const inventory = await offline(files);
    const arn = ADMINISTRATOR_ACCESS.Arn!;
    expect(read(inventory.authorizationDetails).policies[arn]!.document).toEqual({
      ok: false,
      error: `the managed policy ${arn} is listed twice with different content, at account-authorization-details-1.json Policies[0] and at account-authorization-details-2.json Policies[0] (they differ in document)`,
    });
    const findings = findingsOf(inventory);
    expect(finding(findings, 'user-full-access', userArn('ann')).status).toBe('ERROR');
    expect(finding(findings, 'user-full-access', userArn('bob')).status).toBe('PASS');
  });

  it('a user listed on two pages with different content: unread, naming both files and entries; an exact repeat is merged', async () => {
    const page = (users: ReturnType<typeof userDetail>[], policies: ManagedPolicyDetail[] = []) =>
      asCli(authorizationDetailsPage({ users, groups: [], roles: [], policies })) as Record<string, unknown>;
    const base = { ...exportFiles(), 'account-authorization-details.json': undefined };
    const different = await offline({
      ...base,
      'account-authorization-details-1.json': {
        ...page([userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] }), userDetail({ name: 'bob' })], [ADMINISTRATOR_ACCESS]),
        NextToken: 't1',
      },
      'account-authorization-details-2.json': page([userDetail({ name: 'ann' })]),
    });
    expect(unreadOf(different.authorizationDetails)).toEqual({
      state: 'unread',
      call: 'account-authorization-details-2.json',
      reason:
        'account-authorization-details-2.json: user ann is listed twice with different content, at account-authorization-details-1.json UserDetailList[0] (user ann) ' +
        'and at account-authorization-details-2.json UserDetailList[0] (user ann) (they differ in attachedPolicies): which one IAM holds cannot be told, so neither is used',
      code: 'InvalidFile',
      kind: 'invalid',
    });
    const same = await offline({
      ...base,
      'account-authorization-details-1.json': {
        ...page([userDetail({ name: 'ann', attached: [ADMINISTRATOR_ACCESS] }), userDetail({ name: 'bob' })], [ADMINISTRATOR_ACCESS]),
        NextToken: 't1',
      },
      'account-authorization-details-2.json': page([userDetail({ name: 'bob' })]),
    });
    expect(read(same.authorizationDetails).users.map((u) => u.name)).toEqual(['ann', 'bob']);
  });

  it('a report row listed twice with different values names both lines', async () => {
    const rows = [...reportRows(), userReportRow({ name: 'ann', keys: [{ active: false, lastRotated: daysBefore(200) }] })];
    expect(unreadOf((await offline(exportFiles({ rows }))).credentialReport).reason).toBe(
      'credential-report.json: credential report lines 3 and 5 both list user ann with different values (access_key_1_active): a report lists each user once',
    );
  });

  it('two default versions: ERROR for the users the policy reaches, naming the versions', async () => {
    const details = asCli(authorizationDetailsPage(entities())) as {
      Policies: { PolicyVersionList: { IsDefaultVersion: boolean; VersionId: string }[] }[];
    };
    details.Policies[0]!.PolicyVersionList.push({ ...details.Policies[0]!.PolicyVersionList[0]!, VersionId: 'v0', IsDefaultVersion: true });
    const inventory = await offline(exportFiles({ details }));
    expect(read(inventory.authorizationDetails).policies[ADMINISTRATOR_ACCESS.Arn!]!.document).toEqual({
      ok: false,
      error: 'the policy has 2 versions flagged IsDefaultVersion (v1 and v0): IAM has one default version',
    });
    expect(finding(findingsOf(inventory), 'user-full-access', userArn('ann')).status).toBe('ERROR');
  });

  it('a credential report missing a listed user: that user’s key findings are ERROR, and a report without a generation time cannot excuse it', async () => {
    const rows = [rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(200) }] })];
    const findings = findingsOf(await offline(exportFiles({ rows })));
    const bob = finding(findings, 'access-key-age', `${userArn('bob')}#access_key_1`);
    expect(bob.status).toBe('ERROR');
    expect(bob.details).toMatchObject({
      user: 'bob',
      userArn: userArn('bob'),
      reason: expect.stringContaining('has no row for this user'),
    });

    const csv = await offline({
      ...exportFiles(),
      'credential-report.json': undefined,
      'credential-report.csv': credentialReportCsv(rows),
    });
    const fromCsv = finding(findingsOf(csv), 'access-key-age', `${userArn('bob')}#access_key_2`);
    expect(fromCsv.status).toBe('ERROR');
    expect(fromCsv.details.reason).toContain('whose generation time is unknown');
  });

  it('a user missing from the next night’s report: its open key finding stays open as ERROR, never resolved', async () => {
    const night = async (rows: CredentialReportRecord[]) =>
      runAudit({ collect: async () => offline(exportFiles({ rows })), settings: SETTINGS, trigger: 'local', now: () => FIXTURE_NOW });
    const bobOld = [
      rootReportRow(),
      userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(10) }] }),
      userReportRow({ name: 'bob', keys: [{ active: true, lastRotated: daysBefore(200) }] }),
    ];
    const first = reconcile(await night(bobOld), new Map(), []);
    const id = `${ACCOUNT}#access-key-age#${userArn('bob')}#access_key_1`;
    expect(first.findings.find((r) => r.state.id === id)).toMatchObject({ change: 'new', state: { status: 'FAIL' } });
    const stored = new Map<string, StoredFinding>(first.findings.map((r) => [r.state.id, r.state]));

    const second = reconcile(await night(bobOld.slice(0, 2)), stored, []);
    expect(second.findings.find((r) => r.state.id === id)).toMatchObject({ change: 'open', state: { status: 'ERROR', resolvedAt: null } });
    expect(second.run.counts.resolved).toBe(0);
  });

  it('a symbolic link to a file and to a folder are read like any other', async () => {
    const elsewhere = await folder(exportFiles());
    const dir = await folder({ 'manifest.json': { collectedAt: FIXTURE_NOW.toISOString() } });
    for (const name of ['caller-identity.json', 'account-summary.json', 'credential-report.json', 'account-authorization-details.json']) {
      await symlink(path.join(elsewhere, name), path.join(dir, name));
    }
    await symlink(path.join(elsewhere, 'us-east-1'), path.join(dir, 'us-east-1'), 'dir');
    await mkdir(path.join(dir, 'access-keys'));
    await symlink(path.join(elsewhere, 'access-keys', 'ann.json'), path.join(dir, 'access-keys', 'ann.json'));
    const linked = await loadOffline(dir);
    const direct = await loadOffline(elsewhere);
    expect(linked.regions.map((r) => r.region)).toEqual(['us-east-1']);
    expect({ ...linked, origin: '' }).toEqual({ ...direct, origin: '' });
    expect(linked.accessKeys.ann?.state).toBe('read');
  });

  it('an entry that cannot be read is named, never skipped: a broken link, a loop, a folder or a pipe where a file belongs', async () => {
    const dir = await folder(exportFiles());
    await rename(path.join(dir, 'credential-report.json'), path.join(dir, 'moved.json'));
    await symlink(path.join(dir, 'gone.json'), path.join(dir, 'credential-report.json'));
    await rm(path.join(dir, 'us-east-1'), { recursive: true });
    await symlink(path.join(dir, 'no-such-folder'), path.join(dir, 'us-east-1'));
    await rm(path.join(dir, 'account-summary.json'));
    await symlink(path.join(dir, 'account-summary.json'), path.join(dir, 'loop-b'));
    await symlink(path.join(dir, 'loop-b'), path.join(dir, 'account-summary.json'));
    await mkdir(path.join(dir, 'access-keys', 'bob.json'));
    execFileSync('mkfifo', [path.join(dir, 'access-keys', 'cid.json')]);

    const inventory = await loadOffline(dir);
    expect(unreadOf(inventory.credentialReport)).toEqual({
      state: 'unread',
      call: 'credential-report.json',
      reason: `credential-report.json: is a symbolic link to ${path.join(dir, 'gone.json')}, which does not exist`,
      code: 'InvalidFile',
      kind: 'invalid',
    });
    expect(unreadOf(inventory.accountSummary).reason).toBe('account-summary.json: is a loop of symbolic links');
    const region = inventory.regions.find((r) => r.region === 'us-east-1')!;
    expect(unreadOf(region.dax).reason).toBe(`us-east-1/: is a symbolic link to ${path.join(dir, 'no-such-folder')}, which does not exist`);
    expect(unreadOf(region.elastiCache).call).toBe('us-east-1/');
    expect(unreadOf(inventory.accessKeys.bob!).reason).toBe('access-keys/bob.json: is a folder, not a file');
    expect(unreadOf(inventory.accessKeys.cid!).reason).toBe('access-keys/cid.json: is not a regular file (a pipe, socket or device)');
    // The rest is read, and its checks run.
    expect(inventory.authorizationDetails.state).toBe('read');
    const findings = findingsOf(inventory);
    expect(statuses(findings, 'user-full-access')).toEqual(['FAIL', 'PASS']);
    expect(statuses(findings, 'dax-service-role')).toContain('ERROR');
    expect(JSON.stringify(byCheck(findings, 'dax-service-role'))).toContain('us-east-1/');
  });

  it('a folder where an export file belongs is named, not taken for a missing file', async () => {
    const dir = await folder({ ...exportFiles(), 'account-authorization-details.json': undefined, 'credential-report.json': undefined });
    await mkdir(path.join(dir, 'account-authorization-details.json'));
    await mkdir(path.join(dir, 'elsewhere'));
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'credential-report.json'));
    const inventory = await loadOffline(dir);
    expect(unreadOf(inventory.authorizationDetails)).toMatchObject({
      call: 'account-authorization-details.json',
      reason: 'account-authorization-details.json: is a folder, not a file',
    });
    expect(unreadOf(inventory.credentialReport).reason).toBe('credential-report.json: is a folder, not a file');
    expect(statuses(findingsOf(inventory), 'root-access-key')).toEqual(['PASS']);
  });

  it('an access-keys entry that is not a folder names itself in the lookups of the users with active keys', async () => {
    const dir = await folder({ ...exportFiles(), 'access-keys/ann.json': undefined });
    await rm(path.join(dir, 'access-keys'), { recursive: true, force: true });
    await symlink(path.join(dir, 'nowhere'), path.join(dir, 'access-keys'));
    const inventory = await loadOffline(dir);
    expect(Object.keys(inventory.accessKeys).sort()).toEqual(['ann', 'bob']);
    expect(unreadOf(inventory.accessKeys.ann!).reason).toBe(
      `access-keys/: is a symbolic link to ${path.join(dir, 'nowhere')}, which does not exist`,
    );
    expect(finding(findingsOf(inventory), 'access-key-age', `${userArn('ann')}#access_key_1`).details.keyIdLookup).toMatchObject({
      call: 'access-keys/',
    });
  });

  it('a user created in the future: unread, naming the file and the entry', async () => {
    const details = asCli(authorizationDetailsPage({ ...entities(), users: [userDetail({ name: 'ann', createDate: TOMORROW })] }));
    expect(unreadOf((await offline(exportFiles({ details }))).authorizationDetails).reason).toMatch(
      /^account-authorization-details\.json: UserDetailList\[0\] \(user ann\): CreateDate "2026-11-02T00:00:00\.000Z" is after the audit time/,
    );
  });
});
