/**
 * Organization mode at scale, in its own process (so that peak RSS is this run's alone): a
 * simulated AWS Organization of `--accounts` ACTIVE accounts (default 200), each a generated
 * account of 100 to 1,000 users, served at the SDK boundary with aws-sdk-client-mock (AWS's
 * response shapes and page sizes, a simulated round trip of `--latency` ms per call), audited as
 * `run --org` does: discovery, the SCPs read once, then every account through the command line's
 * pool (auditAccounts, `--concurrency`, default 20) with auditMemberAccount on AssumeRole'd
 * credentials, stored in dynalite. Before that, in the same process and against the same fakes,
 * a 1,000-user and a mean-size account audited alone: the single-account time the organization's
 * wall time is held to. Prints one JSON line.
 *
 * The organization: a root, three OUs (security, workloads, sandbox with every fourth account),
 * the management account under the root. SCPs: FullAWSAccess on every entity, a region-deny SCP
 * on the root, a deny-iam:* SCP on the sandbox OU. The auditor runs in the security tooling
 * account (its own credentials); every other account is entered through the member role.
 *
 * Every account answers as itself: the fake AssumeRole encodes the account ID in the
 * credentials' AccessKeyId, and each IAM, STS, ElastiCache and DAX call resolves its client's
 * credentials to find the account it is made in.
 *
 * What is measured, and what is not:
 * - Measured: the auditor's own work in this process: collection (the SDK clients' middleware,
 *   credentials and paging; the normalizers, the credential report's CSV), evaluation,
 *   reconcile, the alert, and the store's client side (FindingsStore, the DynamoDB client's
 *   marshalling, signing and HTTP), as `run --org` does them in one Node process on this machine.
 *   The pool keeps a summary of each account (`keep`), as a command line reporting from
 *   summaries would, so the peak RSS is the audits in flight and not every account's findings.
 * - Not charged to the auditor: the fakes' answers on the auditor's thread (sinon's recording,
 *   building each response, generating the accounts; timed at the stub: `fake.ms`), taken off
 *   the organization's wall time and the single accounts' alike before the wall target compares
 *   them; the store, dynalite in a child process (bench/store-worker.ts): DynamoDB's own work and
 *   memory in production, so neither its CPU nor its table is in this process's figures.
 * - Not simulated: the SDK's response parsing (the mocks answer with objects, not XML or JSON on
 *   the wire), network variance, throttling.
 *
 * Run by bench/bench.ts: `node --import tsx bench/organization.ts --accounts 200 --latency 50`.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type Account,
  ChildNotFoundException,
  DescribeOrganizationCommand,
  DescribePolicyCommand,
  ListAccountsCommand,
  ListParentsCommand,
  ListPoliciesCommand,
  ListPoliciesForTargetCommand,
  ListRootsCommand,
  ListTargetsForPolicyCommand,
  OrganizationsClient,
  PolicyNotFoundException,
  type PolicySummary,
  TargetNotFoundException,
} from '@aws-sdk/client-organizations';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  IAMClient,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
// fromTemporaryCredentials (the member role's credentials) assumes the role with the SDK's nested STS client.
import { AssumeRoleCommand, STSClient as NestedSTSClient } from '@aws-sdk/nested-clients/sts';
import { DescribeCacheClustersCommand, DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DAXClient, DescribeClustersCommand } from '@aws-sdk/client-dax';
import { mockClient } from 'aws-sdk-client-mock';
import { auditMemberAccount, type MemberAuditResult, type OrganizationContextOf } from '#lib/audit/member-audit.ts';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import { discoverAccounts } from '#lib/organization/accounts.ts';
import type { MapAccount } from '#lib/organization/contract.ts';
import { readGuardrails } from '#lib/organization/guardrails.ts';
import { auditAccounts } from '#lib/organization/pool.ts';
import { DEFAULT_MAX_CONCURRENCY, DEFAULT_MEMBER_ROLE_NAME, memberRoleArn } from '#lib/organization/settings.ts';
import { parseSettings } from '#lib/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { callerIdentityResponse, FIXTURE_NOW, type GeneratedAccount, markerPage } from '#test/aws.ts';
import { guardNetwork, SAFE_ENV } from './safety.ts';
import { benchAccount, countCalls, type MockedClientClass, type RegionWorld, regionWorld, startStore, withLatency } from './world.ts';

guardNetwork();
// Garbage collection on demand, for the heap figures at the end (the store's process has its own flag).
v8.setFlagsFromString('--expose-gc');

const { values: args } = parseArgs({
  options: {
    accounts: { type: 'string', default: '200' },
    latency: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: String(DEFAULT_MAX_CONCURRENCY) },
  },
});
const ACCOUNTS = Number(args.accounts);
const LATENCY_MS = Number(args.latency);
const CONCURRENCY = Number(args.concurrency);
if (!Number.isInteger(ACCOUNTS) || ACCOUNTS < 3) throw new Error(`--accounts must be a whole number of at least 3, got ${args.accounts}`);
if (!Number.isFinite(LATENCY_MS) || LATENCY_MS < 0) throw new Error(`--latency must be a number of milliseconds >= 0, got ${args.latency}`);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1)
  throw new Error(`--concurrency must be a whole number of at least 1, got ${args.concurrency}`);
const REGIONS = ['eu-west-1', 'us-east-1'];

// ---------------------------------------------------------------------------------------------
// The organization

const ORGANIZATION_ID = 'o-bench00org1';
const ROOT_ID = 'r-bnch';
const OU = { security: 'ou-bnch-security', workloads: 'ou-bnch-workloads', sandbox: 'ou-bnch-sandboxes' } as const;
const accountId = (i: number): string => String(300_000_000_000 + i);
const MANAGEMENT = accountId(0);
/** The security tooling account the auditor runs in: audited with its own credentials. */
const AUDITOR = accountId(1);
/** The accounts audited alone for the single-account time: outside the organization's run, so their state is their own. */
const SINGLE = { large: '399999999001', mean: '399999999002', warmUp: '399999999003' };

