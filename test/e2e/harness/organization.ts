import {
  AttachPolicyCommand,
  CreateAccountCommand,
  CreateOrganizationalUnitCommand,
  CreateOrganizationCommand,
  CreatePolicyCommand,
  DescribeCreateAccountStatusCommand,
  EnablePolicyTypeCommand,
  ListRootsCommand,
  MoveAccountCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { SNSClient, CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { memberRoleTemplate } from '../../../infra/member-role-stack.ts';
import { ACCOUNT_AUDIT_ROLE_NAME, DISCOVER_ROLE_NAME } from '../../../infra/organization-config.ts';
import { type MapItem, mapItemSchema } from '#lib/organization/contract.ts';
import { DEFAULT_MEMBER_ROLE_NAME, type OrganizationSettingsInput } from '#lib/organization/settings.ts';
import { DUMMY_CREDENTIALS, type Credentials } from './aws.ts';
import { ACCOUNT_ID, assertLoopback, motoControl, REGION } from './moto.ts';
import { ADMIN_POLICY_ARN } from './seed.ts';
import { createTableAsDefined, onlyResource, resolve, template } from './template.ts';

/**
 * An organization seeded in moto through the real SDK, for organization mode's end-to-end tests:
 * the management account (moto's default account, which the dummy keys reach), a security
 * tooling account holding the auditor (its roles, the findings table, the alert topic and an SQS
 * subscriber) and four member accounts seeded differently, in an OU tree with two SCPs:
 *
 *   r-…  (FullAWSAccess)
 *   ├── Security                    tooling: the auditor's account
 *   ├── Workloads                   A: admin user with a 120-day key
 *   │   └── Prod (DenyIamWrites)    B: admin user with a fresh key, capped by the SCP denying IAM writes
 *   ├── Restricted (DenyIam)        D: admin user, every IAM call denied by the SCP (reads included)
 *   └── (root)                      C: no member role
 *
 * The member role is the MemberRoleStack's own template (synthesized here, intrinsics resolved),
 * in every account but C: the trust is the tooling account's root with aws:PrincipalArn = the
 * per-account function's role, the permissions exactly LIVE_READ_ACTIONS.
 *
 * moto gives credentials for any role ARN, checks no trust across accounts and enforces no SCP;
 * AWS does all three. The harness therefore turns on two fixes of the server
 * (test/e2e/moto/server.py, `/e2e/fidelity`) once seeding is done: `assumeRoleTrust` (AssumeRole
 * into C's missing role, or into a role whose trust does not admit the caller, is AccessDenied as
 * in AWS) and `scps` (a call in a member account that its SCPs deny is AccessDenied, "with an
 * explicit deny in a service control policy"). DenyIamWrites on Prod denies IAM's writes by action
 * and leaves the member role's reads in B allowed; DenyIam on Restricted is a literal Deny iam:*,
 * which denies every IAM read of the member role in D too, as in AWS. `fixes(false)` (or `setFixes`) hands back plain moto, which
 * a file that expects it must do before it ends.
 */

export const MEMBER_ROLE_NAME = DEFAULT_MEMBER_ROLE_NAME;
/** The role in the management account that the discover function assumes (settings' managementRoleArn). */
export const MANAGEMENT_READ_ROLE_NAME = 'AccountAuditorOrganizationRead';
export const TABLE_NAME = 'account-auditor-findings';
export const TOPIC_NAME = 'account-auditor-alerts';
/** The literal `Deny iam:*` SCP, on Restricted (D's OU). */
export const DENY_IAM_SCP = 'DenyIam';
/** The SCP denying IAM's writes by action, on Prod (B's OU): what an organization caps production with. */
export const DENY_IAM_WRITES_SCP = 'DenyIamWrites';
/**
 * DenyIamWrites' actions: every IAM action that changes something, by verb, and iam:PassRole.
 * No read the auditor makes (Get*, List*, Generate*) matches one.
 */
export const IAM_WRITE_ACTIONS = [
  'iam:Add*',
  'iam:Attach*',
  'iam:Change*',
  'iam:Create*',
  'iam:Deactivate*',
  'iam:Delete*',
  'iam:Detach*',
  'iam:Enable*',
  'iam:PassRole',
  'iam:Put*',
  'iam:Remove*',
  'iam:Resync*',
  'iam:Set*',
  'iam:Tag*',
  'iam:Untag*',
  'iam:Update*',
  'iam:Upload*',
] as const;

export interface SeededScp {
  id: string;
  arn: string;
  name: string;
  /** The OU it is attached to. */
  target: string;
  document: object;
}

/** Temporary credentials as AssumeRole issues them. */
export interface SessionCredentials extends Credentials {
  sessionToken: string;
  expiration?: Date;
}

export type AccountKey = 'management' | 'tooling' | 'A' | 'B' | 'C' | 'D';

export interface SeededOrgAccount {
  key: AccountKey;
  id: string;
  /** As ListAccounts names it (moto calls the management account `master`, whatever it is named). */
  name: string;
  email: string;
  /** The account's parent: the root or an OU ID. */
  ou: string;
  /** The root and OUs above the account, outermost first. */
  ouPath: string[];
  /** Whether the member role exists in the account. */
  memberRole: boolean;
  /** The map item's roleArn as discover.ts gives it: null for the auditor's own account. */
  roleArn: string | null;
  /** IAM users seeded in the account, with their access key IDs. */
  users: Record<string, string[]>;
}

export interface SeededOrganization {
  endpoint: string;
  organizationId: string;
  rootId: string;
  managementAccountId: string;
  ous: { security: string; workloads: string; prod: string; restricted: string };
  /** The two SCPs and the OU each is attached to: IAM writes denied on Prod (B's), iam:* on Restricted (D's). */
  scps: { iamWrites: SeededScp; iam: SeededScp };
  accounts: SeededOrgAccount[];
  account(key: AccountKey): SeededOrgAccount;
  memberRoleName: string;
  /** The member roles' required ExternalId, when seeded with one. */
  externalId?: string;
  /** The organization settings of this deployment (managementRoleArn, memberRoleName, externalId). */
  settings: OrganizationSettingsInput;
  /**
   * The Distributed Map's items for a run, as discover.ts builds them (roleArn null for the
   * tooling account, ExternalId on the others when set), validated by the contract's schema.
   */
  mapItems(organizationRunId: string): MapItem[];
  auditorAccountId: string;
  /** The per-account function's role (ACCOUNT_AUDIT_ROLE_NAME) in the tooling account. */
  auditorRoleArn: string;
  /** A session of that role, as the Lambda runtime would hand the function. */
  auditorCredentials: SessionCredentials;
  /** The discover function's role, and a session of it. */
  discoverRoleArn: string;
  discoverCredentials: SessionCredentials;
  /** The management account's role that discovery assumes (OrganizationSettings.managementRoleArn). */
  managementRoleArn: string;
  tableName: string;
  tableArn: string;
  topicArn: string;
  queueUrl: string;
  /** Administrator credentials in an account (through OrganizationAccountAccessRole), to seed or inspect it. */
  adminCredentials(accountId: string): Promise<Credentials>;
  /** Switches the server's organization fixes (all on after seeding, unless the options said otherwise). */
  fixes(on: Partial<OrganizationFixes> | boolean): Promise<void>;
}

const doc = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

function sdkConfig(endpoint: string, credentials: Credentials) {
  return { region: REGION, endpoint: assertLoopback(endpoint), credentials, maxAttempts: 1 };
}

/** The server's organization fixes: AWS's answer (true) or plain moto's (false). */
export interface OrganizationFixes {
  /** AssumeRole refuses a missing role and a trust that does not admit the caller. */
  assumeRoleTrust: boolean;
  /** SCPs are enforced on the calls made in member accounts. */
  scps: boolean;
}

export async function setFixes(endpoint: string, fixes: Partial<OrganizationFixes> | boolean): Promise<void> {
  const body = typeof fixes === 'boolean' ? { assumeRoleTrust: fixes, scps: fixes } : fixes;
  const response = await fetch(`${assertLoopback(endpoint)}/e2e/fidelity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`moto /e2e/fidelity: HTTP ${response.status}: ${await response.text()}`);
}

/** AssumeRole with the given credentials, as the product's code does it. */
export async function assumeRole(
  endpoint: string,
  credentials: Credentials,
  roleArn: string,
  options: { sessionName?: string; externalId?: string; durationSeconds?: number } = {},
): Promise<SessionCredentials> {
  const sts = new STSClient(sdkConfig(endpoint, credentials));
  const { Credentials: c } = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: options.sessionName ?? 'e2e-organization-harness',
      ...(options.externalId !== undefined ? { ExternalId: options.externalId } : {}),
      ...(options.durationSeconds !== undefined ? { DurationSeconds: options.durationSeconds } : {}),
    }),
  );
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error(`AssumeRole ${roleArn} returned no credentials`);
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}

/**
 * SQS over its JSON protocol in one account: unenforced moto reads the account from the access
 * key of the signature-shaped header (harness/aws.ts has the same calls in moto's default account).
 */
function sqsIn(endpoint: string, accessKeyId: string) {
  return async <T>(operation: string, input: object): Promise<T> => {
    const response = await fetch(assertLoopback(endpoint), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AmazonSQS.${operation}`,
        authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(input),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sqs:${operation}: HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  };
}

/** Every message waiting in a queue of the tooling account, deleted as it is read. */
export async function drainQueue(endpoint: string, credentials: Credentials, queueUrl: string): Promise<{ Body: string }[]> {
  const call = sqsIn(endpoint, credentials.accessKeyId);
  const all: { Body: string }[] = [];
  for (;;) {
    const { Messages = [] } = await call<{ Messages?: { Body: string; ReceiptHandle: string }[] }>('ReceiveMessage', {
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    });
    if (Messages.length === 0) return all;
    for (const m of Messages) {
      all.push({ Body: m.Body });
      await call('DeleteMessage', { QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle });
    }
  }
}

/** The member role exactly as the StackSet deploys it: the MemberRoleStack's template, resolved. */
function memberRoleDefinition(auditorAccountId: string, externalId: string | undefined) {
  const tpl = memberRoleTemplate({
    memberRoleName: MEMBER_ROLE_NAME,
    auditorAccountId,
    auditRoleName: ACCOUNT_AUDIT_ROLE_NAME,
    ...(externalId !== undefined ? { externalId } : {}),
  });
  const role = resolve(onlyResource(tpl, 'AWS::IAM::Role').properties, {});
  return {
    trust: JSON.stringify(role.AssumeRolePolicyDocument),
    policies: (role.Policies as { PolicyName: string; PolicyDocument: object }[]).map((p) => ({
      name: p.PolicyName,
      document: JSON.stringify(p.PolicyDocument),
    })),
  };
}

async function createAccount(org: OrganizationsClient, name: string, email: string): Promise<string> {
  const created = await org.send(new CreateAccountCommand({ AccountName: name, Email: email }));
  let status = created.CreateAccountStatus;
  // AWS creates accounts asynchronously; moto answers SUCCEEDED at once. Poll as a user would.
  for (let i = 0; status?.State === 'IN_PROGRESS' && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await org.send(new DescribeCreateAccountStatusCommand({ CreateAccountRequestId: status.Id }))).CreateAccountStatus;
  }
  if (status?.State !== 'SUCCEEDED' || !status.AccountId) throw new Error(`CreateAccount ${name}: ${JSON.stringify(status)}`);
  return status.AccountId;
}

export interface SeedOrganizationOptions {
  /** Required by the member roles' trust and to be passed on AssumeRole (settings' externalId). */
  externalId?: string;
  /** The server's fixes after seeding; default both on (AWS's answers). */
  fixes?: Partial<OrganizationFixes>;
}

/**
 * Resets moto and seeds the organization above. The management account is moto's default
 * (ACCOUNT_ID, reached with the dummy keys); every other account ID is moto's random choice,
 * returned in `accounts`.
 */
export async function seedOrganization(endpoint: string, options: SeedOrganizationOptions = {}): Promise<SeededOrganization> {
  const moto = motoControl(endpoint);
  await moto.reset();
  await moto.enforceIam(Infinity);
  await moto.awsFidelity(true);
  await setFixes(endpoint, false);

  const management = DUMMY_CREDENTIALS;
  const org = new OrganizationsClient(sdkConfig(endpoint, management));
  const { Organization } = await org.send(new CreateOrganizationCommand({ FeatureSet: 'ALL' }));
  const organizationId = Organization!.Id!;
  const managementAccountId = Organization!.MasterAccountId!;
  if (managementAccountId !== ACCOUNT_ID)
    throw new Error(`moto made ${managementAccountId} the management account, expected ${ACCOUNT_ID}`);
  const rootId = (await org.send(new ListRootsCommand({}))).Roots![0]!.Id!;
  // AWS needs SCPs enabled in the root before one can be attached (moto does not, see the quirks).
  await org.send(new EnablePolicyTypeCommand({ RootId: rootId, PolicyType: 'SERVICE_CONTROL_POLICY' }));

  const ou = async (name: string, parentId: string) =>
    (await org.send(new CreateOrganizationalUnitCommand({ ParentId: parentId, Name: name }))).OrganizationalUnit!.Id!;
  const security = await ou('Security', rootId);
  const workloads = await ou('Workloads', rootId);
  const prod = await ou('Prod', workloads);
  const restricted = await ou('Restricted', rootId);

  const ids = {
    tooling: await createAccount(org, 'security-tooling', 'tooling@example.com'),
    A: await createAccount(org, 'workload-a', 'a@example.com'),
    B: await createAccount(org, 'workload-b', 'b@example.com'),
    C: await createAccount(org, 'sandbox-c', 'c@example.com'),
    D: await createAccount(org, 'restricted-d', 'd@example.com'),
  };
  const parents: Record<AccountKey, string[]> = {
    management: [rootId],
    tooling: [rootId, security],
    A: [rootId, workloads],
    B: [rootId, workloads, prod],
    C: [rootId],
    D: [rootId, restricted],
  };
  for (const key of ['tooling', 'A', 'B', 'D'] as const)
    await org.send(new MoveAccountCommand({ AccountId: ids[key], SourceParentId: rootId, DestinationParentId: parents[key].at(-1)! }));

  const attachScp = async (name: string, description: string, statement: object, target: string): Promise<SeededScp> => {
    const document = { Version: '2012-10-17', Statement: [statement] };
    const created = await org.send(
      new CreatePolicyCommand({ Name: name, Description: description, Type: 'SERVICE_CONTROL_POLICY', Content: JSON.stringify(document) }),
    );
    const summary = created.Policy!.PolicySummary!;
    await org.send(new AttachPolicyCommand({ PolicyId: summary.Id!, TargetId: target }));
    return { id: summary.Id!, arn: summary.Arn!, name, target, document };
  };
  const scps = {
    iamWrites: await attachScp(
      DENY_IAM_WRITES_SCP,
      'No IAM changes in production',
      { Sid: 'DenyIamWrites', Effect: 'Deny', Action: [...IAM_WRITE_ACTIONS], Resource: '*' },
      prod,
    ),
    iam: await attachScp(DENY_IAM_SCP, 'No IAM at all', { Sid: 'DenyIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' }, restricted),
  };

  // Into each member account as its administrator, through the role Organizations creates there.
  const adminCredentials = async (accountId: string): Promise<Credentials> =>
    accountId === managementAccountId
      ? management
      : assumeRole(endpoint, management, `arn:aws:iam::${accountId}:role/OrganizationAccountAccessRole`, {
          sessionName: 'e2e-seed',
        });
  const iamIn = async (accountId: string) => new IAMClient(sdkConfig(endpoint, await adminCredentials(accountId)));

  const auditorAccountId = ids.tooling;
  const auditorRoleArn = `arn:aws:iam::${auditorAccountId}:role/${ACCOUNT_AUDIT_ROLE_NAME}`;
  const discoverRoleArn = `arn:aws:iam::${auditorAccountId}:role/${DISCOVER_ROLE_NAME}`;
  const managementRoleArn = `arn:aws:iam::${managementAccountId}:role/${MANAGEMENT_READ_ROLE_NAME}`;
  const lambdaTrust = doc({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' });

  // The tooling account: the two function roles (what the OrganizationAuditStack grants them).
  const toolingIam = await iamIn(auditorAccountId);
  await toolingIam.send(new CreateRoleCommand({ RoleName: ACCOUNT_AUDIT_ROLE_NAME, AssumeRolePolicyDocument: lambdaTrust }));
  await toolingIam.send(
    new PutRolePolicyCommand({
      RoleName: ACCOUNT_AUDIT_ROLE_NAME,
      PolicyName: 'AssumeMemberRole',
      PolicyDocument: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::*:role/${MEMBER_ROLE_NAME}` }),
    }),
  );
  await toolingIam.send(new CreateRoleCommand({ RoleName: DISCOVER_ROLE_NAME, AssumeRolePolicyDocument: lambdaTrust }));
  await toolingIam.send(
    new PutRolePolicyCommand({
      RoleName: DISCOVER_ROLE_NAME,
      PolicyName: 'AssumeManagementRole',
      PolicyDocument: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: managementRoleArn }),
    }),
  );

  // The management account: the discovery's read role, trusting the discover function's role.
  const managementIam = await iamIn(managementAccountId);
  await managementIam.send(
    new CreateRoleCommand({
      RoleName: MANAGEMENT_READ_ROLE_NAME,
      AssumeRolePolicyDocument: doc({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${auditorAccountId}:root` },
        Action: 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': discoverRoleArn } },
      }),
    }),
  );
  await managementIam.send(
    new PutRolePolicyCommand({
      RoleName: MANAGEMENT_READ_ROLE_NAME,
      PolicyName: 'OrganizationRead',
      PolicyDocument: doc({ Effect: 'Allow', Action: ['organizations:List*', 'organizations:Describe*'], Resource: '*' }),
    }),
  );

  // The member role in every account but C (the StackSet, and the plain stack in the management account).
  const memberRole = memberRoleDefinition(auditorAccountId, options.externalId);
  const withMemberRole: AccountKey[] = ['management', 'tooling', 'A', 'B', 'D'];
  const idOf = (key: AccountKey) => (key === 'management' ? managementAccountId : ids[key]);
  for (const key of withMemberRole) {
    const iam = await iamIn(idOf(key));
    await iam.send(new CreateRoleCommand({ RoleName: MEMBER_ROLE_NAME, AssumeRolePolicyDocument: memberRole.trust }));
    for (const p of memberRole.policies)
      await iam.send(new PutRolePolicyCommand({ RoleName: MEMBER_ROLE_NAME, PolicyName: p.name, PolicyDocument: p.document }));
  }

  // What each member account holds.
  const users: Record<AccountKey, Record<string, string[]>> = { management: {}, tooling: {}, A: {}, B: {}, C: {}, D: {} };
  const adminUser = async (key: AccountKey, name: string, keyAgeDays: number | null) => {
    const iam = await iamIn(idOf(key));
    await iam.send(new CreateUserCommand({ UserName: name }));
    await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: ADMIN_POLICY_ARN }));
    users[key][name] = [];
    if (keyAgeDays === null) return;
    const created = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
    const keyId = created.AccessKey!.AccessKeyId!;
    if (keyAgeDays > 0) await moto.backdateAccessKey(name, keyId, keyAgeDays);
    users[key][name]!.push(keyId);
  };
  await adminUser('A', 'admin-a', 120);
  await adminUser('B', 'admin-b', 0);
  await adminUser('D', 'admin-d', null);
  // A user without policies where no other is: moto's credential report lacks the root row, so
  // an account without users has an empty report, which the auditor refuses (README, quirks).
  const plainUser = async (key: AccountKey, name: string) => {
    await (await iamIn(idOf(key))).send(new CreateUserCommand({ UserName: name }));
    users[key][name] = [];
  };
  await plainUser('C', 'developer-c');
  await plainUser('management', 'ops-management');
  await plainUser('tooling', 'ops-tooling');

  // The tooling account's table (as the stack defines it), topic and SQS subscriber.
  const toolingCredentials = await adminCredentials(auditorAccountId);
  const table = await createTableAsDefined(new DynamoDBClient(sdkConfig(endpoint, toolingCredentials)), template(), TABLE_NAME);
  const sns = new SNSClient(sdkConfig(endpoint, toolingCredentials));
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: TOPIC_NAME }));
  const sqs = sqsIn(endpoint, toolingCredentials.accessKeyId);
  const { QueueUrl } = await sqs<{ QueueUrl: string }>('CreateQueue', { QueueName: `${TOPIC_NAME}-subscriber` });
  const { Attributes } = await sqs<{ Attributes: { QueueArn: string } }>('GetQueueAttributes', {
    QueueUrl,
    AttributeNames: ['QueueArn'],
  });
  // Raw delivery off: the subscriber gets SNS's envelope, as email and machine subscribers do.
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes.QueueArn }));

  // The functions' sessions, as Lambda hands them over (their trust is lambda.amazonaws.com).
  const auditorCredentials = await assumeRole(endpoint, management, auditorRoleArn, { sessionName: 'account-auditor-audit' });
  const discoverCredentials = await assumeRole(endpoint, management, discoverRoleArn, { sessionName: 'account-auditor-discover' });

  const names: Record<AccountKey, { name: string; email: string }> = {
    management: { name: 'master', email: 'master@example.com' },
    tooling: { name: 'security-tooling', email: 'tooling@example.com' },
    A: { name: 'workload-a', email: 'a@example.com' },
    B: { name: 'workload-b', email: 'b@example.com' },
    C: { name: 'sandbox-c', email: 'c@example.com' },
    D: { name: 'restricted-d', email: 'd@example.com' },
  };
  const accounts: SeededOrgAccount[] = (['management', 'tooling', 'A', 'B', 'C', 'D'] as const).map((key) => {
    const id = idOf(key);
    return {
      key,
      id,
      ...names[key],
      ou: parents[key].at(-1)!,
      ouPath: parents[key],
      memberRole: withMemberRole.includes(key),
      roleArn: id === auditorAccountId ? null : `arn:aws:iam::${id}:role/${MEMBER_ROLE_NAME}`,
      users: users[key],
    };
  });

  await setFixes(endpoint, { assumeRoleTrust: true, scps: true, ...options.fixes });

  return {
    endpoint,
    organizationId,
    rootId,
    managementAccountId,
    ous: { security, workloads, prod, restricted },
    scps,
    accounts,
    account: (key) => accounts.find((a) => a.key === key)!,
    memberRoleName: MEMBER_ROLE_NAME,
    ...(options.externalId !== undefined ? { externalId: options.externalId } : {}),
    settings: {
      managementRoleArn,
      memberRoleName: MEMBER_ROLE_NAME,
      ...(options.externalId !== undefined ? { externalId: options.externalId } : {}),
    },
    mapItems: (organizationRunId) =>
      accounts.map((a) =>
        mapItemSchema.parse({
          organizationRunId,
          account: {
            id: a.id,
            name: a.name,
            roleArn: a.roleArn,
            ...(options.externalId !== undefined && a.roleArn !== null ? { externalId: options.externalId } : {}),
          },
        }),
      ),
    auditorAccountId,
    auditorRoleArn,
    auditorCredentials,
    discoverRoleArn,
    discoverCredentials,
    managementRoleArn,
    tableName: TABLE_NAME,
    tableArn: table.arn,
    topicArn: TopicArn!,
    queueUrl: QueueUrl,
    adminCredentials,
    fixes: (on) => setFixes(endpoint, on),
  };
}

/** SDK clients bound to moto with the given credentials (session token included). */
export function orgClients(endpoint: string, credentials: Credentials) {
  const config = sdkConfig(endpoint, credentials);
  return {
    organizations: new OrganizationsClient(config),
    sts: new STSClient(config),
    iam: new IAMClient(config),
  };
}
