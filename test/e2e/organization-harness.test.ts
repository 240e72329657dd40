/**
 * The organization harness (harness/organization.ts) seeds what it says: the accounts in their
 * OUs, each account's own IAM state, visible only with that account's credentials, the member
 * role where intended (and AssumeRole refused where it is missing or its trust does not admit the
 * caller, as in AWS), the SCP where intended as readGuardrails reads it, and discoverAccounts
 * listing the accounts through the management role.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateUserCommand,
  GetAccountAuthorizationDetailsCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { discoverAccounts, type RoleCredentials } from '#lib/organization/accounts.ts';
import { readGuardrails } from '#lib/organization/guardrails.ts';
import { motoEndpoint } from './harness/aws.ts';
import { REGION } from './harness/moto.ts';
import {
  assumeRole,
  DENY_IAM_SCP,
  DENY_IAM_WRITES_SCP,
  drainQueue,
  IAM_WRITE_ACTIONS,
  orgClients,
  type SeededOrganization,
  seedOrganization,
  setFixes,
} from './harness/organization.ts';

let org: SeededOrganization;
const config = (credentials: RoleCredentials | { accessKeyId: string; secretAccessKey: string }) => ({
  region: REGION,
  endpoint: motoEndpoint(),
  credentials,
  maxAttempts: 1,
});

beforeAll(async () => {
  org = await seedOrganization(motoEndpoint());
});

afterAll(async () => {
  await setFixes(motoEndpoint(), false);
});

/** The IAM users an account's credentials see. */
async function usersSeenWith(credentials: { accessKeyId: string; secretAccessKey: string }): Promise<string[]> {
  const details = await orgClients(motoEndpoint(), credentials).iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'] }));
  return (details.UserDetailList ?? []).map((u) => u.UserName!).sort();
}