/** Users of the organization's i-th account: 100 to 1,000, spread evenly and the same on every run. */
const usersOfIndex = (i: number): number => 100 + ((i * 37) % 901);
const MEAN_USERS = Math.round(Array.from({ length: ACCOUNTS }, (_, i) => usersOfIndex(i)).reduce((a, b) => a + b, 0) / ACCOUNTS);
const SINGLE_USERS: Record<string, number> = { [SINGLE.large]: 1000, [SINGLE.mean]: MEAN_USERS, [SINGLE.warmUp]: 100 };

/** The management account under the root; every fourth account in the sandbox OU; the first ten in security. */
function parentOfIndex(i: number): string {
  if (i === 0) return ROOT_ID;
  if (i % 4 === 3) return OU.sandbox;
  return i < 10 ? OU.security : OU.workloads;
}

const memberAccounts: Account[] = Array.from({ length: ACCOUNTS }, (_, i) => {
  const id = accountId(i);
  const parent = parentOfIndex(i);
  const name = i === 0 ? 'management' : i === 1 ? 'security-tooling' : `${parent.slice(8)}-${String(i).padStart(3, '0')}`;
  return {
    Id: id,
    Arn: `arn:aws:organizations::${MANAGEMENT}:account/${ORGANIZATION_ID}/${id}`,
    Name: name,
    Email: `aws+${name}@example.com`,
    State: 'ACTIVE',
    Status: 'ACTIVE',
    JoinedMethod: i === 0 ? 'INVITED' : 'CREATED',
    JoinedTimestamp: new Date('2024-01-01T00:00:00Z'),
    Paths: [`${ORGANIZATION_ID}/${ROOT_ID}/${parent === ROOT_ID ? '' : `${parent}/`}${id}/`],
  };
});
const indexOf = new Map(memberAccounts.map((a, i) => [a.Id!, i]));
const parentOf = new Map<string, { id: string; type: 'ROOT' | 'ORGANIZATIONAL_UNIT' }>([
  ...Object.values(OU).map((ou) => [ou, { id: ROOT_ID, type: 'ROOT' as const }] as const),
  ...memberAccounts.map((a, i) => {
    const parent = parentOfIndex(i);
    return [a.Id!, { id: parent, type: parent === ROOT_ID ? ('ROOT' as const) : ('ORGANIZATIONAL_UNIT' as const) }] as const;
  }),
]);
const entityType = (id: string): 'ROOT' | 'ORGANIZATIONAL_UNIT' | 'ACCOUNT' =>
  id === ROOT_ID ? 'ROOT' : id.startsWith('ou-') ? 'ORGANIZATIONAL_UNIT' : 'ACCOUNT';

