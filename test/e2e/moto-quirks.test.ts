/**
 * Where moto differs from AWS in what the auditor reads, and what the auditor makes of it: ERROR
 * where data is missing, never PASS, and no verdict built on a value moto makes up. Each case is
 * listed in test/e2e/README.md.
 */
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  GetRoleCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AttachPolicyCommand,
  CreateAccountCommand,
  CreateOrganizationCommand,
  CreatePolicyCommand,
  DescribePolicyCommand,
  ListAccountsCommand,
  ListParentsCommand,
  ListPoliciesForTargetCommand,
  ListRootsCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readGuardrails } from '#lib/organization/guardrails.ts';
import { auditLive } from './harness/audit.ts';
import { clients, type Credentials, DUMMY_CREDENTIALS, motoEndpoint } from './harness/aws.ts';
import { AWS_MANAGED_POLICIES, motoControl, REGION, recordedCalls } from './harness/moto.ts';
import { assumeRole, type SeededOrganization, seedOrganization, setFixes } from './harness/organization.ts';
import { arnOf, seedAccount } from './harness/seed.ts';

const c = () => clients();
const moto = () => motoControl(motoEndpoint());

beforeAll(async () => {
  await moto().reset();
  await moto().enforceIam(Infinity);
  await moto().awsFidelity(true);
  await seedAccount(c(), motoEndpoint());
});

afterAll(async () => {
  await moto().awsFidelity(true);
});

describe('moto quirks and how the auditor treats them', () => {
  it('the first GenerateCredentialReport answers STARTED: the collector waits and polls once, within its bounds', async () => {
    await moto().startRecording();
    const result = await auditLive();
    await moto().stopRecording();
    const iam = (await recordedCalls(inject('motoRecordingFile'))).filter((call) => call.service === 'iam').map((call) => call.action);
    expect(iam.filter((a) => a === 'GenerateCredentialReport')).toHaveLength(2);
    expect(iam.filter((a) => a === 'GetCredentialReport')).toHaveLength(1);
    expect(result.run.sources.find((s) => s.input === 'credentialReport')).toMatchObject({ state: 'read' });
    // From then on moto says COMPLETE at once, and builds the report afresh at every get.
    expect((await c().iam.send(new GenerateCredentialReportCommand({}))).State).toBe('COMPLETE');
  });

  it('the credential report has no root row and GetAccountSummary says no root key (fixed at 0): the real-time summary decides, and the finding says the row is missing', async () => {
    const summary = await c().iam.send(new GetAccountSummaryCommand({}));
    expect(summary.SummaryMap).toMatchObject({ AccountAccessKeysPresent: 0, AccountMFAEnabled: 0 });
    const csv = new TextDecoder().decode((await c().iam.send(new GetCredentialReportCommand({}))).Content);
    expect(csv).not.toContain('<root_account>');

    const root = (await auditLive()).findings.filter((f) => f.checkId === 'root-access-key');
    expect(root).toHaveLength(1);
    expect(root[0]).toMatchObject({ status: 'PASS', resource: arnOf.root() });
    expect(root[0]!.details).toMatchObject({
      accountAccessKeysPresent: 0,
      reportUnread: { reason: 'the credential report has no <root_account> row' },
    });
    // Without the summary there is nothing left to decide on: ERROR (least-privilege.test.ts
    // measures it under enforcement; test/checks/root-access-key.test.ts states the rule).
  });

  it('plain moto dates every credential report 2015-02-02: reported as given, and key ages count from the audit time', async () => {
    await moto().awsFidelity(false);
    try {
      const out = await c().iam.send(new GetCredentialReportCommand({}));
      expect(out.GeneratedTime?.toISOString()).toBe('2015-02-02T20:02:02.000Z');
      const bob = (await auditLive()).findings.find(
        (f) => f.checkId === 'access-key-age' && f.resource === `${arnOf.user('bob')}#access_key_1`,
      )!;
      expect(bob).toMatchObject({ status: 'FAIL' });
      expect(bob.details).toMatchObject({ ageDays: 120, reportGeneratedAt: '2015-02-02T20:02:02.000Z' });
    } finally {
      await moto().awsFidelity(true);
    }
    // The harness's fidelity fix dates the report when moto builds it, as AWS would.
    const generated = (await c().iam.send(new GetCredentialReportCommand({}))).GeneratedTime!.getTime();
    expect(Math.abs(generated - Date.now())).toBeLessThan(60_000);
  });

  it('GetAccountAuthorizationDetails ignores MaxItems and never pages, and lists every AWS managed policy it has, attached or not: read as one page', async () => {
    const page = await c().iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1 }));
    expect(page.IsTruncated).toBe(false);
    expect(page.UserDetailList!.length).toBeGreaterThan(1);
    const aws = page.Policies!.filter((p) => p.Arn!.startsWith('arn:aws:iam::aws:policy/'));
    expect(aws.map((p) => p.PolicyName).sort()).toEqual([...AWS_MANAGED_POLICIES].sort());
    expect(aws.find((p) => p.PolicyName === 'ReadOnlyAccess')).toMatchObject({ AttachmentCount: 0 });
    const result = await auditLive();
    expect(result.run.sources.find((s) => s.input === 'authorizationDetails')).toMatchObject({ state: 'read' });
  });

  it("ElastiCache's service-linked role is named AWSServiceRoleForelasticache: found by its path, PASS", async () => {
    const details = await c().iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'] }));
    const slr = details.RoleDetailList!.filter((r) => r.Path === '/aws-service-role/elasticache.amazonaws.com/');
    expect(slr.map((r) => r.RoleName)).toEqual(['AWSServiceRoleForelasticache']);
    const finding = (await auditLive()).findings.find((f) => f.checkId === 'elasticache-service-linked-role')!;
    expect(finding.status).toBe('PASS');
  });

  it('plain moto lists managed policies without PolicyName: the authorization details are unread, and every check reading them is ERROR naming the call, never PASS', async () => {
    await moto().awsFidelity(false);
    const raw = await c().iam.send(new GetAccountAuthorizationDetailsCommand({}));
    expect(raw.Policies!.every((p) => p.PolicyName === undefined && p.Arn !== undefined)).toBe(true);

    const result = await auditLive();
    expect(result.run.sources.find((s) => s.input === 'authorizationDetails')).toMatchObject({
      state: 'unread',
      call: 'iam:GetAccountAuthorizationDetails',
    });
    expect(result.run.complete).toBe(false);
    const reading = ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'];
    const theirs = result.findings.filter((f) => reading.includes(f.checkId));
    expect(new Set(theirs.map((f) => f.checkId))).toEqual(new Set(reading));
    for (const f of theirs) {
      expect(f.status, `${f.checkId} ${f.resource}`).toBe('ERROR');
      expect(JSON.stringify(f)).toContain('iam:GetAccountAuthorizationDetails');
      expect(JSON.stringify(f)).toContain('PolicyName');
    }
    // The checks that do not read them still decide.
    expect(result.findings.filter((f) => !reading.includes(f.checkId) && f.status === 'ERROR')).toEqual([]);
  });
});