describe('the seeded organization', () => {
  it('has the management account, the tooling account and four members, each a distinct 12-digit ID, in the OU tree', () => {
    const ids = org.accounts.map((a) => a.id);
    expect(new Set(ids).size).toBe(6);
    for (const id of ids) expect(id).toMatch(/^\d{12}$/);
    expect(org.managementAccountId).toBe('123456789012');
    expect(org.organizationId).toMatch(/^o-[a-z0-9]{10}$/);
    expect(org.account('B').ouPath).toEqual([org.rootId, org.ous.workloads, org.ous.prod]);
    expect(org.account('A').ou).toBe(org.ous.workloads);
    expect(org.account('C').ou).toBe(org.rootId);
    expect(org.account('D').ouPath).toEqual([org.rootId, org.ous.restricted]);
    expect(org.accounts.filter((a) => !a.memberRole).map((a) => a.key)).toEqual(['C']);
    expect(org.account('tooling').roleArn).toBeNull();
    expect(org.auditorRoleArn).toBe(`arn:aws:iam::${org.auditorAccountId}:role/AccountAuditorOrganizationAudit`);
  });

  it("isolates the accounts: each account's users are seen with its own credentials only", async () => {
    expect(await usersSeenWith(await org.adminCredentials(org.account('A').id))).toEqual(['admin-a']);
    expect(await usersSeenWith(await org.adminCredentials(org.account('C').id))).toEqual(['developer-c']);
    expect(await usersSeenWith(await org.adminCredentials(org.managementAccountId))).toEqual(['ops-management']);
    // The auditor's session in A's member role reads A, and only A.
    const a = await assumeRole(motoEndpoint(), org.auditorCredentials, org.account('A').roleArn!);
    expect(await usersSeenWith(a)).toEqual(['admin-a']);
    expect((await orgClients(motoEndpoint(), a).sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(
      `arn:aws:sts::${org.account('A').id}:assumed-role/AccountAuditorMemberRole/e2e-organization-harness`,
    );
    // B's IAM reads pass its SCP, which denies writes only.
    expect(await usersSeenWith(await org.adminCredentials(org.account('B').id))).toEqual(['admin-b']);
    // D's IAM is behind its SCP (next test); without the SCP fix, D's credentials see D's user only.
    await org.fixes({ scps: false });
    try {
      expect(await usersSeenWith(await org.adminCredentials(org.account('D').id))).toEqual(['admin-d']);
    } finally {
      await org.fixes({ scps: true });
    }
  });

  it('enforces the SCP denying iam:* in D (below Restricted) only: every IAM call there is AccessDenied, the member role’s reads included', async () => {
    const d = await assumeRole(motoEndpoint(), org.auditorCredentials, org.account('D').roleArn!);
    await expect(usersSeenWith(d)).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining(
        'iam:GetAccountAuthorizationDetails on resource: * with an explicit deny in a service control policy',
      ),
    });
    await expect(usersSeenWith(await org.adminCredentials(org.account('D').id))).rejects.toMatchObject({ name: 'AccessDenied' });
    // Calls other than IAM's are allowed there (FullAWSAccess at every level); other accounts are not capped.
    expect((await orgClients(motoEndpoint(), d).sts.send(new GetCallerIdentityCommand({}))).Account).toBe(org.account('D').id);
    expect(await usersSeenWith(await assumeRole(motoEndpoint(), org.auditorCredentials, org.account('A').roleArn!))).toEqual(['admin-a']);
  });

  it('enforces the SCP denying IAM writes in B (below Prod): its administrator cannot create a user, the member role reads IAM', async () => {
    const b = await assumeRole(motoEndpoint(), org.auditorCredentials, org.account('B').roleArn!);
    expect(await usersSeenWith(b)).toEqual(['admin-b']);
    const admin = orgClients(motoEndpoint(), await org.adminCredentials(org.account('B').id)).iam;
    await expect(admin.send(new CreateUserCommand({ UserName: 'intruder' }))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('iam:CreateUser on resource: * with an explicit deny in a service control policy'),
    });
    // Without Prod's SCP, A's administrator can.
    const a = orgClients(motoEndpoint(), await org.adminCredentials(org.account('A').id)).iam;
    await expect(a.send(new CreateUserCommand({ UserName: 'probe-a' }))).resolves.toBeDefined();
    await org.fixes({ scps: false });
    try {
      expect(await usersSeenWith(await org.adminCredentials(org.account('B').id))).toEqual(['admin-b']);
      expect(await usersSeenWith(await org.adminCredentials(org.account('A').id))).toEqual(['admin-a', 'probe-a']);
    } finally {
      await org.fixes({ scps: true });
    }
  });

  it("A's admin has a 120-day key, B's a fresh one", async () => {
    await org.fixes({ scps: false });
    const ageDays = async (key: 'A' | 'B', user: string) => {
      const iam = orgClients(motoEndpoint(), await org.adminCredentials(org.account(key).id)).iam;
      const [only, ...more] = (await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata!;
      expect(more).toEqual([]);
      expect(only!.AccessKeyId).toBe(org.account(key).users[user]![0]);
      return Math.round((Date.now() - only!.CreateDate!.getTime()) / 86_400_000);
    };
    try {
      expect(await ageDays('A', 'admin-a')).toBe(120);
      expect(await ageDays('B', 'admin-b')).toBe(0);
    } finally {
      await org.fixes({ scps: true });
    }
  });

  it("puts the MemberRoleStack's role in every account but C: its trust and exactly the collector's read actions", async () => {
    await org.fixes({ scps: false });
    onTestFinished(() => org.fixes({ scps: true }));
    for (const account of org.accounts.filter((a) => a.memberRole)) {
      const iam = orgClients(motoEndpoint(), await org.adminCredentials(account.id)).iam;
      const role = (await iam.send(new GetRoleCommand({ RoleName: org.memberRoleName }))).Role!;
      const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!));
      expect(trust.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${org.auditorAccountId}:root` },
          Condition: { ArnEquals: { 'aws:PrincipalArn': org.auditorRoleArn } },
        },
      ]);
      const policy = await iam.send(new GetRolePolicyCommand({ RoleName: org.memberRoleName, PolicyName: 'AccountAuditorRead' }));
      const statement = JSON.parse(decodeURIComponent(policy.PolicyDocument!)).Statement[0];
      expect(statement.Action).toEqual([...LIVE_READ_ACTIONS]);
    }
    const c = orgClients(motoEndpoint(), await org.adminCredentials(org.account('C').id)).iam;
    await expect(c.send(new GetRoleCommand({ RoleName: org.memberRoleName }))).rejects.toMatchObject({ name: 'NoSuchEntityException' });
  });

  it("AssumeRole as AWS answers it: the auditor gets into A, B and the management account; C's missing role and a caller the trust does not name are AccessDenied", async () => {
    for (const key of ['A', 'B', 'D', 'management'] as const) {
      const session = await assumeRole(motoEndpoint(), org.auditorCredentials, org.account(key).roleArn!);
      expect(session.sessionToken).not.toBe('');
    }
    const c = org.account('C').roleArn!;
    await expect(assumeRole(motoEndpoint(), org.auditorCredentials, c)).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringContaining(`sts:AssumeRole on resource: ${c}`),
    });
    // The discover function's role is in the trusted account, but it is not the audit role.
    await expect(assumeRole(motoEndpoint(), org.discoverCredentials, org.account('A').roleArn!)).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });

  it('keeps the findings table, the topic and its SQS subscriber (raw delivery off) in the tooling account', async () => {
    const tooling = await org.adminCredentials(org.auditorAccountId);
    const table = await new DynamoDBClient(config(tooling)).send(new DescribeTableCommand({ TableName: org.tableName }));
    expect(table.Table!.TableArn).toBe(org.tableArn);
    expect(org.tableArn).toContain(`:${org.auditorAccountId}:table/`);
    await expect(
      new DynamoDBClient(config(await org.adminCredentials(org.managementAccountId))).send(
        new DescribeTableCommand({ TableName: org.tableName }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    const sns = new SNSClient(config(tooling));
    expect(org.topicArn).toBe(`arn:aws:sns:${REGION}:${org.auditorAccountId}:account-auditor-alerts`);
    const [subscription, ...more] = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: org.topicArn }))).Subscriptions!;
    expect(more).toEqual([]);
    expect(subscription).toMatchObject({ Protocol: 'sqs' });
    const attributes = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscription!.SubscriptionArn })))
      .Attributes!;
    expect(attributes.RawMessageDelivery).toBe('false');
    await sns.send(new PublishCommand({ TopicArn: org.topicArn, Subject: 'probe', Message: 'hello' }));
    const [delivered] = await drainQueue(motoEndpoint(), tooling, org.queueUrl);
    expect(JSON.parse(delivered!.Body)).toMatchObject({ Type: 'Notification', TopicArn: org.topicArn, Subject: 'probe', Message: 'hello' });
  });
});

describe('the product reads the seeded organization', () => {
  const organizations = (credentials: RoleCredentials | undefined) => {
    if (!credentials) throw new Error('discovery was expected to assume the management role');
    return new OrganizationsClient(config(credentials));
  };

  it('discoverAccounts lists every account through the management role; an OU setting narrows it to the OU tree', async () => {
    const sts = orgClients(motoEndpoint(), org.discoverCredentials).sts;
    const base = { managementRoleArn: org.managementRoleArn, includeAccounts: [], excludeAccounts: [], includeOus: [], excludeOus: [] };
    const all = await discoverAccounts({ settings: base, organizations, sts, sessionName: 'e2e-discover' });
    expect(all.accounts.map((a) => a.id).sort()).toEqual(org.accounts.map((a) => a.id).sort());
    expect(all.accounts.find((a) => a.id === org.account('B').id)).toMatchObject({ name: 'workload-b', email: 'b@example.com', ous: [] });
    expect(all).toMatchObject({ listed: 6, active: 6, filteredOut: [], missing: [] });
    expect(all.calls).toEqual({ 'sts:AssumeRole': 1, 'organizations:ListAccounts': 1 });

    const workloads = await discoverAccounts({ settings: { ...base, includeOus: [org.ous.workloads] }, organizations, sts });
    expect(workloads.accounts.map((a) => [a.id, a.ous])).toEqual([
      [org.account('A').id, [org.ous.workloads]],
      [org.account('B').id, [org.ous.workloads, org.ous.prod]],
    ]);
    expect(workloads.filteredOut.map((a) => a.id).sort()).toEqual(
      [org.managementAccountId, org.auditorAccountId, org.account('C').id, org.account('D').id].sort(),
    );
  });

  it('readGuardrails finds the SCP denying IAM writes on B’s OU, the one denying iam:* on D’s, FullAWSAccess on every level, and no SCP on the management account', async () => {
    const sts = orgClients(motoEndpoint(), org.discoverCredentials).sts;
    const discovery = await discoverAccounts({
      settings: { managementRoleArn: org.managementRoleArn, includeAccounts: [], excludeAccounts: [], includeOus: [], excludeOus: [] },
      organizations,
      sts,
    });
    const management = await assumeRole(motoEndpoint(), org.discoverCredentials, org.managementRoleArn);
    const reading = await readGuardrails({ client: new OrganizationsClient(config(management)), accounts: discovery.guardrailAccounts });
    expect(reading).toMatchObject({ organizationId: org.organizationId, managementAccountId: org.managementAccountId });

    const levels = (key: 'management' | 'tooling' | 'A' | 'B' | 'C' | 'D') => {
      const source = reading.accounts.get(org.account(key).id)!;
      if (source.state !== 'read') throw new Error(`${key}: guardrails unread: ${JSON.stringify(source)}`);
      // Policies in name order: ListPoliciesForTarget's order follows moto's random policy IDs.
      return source.data.map((l) => ({ kind: l.kind, target: l.target, policies: l.policies.map((p) => p.name).sort() }));
    };
    expect(levels('management')).toEqual([]);
    expect(levels('B')).toEqual([
      { kind: 'root', target: org.rootId, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: org.ous.workloads, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: org.ous.prod, policies: [DENY_IAM_WRITES_SCP, 'FullAWSAccess'] },
      { kind: 'account', target: org.account('B').id, policies: ['FullAWSAccess'] },
    ]);
    expect(levels('D')).toEqual([
      { kind: 'root', target: org.rootId, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: org.ous.restricted, policies: [DENY_IAM_SCP, 'FullAWSAccess'] },
      { kind: 'account', target: org.account('D').id, policies: ['FullAWSAccess'] },
    ]);
    expect(levels('A')).toEqual([
      { kind: 'root', target: org.rootId, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: org.ous.workloads, policies: ['FullAWSAccess'] },
      { kind: 'account', target: org.account('A').id, policies: ['FullAWSAccess'] },
    ]);
    expect(levels('C')).toEqual([
      { kind: 'root', target: org.rootId, policies: ['FullAWSAccess'] },
      { kind: 'account', target: org.account('C').id, policies: ['FullAWSAccess'] },
    ]);
    const b = reading.accounts.get(org.account('B').id)!;
    const denyWrites = b.state === 'read' ? b.data[2]!.policies.find((p) => p.name === DENY_IAM_WRITES_SCP)! : undefined;
    expect(denyWrites).toMatchObject({ id: org.scps.iamWrites.id, arn: org.scps.iamWrites.arn, awsManaged: false, target: org.ous.prod });
    expect(denyWrites!.document).toEqual({
      ok: true,
      document: {
        Version: '2012-10-17',
        Statement: [{ Sid: 'DenyIamWrites', Effect: 'Deny', Action: [...IAM_WRITE_ACTIONS], Resource: '*' }],
      },
    });
    const d = reading.accounts.get(org.account('D').id)!;
    const deny = d.state === 'read' ? d.data[1]!.policies.find((p) => p.name === DENY_IAM_SCP)! : undefined;
    expect(deny).toMatchObject({ id: org.scps.iam.id, arn: org.scps.iam.arn, awsManaged: false, target: org.ous.restricted });
    expect(deny!.document).toEqual({
      ok: true,
      document: { Version: '2012-10-17', Statement: [{ Sid: 'DenyIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' }] },
    });
    // moto's ListAccounts has no Paths: the chains are walked up with ListParents.
    expect(reading.calls['organizations:ListParents']).toBeGreaterThan(0);
  });
});

describe('seeded with an ExternalId', () => {
  it('the member roles require it, as the MemberRoleStack trust says: AssumeRole without it or with another is AccessDenied', async () => {
    const withId = await seedOrganization(motoEndpoint(), { externalId: 'org-4711' });
    const role = withId.account('A').roleArn!;
    await expect(assumeRole(motoEndpoint(), withId.auditorCredentials, role)).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(assumeRole(motoEndpoint(), withId.auditorCredentials, role, { externalId: 'other' })).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    await expect(assumeRole(motoEndpoint(), withId.auditorCredentials, role, { externalId: 'org-4711' })).resolves.toMatchObject({
      sessionToken: expect.any(String),
    });
    // The map items carry it to every account but the auditor's own.
    const items = withId.mapItems('20260101T030000000Z-e2e');
    expect(items.map((i) => i.account.externalId)).toEqual(
      withId.accounts.map((a) => (a.id === withId.auditorAccountId ? undefined : 'org-4711')),
    );
    expect(items.find((i) => i.account.id === withId.auditorAccountId)!.account.roleArn).toBeNull();
    expect(withId.settings).toEqual({
      managementRoleArn: withId.managementRoleArn,
      memberRoleName: 'AccountAuditorMemberRole',
      externalId: 'org-4711',
    });
  });
});