interface Scp {
  summary: PolicySummary;
  document: unknown;
  targets: string[];
}
const scp = (id: string, name: string, awsManaged: boolean, document: unknown, targets: string[]): Scp => ({
  summary: {
    Id: id,
    Arn: awsManaged
      ? `arn:aws:organizations::aws:policy/service_control_policy/${id}`
      : `arn:aws:organizations::${MANAGEMENT}:policy/${ORGANIZATION_ID}/service_control_policy/${id}`,
    Name: name,
    Description: name,
    Type: 'SERVICE_CONTROL_POLICY',
    AwsManaged: awsManaged,
  },
  document,
  targets,
});
const SCPS: Scp[] = [
  scp('p-FullAWSAccess', 'FullAWSAccess', true, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, [
    ROOT_ID,
    ...Object.values(OU),
    ...memberAccounts.map((a) => a.Id!),
  ]),
  scp(
    'p-regions0001',
    'deny-outside-eu-west-1-us-east-1',
    false,
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyOutsideRegions',
          Effect: 'Deny',
          NotAction: ['iam:*', 'organizations:*', 'sts:*', 'support:*', 'cloudfront:*', 'route53:*'],
          Resource: '*',
          Condition: { StringNotEquals: { 'aws:RequestedRegion': REGIONS } },
        },
      ],
    },
    [ROOT_ID],
  ),
  scp(
    'p-denyiam0001',
    'sandbox-deny-iam',
    false,
    { Version: '2012-10-17', Statement: [{ Sid: 'NoIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' }] },
    [OU.sandbox],
  ),
];
const scpById = new Map(SCPS.map((p) => [p.summary.Id!, p]));

// ---------------------------------------------------------------------------------------------
// Each account's IAM and regional resources, generated when first asked for. A bounded cache keeps
// the fake's own memory to the accounts in flight, not the whole organization (the peak RSS is
// the auditor's); an account evicted and asked again is generated again, the same.

interface AccountWorld {
  iam: GeneratedAccount;
  regions: Record<string, RegionWorld>;
}
const CACHE_SIZE = CONCURRENCY + 4;
const worlds = new Map<string, AccountWorld>();
/** The fake's own work on the auditor's thread: every mocked call's answer (ms, generation included) and the accounts generated. */
const fake = { ms: 0, generateMs: 0, generated: 0 };
/** Each account's IAM entity count, kept past the cache: SPEC 2's bound is computed from it. */
const entitiesOf = new Map<string, number>();
function usersOf(account: string): number {
  const i = indexOf.get(account);
  const users = i !== undefined ? usersOfIndex(i) : SINGLE_USERS[account];
  if (users === undefined) throw new Error(`benchmark organization has no account ${account}`);
  return users;
}
function worldOf(account: string): AccountWorld {
  let world = worlds.get(account);
  if (world) {
    worlds.delete(account);
  } else {
    const t = performance.now();
    const users = usersOf(account);
    world = {
      iam: benchAccount(users, account),
      regions: Object.fromEntries(REGIONS.map((r) => [r, regionWorld(users, r, account)])),
    };
    fake.generateMs += performance.now() - t;
    entitiesOf.set(account, world.iam.entityCount);
    fake.generated++;
    while (worlds.size >= CACHE_SIZE) worlds.delete(worlds.keys().next().value!);
  }
  // Most recently used last.
  worlds.set(account, world);
  return world;
}

// ---------------------------------------------------------------------------------------------
// Credentials: the member role's carry their account in the AccessKeyId; the caller's own are SAFE_ENV's.

const ACCESS_KEY = /^ASIA(\d{12})BNCH$/;
type ConfiguredClient = { config: { credentials: () => Promise<{ accessKeyId: string }>; region: () => Promise<string> } };
async function accountOfClient(client: unknown): Promise<string> {
  const { accessKeyId } = await (client as ConfiguredClient).config.credentials();
  if (accessKeyId === SAFE_ENV.AWS_ACCESS_KEY_ID) return AUDITOR;
  const m = ACCESS_KEY.exec(accessKeyId);
  if (!m) throw new Error(`benchmark: credentials ${accessKeyId} belong to no account of the organization`);
  return m[1]!;
}
/**
 * Each call's account and region, resolved from its client before the round trip (the SDK's
 * credential provider and region are the auditor's side), so that the fakes answer synchronously
 * and their whole answer is timed as the fake's (withLatency's `fake`).
 */
const callerOf = new WeakMap<object, { account: string; region: string }>();
async function resolveCaller(client: unknown): Promise<string> {
  const account = await accountOfClient(client);
  callerOf.set(client as object, { account, region: await (client as ConfiguredClient).config.region() });
  return account;
}
function caller(getClient: () => unknown): { account: string; region: string } {
  const known = callerOf.get(getClient() as object);
  if (!known) throw new Error('benchmark: a call whose client was not resolved before its round trip');
  return known;
}
const accountOf = (getClient: () => unknown): string => caller(getClient).account;

// ---------------------------------------------------------------------------------------------
// The SDK boundary

const organizations = mockClient(OrganizationsClient);
const sts = mockClient(STSClient);
const nestedSts = mockClient(NestedSTSClient);
const iam = mockClient(IAMClient);
const elastiCache = mockClient(ElastiCacheClient);
const dax = mockClient(DAXClient);
/**
 * The mocks record every call with its answer (sinon's history): over an organization that is
 * every account's authorization details and credential report. The calls are counted below, so
 * the history is dropped after each account, to keep the fake's memory out of the auditor's peak.
 */