/**
 * Organization mode: what moto's Organizations and STS do differently from AWS, on the
 * organization of harness/organization.ts with the server's fixes off (plain moto), and what the
 * harness turns on instead (test/e2e/README.md, "organization mode").
 */
describe('moto quirks of organization mode', () => {
  let org: SeededOrganization;
  const endpoint = () => motoEndpoint();
  const iamWith = (credentials: Credentials) => new IAMClient({ region: REGION, endpoint: endpoint(), credentials, maxAttempts: 1 });
  const usersWith = async (credentials: Credentials) =>
    ((await iamWith(credentials).send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'] }))).UserDetailList ?? []).map(
      (u) => u.UserName,
    );
  /** A key of a new IAM user in the account, allowed `actions` on `*`. */
  const userKey = async (accountId: string, name: string, actions: string[]): Promise<Credentials> => {
    const iam = iamWith(await org.adminCredentials(accountId));
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: name,
        PolicyName: 'probe',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
  };
  const enforcing = async <T>(fn: () => Promise<T>): Promise<T> => {
    await moto().enforceIam(0);
    try {
      return await fn();
    } finally {
      await moto().enforceIam(Infinity);
    }
  };

  beforeAll(async () => {
    org = await seedOrganization(endpoint(), { fixes: { assumeRoleTrust: false, scps: false } });
  });

  afterAll(async () => {
    await setFixes(endpoint(), false);
    await moto().enforceIam(Infinity);
  });

  it('AssumeRole into a role that does not exist succeeds (AWS: AccessDenied): the harness’s trust fix refuses it as AWS does', async () => {
    const missing = org.account('C').roleArn!;
    const session = await assumeRole(endpoint(), org.auditorCredentials, missing);
    const identity = await new STSClient({ region: REGION, endpoint: endpoint(), credentials: session, maxAttempts: 1 }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(identity).toMatchObject({
      Account: org.account('C').id,
      Arn: expect.stringContaining(':assumed-role/AccountAuditorMemberRole/'),
    });
    // And the session reads C: nothing tells an audit through it that the role is missing.
    expect(await usersWith(session)).toEqual(['developer-c']);

    await setFixes(endpoint(), { assumeRoleTrust: true });
    try {
      await expect(assumeRole(endpoint(), org.auditorCredentials, missing)).rejects.toMatchObject({
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
        message: `User: arn:aws:sts::${org.auditorAccountId}:assumed-role/AccountAuditorOrganizationAudit/account-auditor-audit is not authorized to perform: sts:AssumeRole on resource: ${missing}`,
      });
    } finally {
      await setFixes(endpoint(), { assumeRoleTrust: false });
    }
  });

  it('no trust policy is checked across accounts, even with IAM enforcement on: a caller the member role does not name gets in (AWS: AccessDenied)', async () => {
    // Allowed sts:AssumeRole by its own policy, in the trusted account, but not the audit role.
    const probe = await userKey(org.auditorAccountId, 'probe-assume', ['sts:AssumeRole']);
    const target = org.account('A').roleArn!;
    const session = await enforcing(() => assumeRole(endpoint(), probe, target));
    expect(session.accessKeyId).toMatch(/^ASIA/);
    // Nor is the discover role refused: it is in the trusted account, but the trust's
    // aws:PrincipalArn condition names the audit role only.
    await expect(assumeRole(endpoint(), org.discoverCredentials, target)).resolves.toMatchObject({ sessionToken: expect.any(String) });

    await setFixes(endpoint(), { assumeRoleTrust: true });
    try {
      await expect(assumeRole(endpoint(), probe, target)).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(assumeRole(endpoint(), org.discoverCredentials, target)).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(assumeRole(endpoint(), org.auditorCredentials, target)).resolves.toMatchObject({ sessionToken: expect.any(String) });
    } finally {
      await setFixes(endpoint(), { assumeRoleTrust: false });
    }
  });

  it('SCPs are stored, never enforced, even with IAM enforcement on: D’s administrator calls IAM under Deny iam:* (AWS: AccessDenied); the harness’s SCP fix denies it', async () => {
    const admin = await userKey(org.account('D').id, 'probe-admin', ['*']);
    expect(await enforcing(() => usersWith(admin))).toContain('probe-admin');

    await setFixes(endpoint(), { scps: true });
    try {
      await expect(usersWith(admin)).rejects.toMatchObject({
        name: 'AccessDenied',
        message: expect.stringContaining('with an explicit deny in a service control policy'),
      });
      // A, under Workloads without an SCP of its own, is not capped.
      expect(await usersWith(await org.adminCredentials(org.account('A').id))).toEqual(['admin-a']);
    } finally {
      await setFixes(endpoint(), { scps: false });
    }
  });

  it('assumed-role sessions never expire: DurationSeconds 1 is accepted (AWS: at least 900) and the session works past its Expiration, even with IAM enforcement on', async () => {
    const session = await assumeRole(endpoint(), org.auditorCredentials, org.account('A').roleArn!, { durationSeconds: 1 });
    expect(Math.abs(session.expiration!.getTime() - (Date.now() + 1000))).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, Math.max(0, session.expiration!.getTime() - Date.now()) + 1_100));
    expect(session.expiration!.getTime()).toBeLessThan(Date.now());
    expect(await enforcing(() => usersWith(session))).toEqual(['admin-a']);
    // Without enforcement the session token is not even read: a wrong one is accepted.
    expect(await usersWith({ ...session, sessionToken: 'not-the-token' } as Credentials)).toEqual(['admin-a']);
  });

  it('ListAccounts gives no Paths, and names the management account "master" (master@example.com): readGuardrails walks each chain with ListParents, each entity once', async () => {
    const management = await assumeRole(endpoint(), DUMMY_CREDENTIALS, org.managementRoleArn);
    const client = new OrganizationsClient({ region: REGION, endpoint: endpoint(), credentials: management, maxAttempts: 1 });
    const { Accounts = [] } = await client.send(new ListAccountsCommand({}));
    expect(Accounts).toHaveLength(org.accounts.length);
    for (const a of Accounts) expect(a.Paths).toBeUndefined();
    expect(Accounts.find((a) => a.Id === org.managementAccountId)).toMatchObject({ Name: 'master', Email: 'master@example.com' });

    const reading = await readGuardrails({
      client,
      accounts: Accounts.map((a) => ({ id: a.Id!, arn: a.Arn! })),
    });
    // Every member account and every OU above one, asked once: tooling, Security, A, Workloads, B, Prod, C, D, Restricted.
    const members = org.accounts.filter((a) => a.id !== org.managementAccountId);
    const ous = new Set(members.flatMap((a) => a.ouPath.slice(1)));
    expect(reading.calls['organizations:ListParents']).toBe(members.length + ous.size);
  });

  it('ListParents, ListPoliciesForTarget and DescribePolicy answer in AWS’s shapes; FullAWSAccess’s ARN carries the management account and organization (AWS: arn:aws:organizations::aws:policy/…)', async () => {
    const client = new OrganizationsClient({ region: REGION, endpoint: endpoint(), credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    expect((await client.send(new ListParentsCommand({ ChildId: org.account('B').id }))).Parents).toEqual([
      { Id: org.ous.prod, Type: 'ORGANIZATIONAL_UNIT' },
    ]);
    expect((await client.send(new ListParentsCommand({ ChildId: org.ous.workloads }))).Parents).toEqual([{ Id: org.rootId, Type: 'ROOT' }]);
    const attached = (await client.send(new ListPoliciesForTargetCommand({ TargetId: org.ous.prod, Filter: 'SERVICE_CONTROL_POLICY' })))
      .Policies!;
    expect(attached.map((p) => [p.Name, p.AwsManaged, p.Type]).sort()).toEqual([
      ['DenyIamWrites', false, 'SERVICE_CONTROL_POLICY'],
      ['FullAWSAccess', true, 'SERVICE_CONTROL_POLICY'],
    ]);
    const { Policy } = await client.send(new DescribePolicyCommand({ PolicyId: 'p-FullAWSAccess' }));
    expect(JSON.parse(Policy!.Content!)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
    expect(Policy!.PolicySummary!.Arn).toBe(
      `arn:aws:organizations::${org.managementAccountId}:policy/${org.organizationId}/service_control_policy/p-FullAWSAccess`,
    );
    // moto also attaches it to the management account, which no SCP binds (the reader skips it).
    const onManagement = await client.send(
      new ListPoliciesForTargetCommand({ TargetId: org.managementAccountId, Filter: 'SERVICE_CONTROL_POLICY' }),
    );
    expect(onManagement.Policies!.map((p) => p.Name)).toEqual(['FullAWSAccess']);
  });

  it('CreateAccount is SUCCEEDED at once (AWS: IN_PROGRESS first) and makes OrganizationAccountAccessRole, trusting the management account', async () => {
    const client = new OrganizationsClient({ region: REGION, endpoint: endpoint(), credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    const { CreateAccountStatus } = await client.send(new CreateAccountCommand({ AccountName: 'late', Email: 'late@example.com' }));
    expect(CreateAccountStatus).toMatchObject({ State: 'SUCCEEDED', AccountId: expect.stringMatching(/^\d{12}$/) });
    const iam = iamWith(await org.adminCredentials(CreateAccountStatus!.AccountId!));
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'OrganizationAccountAccessRole' }))).Role!;
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!)).Statement[0].Principal).toEqual({
      AWS: `arn:aws:iam::${org.managementAccountId}:root`,
    });
  });

  it('an account without IAM users gets a credential report of the header alone (AWS: the root row is always there): refused, access-key-age ERROR naming the call, never PASS', async () => {
    const client = new OrganizationsClient({ region: REGION, endpoint: endpoint(), credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    const { CreateAccountStatus } = await client.send(new CreateAccountCommand({ AccountName: 'empty', Email: 'empty@example.com' }));
    const admin = await org.adminCredentials(CreateAccountStatus!.AccountId!);
    const iam = iamWith(admin);
    await iam.send(new GenerateCredentialReportCommand({}));
    const csv = new TextDecoder().decode((await iam.send(new GetCredentialReportCommand({}))).Content).trim();
    expect(csv.split('\n')).toHaveLength(1);
    expect(csv).toMatch(/^user,arn,/);

    const result = await auditLive(admin);
    expect(result.run.sources.find((s) => s.input === 'credentialReport')).toMatchObject({
      state: 'unread',
      call: 'iam:GetCredentialReport',
      reason: expect.stringContaining('credential report has no rows'),
    });
    const keys = result.findings.filter((f) => f.checkId === 'access-key-age');
    expect(keys.map((f) => f.status)).toEqual(['ERROR']);
    expect(keys[0]!.title).toContain('iam:GetCredentialReport');
  });

  it('SCPs act as enabled before EnablePolicyType: FullAWSAccess is on the root from CreateOrganization and AttachPolicy works (AWS: PolicyTypeNotEnabledException)', async () => {
    await moto().reset();
    const client = new OrganizationsClient({ region: REGION, endpoint: endpoint(), credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
    await client.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
    const root = (await client.send(new ListRootsCommand({}))).Roots![0]!;
    expect(root.PolicyTypes).toEqual([]);
    const onRoot = await client.send(new ListPoliciesForTargetCommand({ TargetId: root.Id!, Filter: 'SERVICE_CONTROL_POLICY' }));
    expect(onRoot.Policies!.map((p) => p.Name)).toEqual(['FullAWSAccess']);
    const { Policy } = await client.send(
      new CreatePolicyCommand({
        Name: 'DenyAll',
        Description: 'x',
        Type: 'SERVICE_CONTROL_POLICY',
        Content: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }),
      }),
    );
    await expect(client.send(new AttachPolicyCommand({ PolicyId: Policy!.PolicySummary!.Id!, TargetId: root.Id! }))).resolves.toBeDefined();
    // So readGuardrails never meets "SCPs not enabled" here: test/organization/guardrails.test.ts covers it.
  });
});
