import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOffline, NO_REGION_FOLDER_REASON, OfflineInputError } from '#lib/inventory/offline.ts';
import { OFFLINE_FILES } from '#lib/inventory/registry.ts';
import { NO_REGION } from '#lib/inventory/definition.ts';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import { daxServiceRole, elastiCacheServiceLinkedRole, userFullAccess } from '#test/checks.ts';
import { parseSettings } from '#lib/settings.ts';

const ACCOUNT = '111122223333';
const NOW = new Date('2026-06-01T12:00:00Z');
const now = (): Date => NOW;

const CSV_HEADER =
  'user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,' +
  'access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,' +
  'access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,' +
  'cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated';

function reportCsv(account = ACCOUNT): string {
  return [
    CSV_HEADER,
    `<root_account>,arn:aws:iam::${account}:root,2020-01-01T00:00:00+00:00,not_supported,2026-05-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`,
    `ann,arn:aws:iam::${account}:user/ann,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-01-01T00:00:00+00:00,2026-05-30T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A`,
  ].join('\n');
}

const adminDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

function user(name: string, account = ACCOUNT, inline: unknown = adminDocument) {
  return {
    Path: '/',
    UserName: name,
    UserId: `AIDA${name.toUpperCase().padEnd(17, 'X')}`,
    Arn: `arn:aws:iam::${account}:user/${name}`,
    CreateDate: '2024-01-01T00:00:00+00:00',
    UserPolicyList: [{ PolicyName: `${name}-inline`, PolicyDocument: inline }],
    GroupList: [],
    AttachedManagedPolicies: [],
  };
}

function details(users: unknown[]) {
  return { UserDetailList: users, GroupDetailList: [], RoleDetailList: [], Policies: [] };
}