const dropHistory = (): void => {
  for (const m of [organizations, sts, nestedSts, iam, elastiCache, dax]) m.resetHistory();
};

/** Organizations pages: at most 20 (its ceiling for these calls), NextToken until the end. */
const ORG_PAGE = 20;
function orgPage<T>(items: readonly T[], input: { NextToken?: string; MaxResults?: number }): { items: T[]; NextToken?: string } {
  const size = Math.min(input.MaxResults ?? ORG_PAGE, ORG_PAGE);
  const start = input.NextToken ? Number(input.NextToken) : 0;
  const end = start + size;
  return { items: items.slice(start, end), ...(end < items.length ? { NextToken: String(end) } : {}) };
}
const metadata = { $metadata: { httpStatusCode: 400 } };
function knownTarget(id: string): void {
  if (id !== ROOT_ID && !parentOf.has(id))
    throw new TargetNotFoundException({ message: `We can't find a root, OU, account, or policy with the TargetId ${id}.`, ...metadata });
}

organizations.on(DescribeOrganizationCommand).resolves({
  Organization: {
    Id: ORGANIZATION_ID,
    Arn: `arn:aws:organizations::${MANAGEMENT}:organization/${ORGANIZATION_ID}`,
    FeatureSet: 'ALL',
    MasterAccountId: MANAGEMENT,
    MasterAccountArn: `arn:aws:organizations::${MANAGEMENT}:account/${ORGANIZATION_ID}/${MANAGEMENT}`,
  },
});
organizations.on(ListRootsCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }) => {
  const p = orgPage(
    [
      {
        Id: ROOT_ID,
        Arn: `arn:aws:organizations::${MANAGEMENT}:root/${ORGANIZATION_ID}/${ROOT_ID}`,
        Name: 'Root',
        PolicyTypes: [{ Type: 'SERVICE_CONTROL_POLICY' as const, Status: 'ENABLED' as const }],
      },
    ],
    input,
  );
  return { Roots: p.items, ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
});
organizations.on(ListAccountsCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }) => {
  const p = orgPage(memberAccounts, input);
  return { Accounts: p.items, ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
});
organizations.on(ListParentsCommand).callsFake(async (input: { ChildId: string }) => {
  const parent = parentOf.get(input.ChildId);
  if (!parent)
    throw new ChildNotFoundException({
      message: `We can't find an organizational unit (OU) or AWS account with the ChildId ${input.ChildId}.`,
      ...metadata,
    });
  return { Parents: [{ Id: parent.id, Type: parent.type }] };
});
organizations.on(ListPoliciesCommand).callsFake(async (input: { Filter: string; NextToken?: string; MaxResults?: number }) => {
  const p = orgPage(input.Filter === 'SERVICE_CONTROL_POLICY' ? SCPS.map((s) => s.summary) : [], input);
  return { Policies: p.items, ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
});
organizations
  .on(ListPoliciesForTargetCommand)
  .callsFake(async (input: { TargetId: string; Filter: string; NextToken?: string; MaxResults?: number }) => {
    knownTarget(input.TargetId);
    const attached = input.Filter === 'SERVICE_CONTROL_POLICY' ? SCPS.filter((s) => s.targets.includes(input.TargetId)) : [];
    const p = orgPage(
      attached.map((s) => s.summary),
      input,
    );
    return { Policies: p.items, ...(p.NextToken ? { NextToken: p.NextToken } : {}) };
  });
organizations.on(ListTargetsForPolicyCommand).callsFake(async (input: { PolicyId: string; NextToken?: string; MaxResults?: number }) => {
  const policy = scpById.get(input.PolicyId);
  if (!policy) throw new PolicyNotFoundException({ message: `We can't find a policy with the PolicyId ${input.PolicyId}.`, ...metadata });
  const p = orgPage(policy.targets, input);
  return {
    Targets: p.items.map((id) => ({
      TargetId: id,
      Type: entityType(id),
      Name: id,
      Arn: `arn:aws:organizations::${MANAGEMENT}:${entityType(id) === 'ACCOUNT' ? 'account' : entityType(id) === 'ROOT' ? 'root' : 'ou'}/${ORGANIZATION_ID}/${id}`,
    })),
    ...(p.NextToken ? { NextToken: p.NextToken } : {}),
  };
});
organizations.on(DescribePolicyCommand).callsFake(async (input: { PolicyId: string }) => {
  const policy = scpById.get(input.PolicyId);
  if (!policy) throw new PolicyNotFoundException({ message: `We can't find a policy with the PolicyId ${input.PolicyId}.`, ...metadata });
  return { Policy: { PolicySummary: policy.summary, Content: JSON.stringify(policy.document) } };
});

// The member role: credentials for one hour whose AccessKeyId names the account.
nestedSts.on(AssumeRoleCommand).callsFake(async (input: { RoleArn: string }) => {
  const m = /^arn:aws:iam::(\d{12}):role\/(.+)$/.exec(input.RoleArn);
  if (!m || m[2] !== DEFAULT_MEMBER_ROLE_NAME) throw new Error(`benchmark: no role ${input.RoleArn}`);
  // An account the benchmark does not know has no role to assume.
  usersOf(m[1]!);
  return {
    Credentials: {
      AccessKeyId: `ASIA${m[1]}BNCH`,
      SecretAccessKey: `benchmark-secret-${m[1]}`,
      SessionToken: `benchmark-session-${m[1]}`,
      Expiration: new Date(Date.now() + 3_600_000),
    },
    AssumedRoleUser: { AssumedRoleId: `AROABENCH${m[1]}:session`, Arn: `arn:aws:sts::${m[1]}:assumed-role/${m[2]}/session` },
  };
});
sts.on(GetCallerIdentityCommand).callsFake((_input: unknown, getClient: () => unknown) => callerIdentityResponse(accountOf(getClient)));

// As test/support/aws.ts mockIam, each account answered from its own generated account.
const iamOf = (getClient: () => unknown) => worldOf(accountOf(getClient)).iam;
iam.on(GetAccountSummaryCommand).callsFake((_i: unknown, getClient: () => unknown) => iamOf(getClient).summary);
iam.on(GenerateCredentialReportCommand).resolves({ State: 'COMPLETE' });
iam.on(GetCredentialReportCommand).callsFake((_i: unknown, getClient: () => unknown) => iamOf(getClient).credentialReport());
iam
  .on(GetAccountAuthorizationDetailsCommand)
  .callsFake((input: { MaxItems?: number; Marker?: string }, getClient: () => unknown) => iamOf(getClient).authorizationDetailsPage(input));
iam
  .on(ListAccessKeysCommand)
  .callsFake((input: { UserName?: string }, getClient: () => unknown) => iamOf(getClient).listAccessKeys(input.UserName ?? ''));

/** Each regional call answered from the account's world in the region its client was built for. */
function regionOf(getClient: () => unknown): RegionWorld {
  const { account, region } = caller(getClient);
  const w = worldOf(account).regions[region];
  if (!w) throw new Error(`benchmark world has no region ${region}`);
  return w;
}
elastiCache.on(DescribeCacheClustersCommand).callsFake((input: { Marker?: string; MaxRecords?: number }, getClient) => {
  const page = markerPage(regionOf(getClient).cacheClusters, input.Marker, Math.min(input.MaxRecords ?? 100, 100));
  return { CacheClusters: page.items, ...(page.next ? { Marker: page.next } : {}) };
});
elastiCache.on(DescribeReplicationGroupsCommand).callsFake((input: { Marker?: string; MaxRecords?: number }, getClient) => {
  const page = markerPage(regionOf(getClient).replicationGroups, input.Marker, Math.min(input.MaxRecords ?? 100, 100));
  return { ReplicationGroups: page.items, ...(page.next ? { Marker: page.next } : {}) };
});
dax.on(DescribeClustersCommand).callsFake((input: { NextToken?: string; MaxResults?: number }, getClient) => {
  const page = markerPage(regionOf(getClient).daxClusters, input.NextToken, Math.min(input.MaxResults ?? 100, 100));
  return { Clusters: page.items, ...(page.next ? { NextToken: page.next } : {}) };
});

// Every call counted, by the account whose credentials make it (IAM) or by action (the others).
const commandName = (command: unknown): string => (command as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
const iamCalls = new Map<string, Record<string, number>>();
const byAction: Record<string, Record<string, number>> = { organizations: {}, sts: {}, elasticache: {}, dax: {} };
/** Counted by action; `resolve`: the fakes answer from the caller's account and region (resolveCaller). */
const countAction =
  (service: string, resolve = false) =>
  async (client: unknown, command: unknown) => {
    if (resolve) await resolveCaller(client);
    const counts = byAction[service]!;
    const name = commandName(command);
    counts[name] = (counts[name] ?? 0) + 1;
  };
withLatency(
  IAMClient as unknown as MockedClientClass,
  LATENCY_MS,
  async (client, command) => {
    const account = await resolveCaller(client);
    const counts = iamCalls.get(account) ?? {};
    const name = commandName(command);
    counts[name] = (counts[name] ?? 0) + 1;
    iamCalls.set(account, counts);
  },
  fake,
);
withLatency(OrganizationsClient as unknown as MockedClientClass, LATENCY_MS, countAction('organizations'), fake);
withLatency(STSClient as unknown as MockedClientClass, LATENCY_MS, countAction('sts', true), fake);
withLatency(NestedSTSClient as unknown as MockedClientClass, LATENCY_MS, countAction('sts'), fake);
withLatency(ElastiCacheClient as unknown as MockedClientClass, LATENCY_MS, countAction('elasticache', true), fake);
withLatency(DAXClient as unknown as MockedClientClass, LATENCY_MS, countAction('dax', true), fake);

// ---------------------------------------------------------------------------------------------
// The audit, as `run --org` runs it

const settings = parseSettings({ regions: REGIONS });
const local = await startStore('process');
const ddb = countCalls(local.client);
const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: settings.historyTtlDays });
const organizationRunId = `bench-${FIXTURE_NOW.toISOString().replace(/[:.]/g, '-')}`;
const mapAccount = (id: string, name: string): MapAccount => ({
  id,
  name,
  roleArn: id === AUDITOR ? null : memberRoleArn('aws', id, DEFAULT_MEMBER_ROLE_NAME),
});
const auditOne = (account: MapAccount, organization: OrganizationContextOf): Promise<MemberAuditResult> =>
  auditMemberAccount({
    organizationRunId,
    account,
    organization,
    settings,
    trigger: 'local',
    // The generated accounts' keys are aged against FIXTURE_NOW; the report is COMPLETE at once.
    live: { now: () => FIXTURE_NOW, sleep: async () => {} },
    store,
    publisher: null,
    tableName: local.tableName,
  });
const rssMb = (): number => Math.round(process.memoryUsage().rss / 1024 / 1024);
const rssAfter: Record<string, number> = { start: rssMb() };

/** The chain of a workloads account, with the account level moved to `id`: the single accounts' guardrails. */
function chainFor(id: string, like: Source<GuardrailLevel[]> | undefined): Source<GuardrailLevel[]> | undefined {
  if (like?.state !== 'read') return like;
  return {
    state: 'read',
    data: like.data.map((level) =>
      level.kind === 'account' ? { ...level, target: id, policies: level.policies.map((p) => ({ ...p, target: id })) } : level,
    ),
  };
}

async function single(id: string, guardrails: Source<GuardrailLevel[]> | undefined, accountIds: string[]) {
  const c0 = process.cpuUsage();
  const f0 = fake.ms;
  const t0 = performance.now();
  const out = await auditOne(mapAccount(id, `single-${id}`), {
    id: ORGANIZATION_ID,
    accountIds,
    ...(guardrails ? { guardrails: chainFor(id, guardrails) } : {}),
  });
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return {
    users: usersOf(id),
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    fakeMs: fake.ms - f0,
    state: out.state,
    findings: out.pipeline.result.findings.length,
  };
}

// The single accounts first, under a workloads account's SCPs (read here, outside the counted run):
// one small account untimed (the policy catalogue and the code paths load once per process), then
// the 1,000-user and the mean-size account, one at a time.
const workloads = accountId(memberAccounts.findIndex((_, i) => parentOfIndex(i) === OU.workloads));
const reference = await readGuardrails({
  client: new OrganizationsClient({ region: 'us-east-1' }),
  accounts: memberAccounts.filter((a) => a.Id === workloads).map((a) => ({ id: a.Id!, arn: a.Arn!, paths: a.Paths! })),
});
const referenceChain = reference.accounts.get(workloads);
const singleIds = [SINGLE.warmUp, SINGLE.large, SINGLE.mean];
await single(SINGLE.warmUp, referenceChain, [...memberAccounts.map((a) => a.Id!), ...singleIds]);
const singleLarge = await single(SINGLE.large, referenceChain, [...memberAccounts.map((a) => a.Id!), ...singleIds]);
const singleMean = await single(SINGLE.mean, referenceChain, [...memberAccounts.map((a) => a.Id!), ...singleIds]);
dropHistory();
rssAfter.single = rssMb();