/** A complete export folder, as the AWS CLI writes it; tests delete or replace single files. */
function fullFolder(): Record<string, unknown> {
  return {
    'caller-identity.json': { UserId: 'AIDAEXAMPLE', Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/ann` },
    'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0, AccountMFAEnabled: 1, Users: 1 } },
    'credential-report.json': {
      Content: Buffer.from(reportCsv()).toString('base64'),
      ReportFormat: 'text/csv',
      GeneratedTime: '2026-06-01T08:00:00+00:00',
    },
    'account-authorization-details.json': details([user('ann')]),
    'access-keys/ann.json': {
      AccessKeyMetadata: [
        { UserName: 'ann', AccessKeyId: 'AKIAEXAMPLEANN000001', Status: 'Active', CreateDate: '2026-01-01T00:00:00+00:00' },
      ],
    },
    'us-east-1/cache-clusters.json': {
      CacheClusters: [
        {
          CacheClusterId: 'c1',
          Engine: 'redis',
          CacheClusterStatus: 'available',
          ARN: `arn:aws:elasticache:us-east-1:${ACCOUNT}:cluster:c1`,
        },
      ],
    },
    'us-east-1/replication-groups.json': { ReplicationGroups: [] },
    'us-east-1/dax-clusters.json': {
      Clusters: [
        {
          ClusterName: 'd1',
          ClusterArn: `arn:aws:dax:us-east-1:${ACCOUNT}:cache/d1`,
          Status: 'available',
          IamRoleArn: `arn:aws:iam::${ACCOUNT}:role/dax`,
        },
      ],
    },
    'eu-west-1/cache-clusters.json': { CacheClusters: [] },
    'eu-west-1/replication-groups.json': { ReplicationGroups: [] },
    'eu-west-1/dax-clusters.json': { Clusters: [] },
  };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Writes files into a fresh temporary folder: objects as the CLI's 4-space JSON, strings verbatim. */
async function folder(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'offline-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    if (content === undefined) continue;
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(
      path.join(dir, name),
      typeof content === 'string' || Buffer.isBuffer(content) ? content : `${JSON.stringify(content, null, 4)}\n`,
    );
  }
  return dir;
}

function read<T>(source: Source<T>): T {
  if (source.state !== 'read') throw new Error(`expected read, got unread ${source.call}: ${source.reason}`);
  return source.data;
}

function unreadOf<T>(source: Source<T>): { call: string; reason: string; code?: string } {
  if (source.state !== 'unread') throw new Error('expected unread, got read');
  return source;
}

function region(inventory: Inventory, name: string) {
  const found = inventory.regions.find((r) => r.region === name);
  if (!found) throw new Error(`no region ${name}`);
  return found;
}

/** Every Source of the inventory by a short name, to assert that exactly one went unread. */
function sourceStates(inventory: Inventory): Record<string, Source<unknown>['state']> {
  return {
    accountSummary: inventory.accountSummary.state,
    credentialReport: inventory.credentialReport.state,
    authorizationDetails: inventory.authorizationDetails.state,
    ...Object.fromEntries(
      inventory.regions.flatMap((r) => [
        [`${r.region}/elastiCache`, r.elastiCache.state],
        [`${r.region}/dax`, r.dax.state],
      ]),
    ),
    ...Object.fromEntries(Object.entries(inventory.accessKeys).map(([u, s]) => [`accessKeys/${u}`, s.state])),
  };
}

describe('loadOffline: a complete folder', () => {
  it('reads every source, the account from caller-identity.json and the time from now()', async () => {
    const dir = await folder(fullFolder());
    const inventory = await loadOffline(dir, { now });

    expect(Object.values(sourceStates(inventory)).every((s) => s === 'read')).toBe(true);
    expect(inventory.accountId).toBe(ACCOUNT);
    expect(inventory.partition).toBe('aws');
    expect(inventory.origin).toBe(`offline:${dir}`);
    expect(inventory.collectedAt).toBe('2026-06-01T12:00:00.000Z');
    expect(inventory.regions.map((r) => r.region)).toEqual(['eu-west-1', 'us-east-1']);

    expect(read(inventory.accountSummary).accountMfaEnabled).toBe(1);
    const report = read(inventory.credentialReport);
    expect(report.generatedAt).toBe('2026-06-01T08:00:00.000Z');
    expect(report.rows.map((r) => r.user)).toEqual(['<root_account>', 'ann']);
    expect(report.rows[1]!.keys[0]).toMatchObject({ active: true, lastRotated: '2026-01-01T00:00:00.000Z', lastUsedService: 's3' });
    expect(read(inventory.authorizationDetails).users[0]!.inlinePolicies[0]!.document).toEqual({ ok: true, document: adminDocument });
    expect(read(inventory.accessKeys.ann!)).toEqual([
      { accessKeyId: 'AKIAEXAMPLEANN000001', status: 'Active', createDate: '2026-01-01T00:00:00.000Z' },
    ]);
    expect(read(region(inventory, 'us-east-1').elastiCache).cacheClusters[0]).toMatchObject({ id: 'c1', engine: 'redis' });
    expect(read(region(inventory, 'us-east-1').dax)).toEqual({
      available: true,
      clusters: [
        {
          name: 'd1',
          arn: `arn:aws:dax:us-east-1:${ACCOUNT}:cache/d1`,
          status: 'available',
          iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/dax`,
        },
      ],
    });
    expect(read(region(inventory, 'eu-west-1').dax)).toEqual({ available: true, clusters: [] });
  });

  it('uses options.origin when given', async () => {
    const inventory = await loadOffline(await folder(fullFolder()), { now, origin: 'demo' });
    expect(inventory.origin).toBe('demo');
  });

  it('reads files written by Windows PowerShell (UTF-16 with a byte order mark) and UTF-8 with a BOM', async () => {
    const summary = JSON.stringify({ SummaryMap: { AccountAccessKeysPresent: 1 } });
    const dir = await folder({
      ...fullFolder(),
      'account-summary.json': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(summary, 'utf16le')]),
      'caller-identity.json': `\uFEFF${JSON.stringify({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/ann` })}`,
    });
    const inventory = await loadOffline(dir, { now });
    expect(read(inventory.accountSummary).accountAccessKeysPresent).toBe(1);
    expect(inventory.accountId).toBe(ACCOUNT);
  });
});

describe('loadOffline: authorization details', () => {
  it('accepts documents decoded as objects (AWS CLI) and URL-encoded strings (SDK, hand-made exports)', async () => {
    const encoded = encodeURIComponent(JSON.stringify(adminDocument));
    const dir = await folder({
      ...fullFolder(),
      'account-authorization-details.json': details([user('ann'), user('bob', ACCOUNT, encoded), user('cid', ACCOUNT, '%7B%22broken')]),
    });
    const users = read((await loadOffline(dir, { now })).authorizationDetails).users;
    expect(users.map((u) => u.inlinePolicies[0]!.document)).toEqual([
      { ok: true, document: adminDocument },
      { ok: true, document: adminDocument },
      // One undecodable document is kept as an error for the check, not a reason to drop the file.
      { ok: false, error: expect.stringContaining('not valid JSON') },
    ]);
  });

  it('merges page files in numeric order (-1, -2, ... -10), not text order', async () => {
    const pages = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => i + 1)
        .reverse()
        .map((n) => [
          `account-authorization-details-${n}.json`,
          { ...details([user(`u${n}`)]), ...(n < 10 ? { NextToken: `token-${n}` } : {}) },
        ]),
    );
    const dir = await folder({ ...fullFolder(), 'account-authorization-details.json': undefined, ...pages });
    const inventory = await loadOffline(dir, { now });
    expect(read(inventory.authorizationDetails).users.map((u) => u.name)).toEqual(Array.from({ length: 10 }, (_, i) => `u${i + 1}`));
  });

  /** A folder of page files instead of the single file; `undefined` deletes a page. */
  async function pagesFolder(pages: Record<string, unknown>): Promise<string> {
    return folder({ ...fullFolder(), 'account-authorization-details.json': undefined, ...pages });
  }

  it('a missing middle page makes the source unread, naming the page, so its admins cannot vanish into a PASS', async () => {
    const dir = await pagesFolder({
      'account-authorization-details-1.json': { ...details([user('ann')]), NextToken: 'tok1' },
      // page 2, with the administrator, was never exported
      'account-authorization-details-3.json': details([user('zed', ACCOUNT, { Version: '2012-10-17', Statement: [] })]),
    });
    const inventory = await loadOffline(dir, { now });
    const problem = unreadOf(inventory.authorizationDetails);
    expect(problem).toMatchObject({ call: 'account-authorization-details-2.json', code: 'FileNotFound' });
    expect(problem.reason).toContain('page 2 of 3 is missing');
    expect(problem.reason).toContain('account-authorization-details-1.json and account-authorization-details-3.json');
    expect(problem.reason).toContain(
      '--starting-token <the NextToken of account-authorization-details-1.json> > account-authorization-details-2.json',
    );
    const findings = userFullAccess.evaluate(inventory, parseSettings({}));
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.status === 'ERROR')).toBe(true);
  });

  it('a missing first page, or several missing pages, are named too', async () => {
    const noFirst = unreadOf(
      (await loadOffline(await pagesFolder({ 'account-authorization-details-2.json': details([user('ann')]) }), { now }))
        .authorizationDetails,
    );
    expect(noFirst).toMatchObject({ call: 'account-authorization-details-1.json', code: 'FileNotFound' });
    expect(noFirst.reason).toContain('aws iam get-account-authorization-details --max-items 1000 > account-authorization-details-1.json');

    const gaps = unreadOf(
      (
        await loadOffline(
          await pagesFolder({
            'account-authorization-details-1.json': { ...details([user('ann')]), NextToken: 'a' },
            'account-authorization-details-3.json': { ...details([]), NextToken: 'c' },
            'account-authorization-details-5.json': details([]),
          }),
          { now },
        )
      ).authorizationDetails,
    );
    expect(gaps.reason).toContain(
      'page 2, 4 of 5 are missing (account-authorization-details-2.json and account-authorization-details-4.json;',
    );
  });

  it('a page that says it is the last, followed by more pages: the extra pages are named', async () => {
    const dir = await pagesFolder({
      'account-authorization-details-1.json': { ...details([user('ann')]), NextToken: 'tok1' },
      'account-authorization-details-2.json': details([]),
      'account-authorization-details-3.json': details([user('bob')]),
    });
    const problem = unreadOf((await loadOffline(dir, { now })).authorizationDetails);
    expect(problem).toMatchObject({ call: 'account-authorization-details-2.json', code: 'InvalidFile' });
    expect(problem.reason).toBe(
      'account-authorization-details-2.json: has no NextToken, so it is the last page of its export, yet account-authorization-details-3.json follows: ' +
        'it is an extra page (from another export?); keep only the pages of one export, numbered from 1',
    );
  });

  it('accepts the API form of "more follow" (IsTruncated with a Marker) on every page but the last', async () => {
    const dir = await pagesFolder({
      'account-authorization-details-1.json': { ...details([user('ann')]), IsTruncated: true, Marker: 'm1' },
      'account-authorization-details-2.json': { ...details([user('bob')]), Marker: 'm2' },
      'account-authorization-details-3.json': { ...details([user('cid')]), IsTruncated: false },
    });
    expect(read((await loadOffline(dir, { now })).authorizationDetails).users.map((u) => u.name)).toEqual(['ann', 'bob', 'cid']);
  });

  it('refuses a page file not named by its number, naming it, rather than merging or ignoring it', async () => {
    const withPages = await pagesFolder({
      'account-authorization-details-1.json': { ...details([user('ann')]), NextToken: 'tok1' },
      'account-authorization-details-2.json': details([user('bob')]),
      'account-authorization-details-old.json': details([user('old-admin')]),
    });
    const problem = unreadOf((await loadOffline(withPages, { now })).authorizationDetails);
    expect(problem).toMatchObject({ call: 'account-authorization-details-old.json', code: 'InvalidFile' });
    expect(problem.reason).toContain(
      'account-authorization-details-old.json is not named like a page (account-authorization-details-1.json',
    );

    // Alone, it is not "file not found" either: it may be the export the user meant.
    const alone = await pagesFolder({ 'account-authorization-details-final.json': details([user('ann')]) });
    expect(unreadOf((await loadOffline(alone, { now })).authorizationDetails)).toMatchObject({
      call: 'account-authorization-details-final.json',
      code: 'InvalidFile',
    });
  });

  it('refuses two files for one page, a page 0, and two pages with the same NextToken', async () => {
    const twice = await pagesFolder({
      'account-authorization-details-1.json': details([user('ann')]),
      'account-authorization-details-01.json': details([user('ann')]),
    });
    expect(unreadOf((await loadOffline(twice, { now })).authorizationDetails).reason).toContain('are both page 1: keep one');

    const zero = await pagesFolder({
      'account-authorization-details-0.json': { ...details([user('ann')]), NextToken: 'z' },
      'account-authorization-details-1.json': details([user('bob')]),
    });
    expect(unreadOf((await loadOffline(zero, { now })).authorizationDetails)).toMatchObject({
      call: 'account-authorization-details-0.json',
      reason: 'account-authorization-details-0.json is an extra page: pages are numbered from 1',
    });

    const copy = await pagesFolder({
      'account-authorization-details-1.json': { ...details([user('ann')]), NextToken: 'tok1' },
      'account-authorization-details-2.json': { ...details([user('bob')]), NextToken: 'tok2' },
      'account-authorization-details-3.json': { ...details([user('bob')]), NextToken: 'tok2' },
      'account-authorization-details-4.json': details([user('cid')]),
    });
    expect(unreadOf((await loadOffline(copy, { now })).authorizationDetails)).toMatchObject({
      call: 'account-authorization-details-3.json',
      reason:
        'account-authorization-details-3.json: has the same NextToken as account-authorization-details-2.json: one of them is a copy of the other page',
    });
  });

  it('marks the export incomplete when the last page still has a NextToken', async () => {
    const dir = await folder({
      ...fullFolder(),
      'account-authorization-details.json': undefined,
      'account-authorization-details-1.json': { ...details([user('u1')]), NextToken: 'eyJNYXJrZXIiOiBudWxsfQ==' },
    });
    const problem = unreadOf((await loadOffline(dir, { now })).authorizationDetails);
    expect(problem.call).toBe('account-authorization-details-1.json');
    expect(problem.reason).toContain('incomplete');
    expect(problem.reason).toContain('--starting-token eyJNYXJrZXIiOiBudWxsfQ== > account-authorization-details-2.json');
  });

  it('refuses a single file and page files together rather than counting everyone twice', async () => {
    const dir = await folder({ ...fullFolder(), 'account-authorization-details-1.json': details([user('ann')]) });
    const problem = unreadOf((await loadOffline(dir, { now })).authorizationDetails);
    expect(problem.reason).toContain('account-authorization-details-1.json');
    expect(problem.reason).toContain('keep one');
  });

  it('names the page file whose shape is wrong', async () => {
    const dir = await folder({
      ...fullFolder(),
      'account-authorization-details.json': undefined,
      'account-authorization-details-1.json': { ...details([user('u1')]), NextToken: 't' },
      'account-authorization-details-2.json': { ...details([]), UserDetailList: [{ UserName: 'x' }] },
    });
    const problem = unreadOf((await loadOffline(dir, { now })).authorizationDetails);
    expect(problem.call).toBe('account-authorization-details-2.json');
    expect(problem.reason).toMatch(/^account-authorization-details-2\.json: UserDetailList\.0\.Arn: /);
  });

  it('does not read another command’s output (aws iam list-users) as an account without users', async () => {
    const dir = await folder({ ...fullFolder(), 'account-authorization-details.json': { Users: [{ UserName: 'ann' }] } });
    const problem = unreadOf((await loadOffline(dir, { now })).authorizationDetails);
    expect(problem.reason).toContain('not the output of aws iam get-account-authorization-details');
  });
});

describe('loadOffline: credential report', () => {
  it('reads the decoded CSV with an unknown generation time, and the same rows as the JSON form', async () => {
    const fromJson = read((await loadOffline(await folder(fullFolder()), { now })).credentialReport);
    const dir = await folder({ ...fullFolder(), 'credential-report.json': undefined, 'credential-report.csv': reportCsv() });
    const fromCsv = read((await loadOffline(dir, { now })).credentialReport);
    expect(fromCsv.generatedAt).toBeNull();
    expect(fromCsv.rows).toEqual(fromJson.rows);
  });

  it('accepts a .csv file that is still base64 (exported without | base64 --decode)', async () => {
    const wrapped = Buffer.from(reportCsv())
      .toString('base64')
      .replace(/(.{76})/g, '$1\n');
    const dir = await folder({ ...fullFolder(), 'credential-report.json': undefined, 'credential-report.csv': wrapped });
    expect(read((await loadOffline(dir, { now })).credentialReport).rows).toHaveLength(2);
  });

  it('reports a .csv file that is neither CSV nor base64', async () => {
    const dir = await folder({
      ...fullFolder(),
      'credential-report.json': undefined,
      'credential-report.csv': 'ReportInProgress: report generation in progress\n',
    });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem.reason).toBe(
      'credential-report.csv: is neither a credential report CSV (its first line has no commas) nor base64 of one',
    );
  });

  it('refuses both forms at once', async () => {
    const dir = await folder({ ...fullFolder(), 'credential-report.csv': reportCsv() });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem.reason).toContain('both credential-report.json and credential-report.csv');
  });

  it('reports bad base64 Content', async () => {
    const dir = await folder({ ...fullFolder(), 'credential-report.json': { Content: 'dXNlcixhcm4*!!', ReportFormat: 'text/csv' } });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem).toMatchObject({ call: 'credential-report.json', code: 'InvalidFile' });
    expect(problem.reason).toBe('credential-report.json: Content is not valid base64');
  });

  it('reports a ReportFormat other than text/csv', async () => {
    const dir = await folder({
      ...fullFolder(),
      'credential-report.json': { Content: Buffer.from(reportCsv()).toString('base64'), ReportFormat: 'application/xml' },
    });
    expect(unreadOf((await loadOffline(dir, { now })).credentialReport).reason).toContain('ReportFormat is "application/xml"');
  });

  it('reports a CSV that is not a credential report, naming the missing columns', async () => {
    const dir = await folder({
      ...fullFolder(),
      'credential-report.json': undefined,
      'credential-report.csv': 'user,arn\nann,arn:aws:iam::111122223333:user/ann\n',
    });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem.call).toBe('credential-report.csv');
    expect(problem.reason).toMatch(/^credential-report\.csv: credential report lacks column\(s\): user_creation_time, /);
  });

  it('reports a CSV whose header repeats a column, naming it', async () => {
    const [header, ...rows] = reportCsv().split('\n');
    const csv = [`${header},access_key_1_active`, ...rows.map((r) => `${r},false`)].join('\n');
    const dir = await folder({ ...fullFolder(), 'credential-report.json': undefined, 'credential-report.csv': csv });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem).toMatchObject({ call: 'credential-report.csv', code: 'InvalidFile' });
    expect(problem.reason).toBe(
      'credential-report.csv: credential report line 1: column access_key_1_active appears twice (again as column 23); a report has each column once',
    );
  });

  it('reports a JSON file without Content', async () => {
    const dir = await folder({
      ...fullFolder(),
      'credential-report.json': { State: 'STARTED', Description: 'No report exists. Starting a new report generation task' },
    });
    const problem = unreadOf((await loadOffline(dir, { now })).credentialReport);
    expect(problem.reason).toContain('Content');
    expect(problem.reason).toContain('aws iam get-credential-report');
  });
});

describe('loadOffline: a missing file makes only its own source unread', () => {
  const cases: { file: string; source: string; command: string }[] = [
    { file: 'account-summary.json', source: 'accountSummary', command: 'aws iam get-account-summary > account-summary.json' },
    { file: 'credential-report.json', source: 'credentialReport', command: 'aws iam get-credential-report > credential-report.json' },
    {
      file: 'account-authorization-details.json',
      source: 'authorizationDetails',
      command: 'aws iam get-account-authorization-details > account-authorization-details.json',
    },
    {
      file: 'eu-west-1/cache-clusters.json',
      source: 'eu-west-1/elastiCache',
      command: 'aws elasticache describe-cache-clusters --region eu-west-1 > eu-west-1/cache-clusters.json',
    },
    {
      file: 'eu-west-1/replication-groups.json',
      source: 'eu-west-1/elastiCache',
      command: 'aws elasticache describe-replication-groups --region eu-west-1 > eu-west-1/replication-groups.json',
    },
    {
      file: 'us-east-1/dax-clusters.json',
      source: 'us-east-1/dax',
      command: 'aws dax describe-clusters --region us-east-1 > us-east-1/dax-clusters.json',
    },
  ];
  for (const { file, source, command } of cases) {
    it(`${file}`, async () => {
      const inventory = await loadOffline(await folder({ ...fullFolder(), [file]: undefined }), { now });
      const states = sourceStates(inventory);
      expect(
        Object.entries(states)
          .filter(([, s]) => s === 'unread')
          .map(([name]) => name),
      ).toEqual([source]);
      const sources: Record<string, Source<unknown>> = {
        accountSummary: inventory.accountSummary,
        credentialReport: inventory.credentialReport,
        authorizationDetails: inventory.authorizationDetails,
        'eu-west-1/elastiCache': region(inventory, 'eu-west-1').elastiCache,
        'us-east-1/dax': region(inventory, 'us-east-1').dax,
      };
      const problem = unreadOf(sources[source]!);
      expect(problem.call).toBe(file);
      expect(problem.code).toBe('FileNotFound');
      expect(problem.reason).toMatch(/^file not found \(export it with: /);
      expect(problem.reason).toContain(command);
    });
  }

  it('names both ElastiCache files when both are missing', async () => {
    const dir = await folder({
      ...fullFolder(),
      'us-east-1/cache-clusters.json': undefined,
      'us-east-1/replication-groups.json': undefined,
    });
    const problem = unreadOf(region(await loadOffline(dir, { now }), 'us-east-1').elastiCache);
    expect(problem.reason).toContain('us-east-1/cache-clusters.json: file not found');
    expect(problem.reason).toContain('us-east-1/replication-groups.json: file not found');
  });

  it('without access-keys/ no user is looked up, which is not an error', async () => {
    const inventory = await loadOffline(await folder({ ...fullFolder(), 'access-keys/ann.json': undefined }), { now });
    expect(inventory.accessKeys).toEqual({});
  });

  it('a region asked for but not exported is unread, not skipped', async () => {
    const inventory = await loadOffline(await folder(fullFolder()), { now, regions: ['us-east-1', 'ap-south-1'] });
    expect(inventory.regions.map((r) => r.region)).toEqual(['us-east-1', 'ap-south-1']);
    expect(unreadOf(region(inventory, 'ap-south-1').dax)).toMatchObject({ call: 'ap-south-1/dax-clusters.json', code: 'FileNotFound' });
    expect(read(region(inventory, 'us-east-1').dax)).toMatchObject({ available: true });
  });

  it('without any region folder (and no regions option), ElastiCache and DAX are unread, never "no clusters"', async () => {
    const files = Object.fromEntries(Object.entries(fullFolder()).filter(([name]) => !/^(us-east-1|eu-west-1)\//.test(name)));
    const inventory = await loadOffline(await folder(files), { now });
    expect(inventory.regions).toEqual([
      {
        region: NO_REGION,
        elastiCache: {
          state: 'unread',
          call: '<region>/cache-clusters.json',
          reason: NO_REGION_FOLDER_REASON,
          code: 'FileNotFound',
          kind: 'missing',
        },
        dax: {
          state: 'unread',
          call: '<region>/dax-clusters.json',
          reason: NO_REGION_FOLDER_REASON,
          code: 'FileNotFound',
          kind: 'missing',
        },
      },
    ]);
    expect(NO_REGION_FOLDER_REASON).toBe(
      'no <region>/ folder in the export: export ElastiCache and DAX per region (see `account-auditor files`)',
    );
    // The IAM sources are still read, and the regional checks say ERROR instead of passing or warning.
    expect(inventory.authorizationDetails.state).toBe('read');
    const settings = parseSettings({});
    for (const check of [elastiCacheServiceLinkedRole, daxServiceRole]) {
      const statuses = check.evaluate(inventory, settings).map((f) => f.status);
      expect(statuses, check.id).toContain('ERROR');
      expect(statuses, check.id).not.toContain('PASS');
    }
  });

  it('a folder that is not a region does not count as one', async () => {
    const files = Object.fromEntries(Object.entries(fullFolder()).filter(([name]) => !/^(us-east-1|eu-west-1)\//.test(name)));
    const inventory = await loadOffline(await folder({ ...files, 'backup-2024/cache-clusters.json': { CacheClusters: [] } }), { now });
    expect(inventory.regions.map((r) => r.region)).toEqual([NO_REGION]);
  });

  it('rejects a region option that is not a region name (it becomes a path)', async () => {
    await expect(loadOffline(await folder(fullFolder()), { now, regions: ['../etc'] })).rejects.toThrow(OfflineInputError);
  });
});

describe('loadOffline: a malformed file makes only its own source unread, naming the file and the problem', () => {
  it('invalid JSON, with line and column', async () => {
    const dir = await folder({ ...fullFolder(), 'account-summary.json': '{\n    "SummaryMap": {\n        "Users": 3,\n    }\n}\n' });
    const inventory = await loadOffline(dir, { now });
    const problem = unreadOf(inventory.accountSummary);
    expect(problem).toMatchObject({ call: 'account-summary.json', code: 'InvalidFile' });
    expect(problem.reason).toMatch(/^account-summary\.json: not valid JSON at line 4, column 5: /);
    expect(Object.entries(sourceStates(inventory)).filter(([, s]) => s === 'unread')).toHaveLength(1);
  });

  it('text or table output instead of JSON, with a hint', async () => {
    const dir = await folder({ ...fullFolder(), 'us-east-1/dax-clusters.json': 'CLUSTERS\td1\tavailable\n' });
    const problem = unreadOf(region(await loadOffline(dir, { now }), 'us-east-1').dax);
    expect(problem.reason).toContain('us-east-1/dax-clusters.json: not valid JSON at line 1, column 1');
    expect(problem.reason).toContain('--output json');
  });

  it('regression (property test): nesting deeper than the stack is still "not valid JSON", not "Maximum call stack size exceeded"', async () => {
    const dir = await folder({ ...fullFolder(), 'account-summary.json': '['.repeat(100_000) });
    const problem = unreadOf((await loadOffline(dir, { now })).accountSummary);
    expect(problem).toMatchObject({ call: 'account-summary.json', code: 'InvalidFile' });
    expect(problem.reason).toMatch(/^account-summary\.json: not valid JSON: /);
  });

  it('an empty file (the export command failed)', async () => {
    const dir = await folder({ ...fullFolder(), 'eu-west-1/dax-clusters.json': '' });
    const problem = unreadOf(region(await loadOffline(dir, { now }), 'eu-west-1').dax);
    expect(problem.reason).toContain('eu-west-1/dax-clusters.json: the file is empty');
  });

  it('a summary without SummaryMap', async () => {
    const dir = await folder({ ...fullFolder(), 'account-summary.json': { Summary: {} } });
    const problem = unreadOf((await loadOffline(dir, { now })).accountSummary);
    expect(problem.reason).toMatch(/^account-summary\.json: SummaryMap: /);
  });

  it('a SummaryMap without AccountAccessKeysPresent', async () => {
    const dir = await folder({ ...fullFolder(), 'account-summary.json': { SummaryMap: { Users: 2 } } });
    expect(unreadOf((await loadOffline(dir, { now })).accountSummary).reason).toContain('SummaryMap has no AccountAccessKeysPresent');
  });

  it('regional files without their list (another command’s output) are not read as "nothing there"', async () => {
    const dir = await folder({
      ...fullFolder(),
      'us-east-1/cache-clusters.json': { ReplicationGroups: [] },
      'eu-west-1/dax-clusters.json': {},
    });
    const inventory = await loadOffline(dir, { now });
    expect(unreadOf(region(inventory, 'us-east-1').elastiCache).reason).toBe(
      'us-east-1/cache-clusters.json: has no CacheClusters: this is not the output of aws elasticache describe-cache-clusters --region us-east-1',
    );
    expect(unreadOf(region(inventory, 'eu-west-1').dax).reason).toContain('has no Clusters');
  });

  it('a cluster without its identifier', async () => {
    const dir = await folder({ ...fullFolder(), 'us-east-1/dax-clusters.json': { Clusters: [{ Status: 'available' }] } });
    expect(unreadOf(region(await loadOffline(dir, { now }), 'us-east-1').dax).reason).toMatch(
      /^us-east-1\/dax-clusters\.json: Clusters\.0\.ClusterName: /,
    );
  });
});

describe('loadOffline: DAX not available in a region', () => {
  it('reads {"Unavailable": reason} as "service not available here", not as a failure', async () => {
    const dir = await folder({ ...fullFolder(), 'eu-west-1/dax-clusters.json': { Unavailable: 'DAX is not offered in eu-south-2' } });
    expect(read(region(await loadOffline(dir, { now }), 'eu-west-1').dax)).toEqual({
      available: false,
      reason: 'DAX is not offered in eu-south-2',
    });
  });

  it('rejects a marker without a reason, or with clusters as well', async () => {
    const dir = await folder({
      ...fullFolder(),
      'eu-west-1/dax-clusters.json': { Unavailable: true },
      'us-east-1/dax-clusters.json': { Unavailable: 'no DAX', Clusters: [] },
    });
    const inventory = await loadOffline(dir, { now });
    expect(unreadOf(region(inventory, 'eu-west-1').dax).reason).toContain('Unavailable must be a non-empty string');
    expect(unreadOf(region(inventory, 'us-east-1').dax).reason).toContain('both Unavailable and Clusters');
  });
});

describe('loadOffline: manifest.json', () => {
  it('fixes collectedAt, whatever the current time', async () => {
    const dir = await folder({ ...fullFolder(), 'manifest.json': { collectedAt: '2026-11-01T00:00:00Z' } });
    expect((await loadOffline(dir, { now })).collectedAt).toBe('2026-11-01T00:00:00.000Z');
  });

  it('stops the import when it is malformed rather than dating every key wrongly', async () => {
    for (const manifest of [{ collectedAt: 'yesterday' }, { collected_at: '2026-11-01T00:00:00Z' }, '{']) {
      const dir = await folder({ ...fullFolder(), 'manifest.json': manifest });
      await expect(loadOffline(dir, { now })).rejects.toThrow(/manifest\.json/);
    }
  });
});

describe('loadOffline: access-keys/', () => {
  it('reads one file per user, named by the file', async () => {
    const dir = await folder({
      ...fullFolder(),
      'access-keys/bob.json': {
        AccessKeyMetadata: [
          { UserName: 'bob', AccessKeyId: 'AKIAEXAMPLEBOB000001', Status: 'Inactive', CreateDate: '2025-01-01T00:00:00+00:00' },
        ],
      },
      'access-keys/README.txt': 'not an export',
    });
    const inventory = await loadOffline(dir, { now });
    expect(Object.keys(inventory.accessKeys)).toEqual(['ann', 'bob']);
    expect(read(inventory.accessKeys.bob!)[0]).toMatchObject({ status: 'Inactive', createDate: '2025-01-01T00:00:00.000Z' });
  });

  it('regression (property test): a user named __proto__ (a valid IAM name) is read under its name, not dropped', async () => {
    const dir = await folder({
      ...fullFolder(),
      'access-keys/__proto__.json': {
        AccessKeyMetadata: [
          { UserName: '__proto__', AccessKeyId: 'AKIAEXAMPLEPROTO0001', Status: 'Active', CreateDate: '2026-01-01T00:00:00+00:00' },
        ],
      },
    });
    const inventory = await loadOffline(dir, { now });
    expect(Object.keys(inventory.accessKeys).sort()).toEqual(['__proto__', 'ann']);
    expect(Object.hasOwn(inventory.accessKeys, '__proto__')).toBe(true);
    // biome-ignore lint/suspicious/noProto: a user named __proto__ must be read as any other name
    expect(read(inventory.accessKeys.__proto__!)[0]).toMatchObject({ accessKeyId: 'AKIAEXAMPLEPROTO0001' });
  });

  it('marks a user unread when the file lists someone else’s keys or is malformed', async () => {
    const dir = await folder({
      ...fullFolder(),
      'access-keys/bob.json': { AccessKeyMetadata: [{ UserName: 'carl', AccessKeyId: 'AKIAEXAMPLECARL00001', Status: 'Active' }] },
      'access-keys/dan.json': { Keys: [] },
    });
    const inventory = await loadOffline(dir, { now });
    expect(unreadOf(inventory.accessKeys.bob!)).toMatchObject({ call: 'access-keys/bob.json' });
    expect(unreadOf(inventory.accessKeys.bob!).reason).toContain('user carl');
    expect(unreadOf(inventory.accessKeys.dan!).reason).toContain('aws iam list-access-keys');
    expect(read(inventory.accessKeys.ann!)).toHaveLength(1);
  });
});

describe('loadOffline: account and partition', () => {
  it('falls back to the credential report root row, then to the authorization details, then to unknown', async () => {
    const govArn = (arn: string) => arn.replaceAll('arn:aws:', 'arn:aws-us-gov:');
    const fromReport = await folder({
      ...fullFolder(),
      'caller-identity.json': undefined,
      'credential-report.json': undefined,
      'credential-report.csv': govArn(reportCsv('444455556666')),
      'account-authorization-details.json': details([user('ann', '444455556666')]),
    });
    expect(await loadOffline(fromReport, { now })).toMatchObject({ accountId: '444455556666', partition: 'aws-us-gov' });

    const fromDetails = await folder({ ...fullFolder(), 'caller-identity.json': undefined, 'credential-report.json': undefined });
    expect(await loadOffline(fromDetails, { now })).toMatchObject({ accountId: ACCOUNT, partition: 'aws' });

    const fromNothing = await folder({ 'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0 } } });
    expect(await loadOffline(fromNothing, { now })).toMatchObject({ accountId: 'unknown', partition: 'aws' });
  });

  it('refuses a folder that mixes two accounts’ exports', async () => {
    const dir = await folder({ ...fullFolder(), 'account-authorization-details.json': details([user('ann', '999999999999')]) });
    await expect(loadOffline(dir, { now })).rejects.toThrow(/different accounts: caller-identity\.json says 111122223333, .*999999999999/);
  });

  it('refuses a malformed caller-identity.json rather than guessing the account', async () => {
    const dir = await folder({ ...fullFolder(), 'caller-identity.json': { Account: 'me' } });
    await expect(loadOffline(dir, { now })).rejects.toThrow(OfflineInputError);
  });
});

describe('loadOffline: unusable folders', () => {
  it('a missing folder', async () => {
    const missing = path.join(tmpdir(), 'offline-does-not-exist-4711');
    await expect(loadOffline(missing)).rejects.toThrow(OfflineInputError);
    await expect(loadOffline(missing)).rejects.toThrow(`${missing}: no such folder`);
  });

  it('a file instead of a folder', async () => {
    const dir = await folder({ 'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0 } } });
    await expect(loadOffline(path.join(dir, 'account-summary.json'))).rejects.toThrow(/not a folder/);
  });

  it('an empty folder, or one without any known export, lists the expected files', async () => {
    for (const files of [
      {},
      { 'notes.txt': 'hello', 'manifest.json': { collectedAt: '2026-11-01T00:00:00Z' }, 'us-east-1/other.json': {} },
    ]) {
      const dir = await folder(files);
      const error = await loadOffline(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OfflineInputError);
      const message = (error as Error).message;
      expect(message).toContain(dir);
      expect(message).toContain('no AWS CLI export found');
      for (const entry of OFFLINE_FILES) expect(message).toContain(entry.file);
      expect(message).toContain('aws iam get-account-authorization-details');
    }
  });
});

describe('OFFLINE_FILES', () => {
  it('documents every file the importer reads, each with the command that exports it', () => {
    expect(OFFLINE_FILES.map((f) => f.file)).toEqual([
      'caller-identity.json',
      'manifest.json',
      'account-summary.json',
      'credential-report.json',
      'credential-report.csv',
      'account-authorization-details.json',
      'account-authorization-details-<N>.json',
      'access-keys/<UserName>.json',
      '<region>/cache-clusters.json',
      '<region>/replication-groups.json',
      '<region>/dax-clusters.json',
    ]);
    for (const entry of OFFLINE_FILES) {
      expect(entry.required).toBe(false);
      expect(entry.feeds).not.toBe('');
    }
  });
});