// Reset the counts: what follows is the organization run alone.
iamCalls.clear();
for (const counts of Object.values(byAction)) for (const k of Object.keys(counts)) delete counts[k];
const ddbBefore = ddb.count;
const fakeBefore = { ...fake };

const cpu0 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const storeBusy0 = (await local.busyMs?.()) ?? 0;
const t0 = performance.now();
const discovery = await discoverAccounts({
  settings: { includeAccounts: [], excludeAccounts: [], includeOus: [], excludeOus: [] },
  organizations: () => new OrganizationsClient({ region: 'us-east-1' }),
});
const t1 = performance.now();
const guardrails = await readGuardrails({
  client: new OrganizationsClient({ region: 'us-east-1' }),
  accounts: discovery.guardrailAccounts,
});
const t2 = performance.now();
rssAfter.discovery = rssMb();
const accountIds = discovery.accounts.map((a) => a.id);
const context = (id: string): OrganizationContextOf => {
  const chain = guardrails.accounts.get(id);
  return { id: guardrails.organizationId ?? ORGANIZATION_ID, accountIds, ...(chain ? { guardrails: chain } : {}) };
};
/**
 * What the run keeps of each account, as a command line reporting from summaries would: its
 * state, its findings by status, its user-full-access critical FAILs, and why it is not complete.
 */
interface AccountSummary {
  state: MemberAuditResult['state'];
  findings: number;
  byStatus: Record<string, number>;
  fullAccessFails: number;
  unread: string[];
}
function summarize(r: MemberAuditResult): AccountSummary {
  const byStatus: Record<string, number> = {};
  let fullAccessFails = 0;
  for (const f of r.pipeline.result.findings) {
    byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;
    if (f.checkId === 'user-full-access' && f.status === 'FAIL' && f.severity === 'critical') fullAccessFails++;
  }
  const unread = r.pipeline.result.run.sources.filter((s) => s.state === 'unread').map((s) => `${s.source}: ${s.reason}`);
  return { state: r.state, findings: r.pipeline.result.findings.length, byStatus, fullAccessFails, unread };
}
const states: Record<string, number> = {};
const results = await auditAccounts(
  discovery.accounts.map((a) => mapAccount(a.id, a.name)),
  { concurrency: CONCURRENCY, auditOne: (account) => auditOne(account, context(account.id)).finally(dropHistory), keep: summarize },
);
const t3 = performance.now();
const fakeRunMs = fake.ms - fakeBefore.ms;
const cpu = process.cpuUsage(cpu0);
const mainBusyMs = performance.eventLoopUtilization(elu0).active;
const storeBusyMs = ((await local.busyMs?.()) ?? 0) - storeBusy0;
rssAfter.audits = rssMb();
const peakRssMb = process.resourceUsage().maxRSS / 1024;

/** An account's audit that threw: the error's name, code, message and where it was thrown from. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts;
  const at = error.stack
    ?.split('\n')
    .find((l) => l.includes('/lib/'))
    ?.trim();
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}${attempts ? ` after ${attempts} attempts` : ''}${at ? ` (${at})` : ''}`;
}
const failures: string[] = [];
let findings = 0;
const byStatus: Record<string, number> = {};
/**
 * user-full-access critical FAILs ("full access") per account, in the sandbox OU and elsewhere:
 * the deny-iam:* SCP there leaves administrators "all actions except iam:*" (high), so none in the
 * sandbox shows that the guardrails reached the checks.
 */
const fullAccess = { sandbox: { accounts: 0, fails: 0 }, others: { accounts: 0, fails: 0 } };
for (const r of results) {
  const state = r.status === 'fulfilled' ? r.value.state : 'rejected';
  states[state] = (states[state] ?? 0) + 1;
  if (r.status === 'fulfilled') {
    findings += r.value.findings;
    for (const [status, n] of Object.entries(r.value.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
    const where = parentOf.get(r.account.id)?.id === OU.sandbox ? fullAccess.sandbox : fullAccess.others;
    where.accounts++;
    where.fails += r.value.fullAccessFails;
    if (r.value.state !== 'complete' && failures.length < 5) {
      const { unread } = r.value;
      failures.push(`${r.account.id}: ${r.value.state}${unread.length > 0 ? ` (${unread.join('; ')})` : ''}`);
    }
  } else if (failures.length < 5) failures.push(`${r.account.id}: ${describe(r.reason)}`);
}

// IAM calls per account against SPEC 2's bound, computed from each account's entity count.
const perAccount = discovery.accounts.map((a) => {
  const counts = iamCalls.get(a.id) ?? {};
  const total = Object.values(counts).reduce((x, y) => x + y, 0);
  const polls = Math.max(0, (counts.GenerateCredentialReport ?? 0) - 1) + Math.max(0, (counts.GetCredentialReport ?? 0) - 1);
  const entities = entitiesOf.get(a.id) ?? 0;
  return {
    account: a.id,
    users: usersOf(a.id),
    entities,
    calls: total - polls,
    polls,
    bound: 3 + Math.ceil(entities / 1000) + settings.keyIdLookups,
    byCommand: counts,
  };
});
const worst = perAccount.reduce((w, a) => (a.calls - a.bound > w.calls - w.bound ? a : w), perAccount[0]!);
const most = perAccount.reduce((w, a) => (a.calls > w.calls ? a : w), perAccount[0]!);
const iamByCommand: Record<string, number> = {};
for (const a of perAccount) for (const [k, v] of Object.entries(a.byCommand)) iamByCommand[k] = (iamByCommand[k] ?? 0) + v;

const orgCalls = Object.fromEntries(Object.entries(byAction.organizations!).map(([k, v]) => [`organizations:${k}`, v]));
const orgTotal = Object.values(orgCalls).reduce((a, b) => a + b, 0);
// The SCPs attached to the chains' entities, and the entities holding one other than FullAWSAccess.
const chainEntities = new Set<string>();
for (const a of discovery.accounts) {
  if (a.id === MANAGEMENT) continue;
  chainEntities.add(a.id);
  for (let p = parentOf.get(a.id); p; p = parentOf.get(p.id)) chainEntities.add(p.id);
}
const policies = SCPS.length;
const holdingOther = [...chainEntities].filter((e) => SCPS.some((s) => s.summary.Name !== 'FullAWSAccess' && s.targets.includes(e))).length;

// What the run holds at its end, by garbage-collected heap: every account's summary (what the pool
// keeps of each result, `keep`), then the fake's own accounts.
const gc = runInNewContext('gc') as () => void;
/** After the current job ends (a resumed await holds its promises until then), collected. */
const heapMb = async (): Promise<number> => {
  await new Promise((done) => setImmediate(done));
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const heapAtEnd = await heapMb();
results.length = 0;
const heapWithoutResults = await heapMb();
worlds.clear();
const heapWithoutFake = await heapMb();
const storeHeapMb = (await local.heapMb?.()) ?? null;

await local.close();

const out = {
  accounts: discovery.accounts.length,
  concurrency: CONCURRENCY,
  latencyMs: LATENCY_MS,
  regions: REGIONS,
  users: { min: Math.min(...perAccount.map((a) => a.users)), max: Math.max(...perAccount.map((a) => a.users)), mean: MEAN_USERS },
  wallMs: t3 - t0,
  stagesMs: { discovery: t1 - t0, guardrails: t2 - t1, audits: t3 - t2 },
  /** The process's CPU over the run (the store's process not included); the main thread's busy time; the store process's. */
  cpuMs: (cpu.user + cpu.system) / 1000,
  mainThreadBusyMs: mainBusyMs,
  storeBusyMs,
  states,
  failures,
  findings,
  byStatus,
  userFullAccessCriticalPerAccount: {
    sandbox: fullAccess.sandbox.accounts > 0 ? fullAccess.sandbox.fails / fullAccess.sandbox.accounts : 0,
    others: fullAccess.others.accounts > 0 ? fullAccess.others.fails / fullAccess.others.accounts : 0,
  },
  iam: {
    keyIdLookups: settings.keyIdLookups,
    maxPerAccount: { account: most.account, entities: most.entities, calls: most.calls, bound: most.bound, byCommand: most.byCommand },
    worstAgainstBound: {
      account: worst.account,
      entities: worst.entities,
      calls: worst.calls,
      polls: worst.polls,
      bound: worst.bound,
      byCommand: worst.byCommand,
    },
    overBound: perAccount.filter((a) => a.calls > a.bound).length,
    total: perAccount.reduce((x, a) => x + a.calls + a.polls, 0),
    byCommand: iamByCommand,
  },
  organizations: {
    byAction: orgCalls,
    total: orgTotal,
    policies,
    holdingOtherScp: holdingOther,
    strategy: guardrails.strategy,
    /** What discoverAccounts and readGuardrails say they made: the same calls, counted by the code. */
    reported: { ...discovery.calls, ...guardrails.calls },
  },
  sts: byAction.sts!,
  elastiCache: Object.values(byAction.elasticache!).reduce((a, b) => a + b, 0),
  dax: Object.values(byAction.dax!).reduce((a, b) => a + b, 0),
  dynamodbLocal: ddb.count - ddbBefore,
  peakRssMb,
  rssMbAfter: rssAfter,
  heapMb: {
    atEnd: heapAtEnd,
    heldByResults: heapAtEnd - heapWithoutResults,
    heldByFake: heapWithoutResults - heapWithoutFake,
    rest: heapWithoutFake,
    /** The store process's heap (dynalite's in-memory table): not in peakRssMb. */
    store: storeHeapMb,
  },
  fake: {
    /** The fakes' answers on the auditor's thread over the run (sinon's recording, the responses, the generation). */
    ms: fakeRunMs,
    generated: fake.generated - fakeBefore.generated,
    generateMs: fake.generateMs - fakeBefore.generateMs,
    cacheSize: CACHE_SIZE,
  },
  single: { large: singleLarge, mean: singleMean },
};
process.stdout.write(`BENCH_ORG ${JSON.stringify(out)}\n`);
