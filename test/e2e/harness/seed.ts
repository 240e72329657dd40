import { CreateClusterCommand } from '@aws-sdk/client-dax';
import { CreateCacheClusterCommand, CreateReplicationGroupCommand } from '@aws-sdk/client-elasticache';
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateServiceLinkedRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import type { Clients } from './aws.ts';
import { ACCOUNT_ID, motoControl, REGION } from './moto.ts';

/**
 * The seeded account, built through the real SDK against moto: every user, group, policy, key,
 * role and cluster below exists in moto exactly as a user of AWS would have created it. The only
 * step that is not an AWS API is backdating keys (AWS has no call that creates an old key).
 */

export const ADMIN_POLICY_ARN = 'arn:aws:iam::aws:policy/AdministratorAccess';
export const VENDOR_ACCOUNT = '111122223333';
export const arnOf = {
  user: (name: string) => `arn:aws:iam::${ACCOUNT_ID}:user/${name}`,
  role: (name: string) => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`,
  dax: (name: string) => `arn:aws:dax:${REGION}:${ACCOUNT_ID}:cache/${name}`,
  root: () => `arn:aws:iam::${ACCOUNT_ID}:root`,
};

const doc = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

export interface SeededAccount {
  /** Access key IDs by user and slot, as the credential report will number them. */
  keys: Record<string, string[]>;
}

async function key(c: Clients, endpoint: string, user: string, ageDays: number, status: 'Active' | 'Inactive' = 'Active'): Promise<string> {
  const created = await c.iam.send(new CreateAccessKeyCommand({ UserName: user }));
  const id = created.AccessKey!.AccessKeyId!;
  if (ageDays > 0) await motoControl(endpoint).backdateAccessKey(user, id, ageDays);
  if (status === 'Inactive') await c.iam.send(new UpdateAccessKeyCommand({ UserName: user, AccessKeyId: id, Status: 'Inactive' }));
  return id;
}

/**
 * - alice: AdministratorAccess (AWS managed) attached; one fresh key.
 * - bob: in `developers` (inline s3 read, attached customer managed CloudWatch read); a 120-day key.
 * - carol: inline Allow NotAction iam:*, organizations:* on *; an 85-day key and an inactive 200-day one.
 * - dave: in `admins` (AdministratorAccess), but an inline unconditional Deny * on *; no key.
 * - erin: inline Allow sts:AssumeRole on the role `break-glass` only; no key.
 * - roles: `dax-to-dynamodb` (trusts dax.amazonaws.com, DynamoDB access), `break-glass`
 *   (AdministratorAccess, trusts the account root with MFA), `vendor-admin` (AdministratorAccess,
 *   trusts the outside account VENDOR_ACCOUNT under sts:ExternalId) and ElastiCache's
 *   service-linked role (unless `elastiCacheServiceLinkedRole: false`).
 * - us-east-1: ElastiCache cluster `sessions` and replication group `carts`; DAX `orders-dax` (role dax-to-dynamodb) and
 *   `legacy-dax` (a role that does not exist).
 */
export async function seedAccount(
  c: Clients,
  endpoint: string,
  options: { elastiCacheServiceLinkedRole?: boolean } = {},
): Promise<SeededAccount> {
  const { iam } = c;
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await iam.send(new CreateUserCommand({ UserName: name }));

  await iam.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: ADMIN_POLICY_ARN }));

  await iam.send(new CreateGroupCommand({ GroupName: 'developers' }));
  await iam.send(
    new PutGroupPolicyCommand({
      GroupName: 'developers',
      PolicyName: 's3-read',
      PolicyDocument: doc({ Effect: 'Allow', Action: ['s3:Get*', 's3:List*'], Resource: '*' }),
    }),
  );
  const cw = await iam.send(
    new CreatePolicyCommand({
      PolicyName: 'cloudwatch-read',
      PolicyDocument: doc({ Sid: 'Read', Effect: 'Allow', Action: ['cloudwatch:Get*', 'cloudwatch:List*'], Resource: '*' }),
    }),
  );
  await iam.send(new AttachGroupPolicyCommand({ GroupName: 'developers', PolicyArn: cw.Policy!.Arn! }));
  await iam.send(new AddUserToGroupCommand({ GroupName: 'developers', UserName: 'bob' }));

  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'carol',
      PolicyName: 'almost-admin',
      PolicyDocument: doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*'], Resource: '*' }),
    }),
  );

  await iam.send(new CreateGroupCommand({ GroupName: 'admins' }));
  await iam.send(new AttachGroupPolicyCommand({ GroupName: 'admins', PolicyArn: ADMIN_POLICY_ARN }));
  await iam.send(new AddUserToGroupCommand({ GroupName: 'admins', UserName: 'dave' }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'dave',
      PolicyName: 'deny-all',
      PolicyDocument: doc({ Effect: 'Deny', Action: '*', Resource: '*' }),
    }),
  );

  const keys: Record<string, string[]> = {
    alice: [await key(c, endpoint, 'alice', 0)],
    bob: [await key(c, endpoint, 'bob', 120)],
    carol: [await key(c, endpoint, 'carol', 85), await key(c, endpoint, 'carol', 200, 'Inactive')],
  };

  await iam.send(
    new CreateRoleCommand({
      RoleName: 'dax-to-dynamodb',
      AssumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'dax.amazonaws.com' }, Action: 'sts:AssumeRole' }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'dax-to-dynamodb',
      PolicyName: 'orders',
      PolicyDocument: doc({ Effect: 'Allow', Action: 'dynamodb:*', Resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/orders` }),
    }),
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'break-glass',
      AssumeRolePolicyDocument: doc({
        Effect: 'Allow',
        Principal: { AWS: arnOf.root() },
        Action: 'sts:AssumeRole',
        Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
      }),
    }),
  );
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'break-glass', PolicyArn: ADMIN_POLICY_ARN }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'erin',
      PolicyName: 'assume-break-glass',
      PolicyDocument: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arnOf.role('break-glass') }),
    }),
  );
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'vendor-admin',
      AssumeRolePolicyDocument: doc({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${VENDOR_ACCOUNT}:root` },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': 'vendor-4711' } },
      }),
    }),
  );
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'vendor-admin', PolicyArn: ADMIN_POLICY_ARN }));
  if (options.elastiCacheServiceLinkedRole ?? true)
    await iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: 'elasticache.amazonaws.com' }));

  await c.elastiCache.send(
    new CreateCacheClusterCommand({ CacheClusterId: 'sessions', Engine: 'redis', CacheNodeType: 'cache.t3.micro', NumCacheNodes: 1 }),
  );
  await c.elastiCache.send(
    new CreateReplicationGroupCommand({
      ReplicationGroupId: 'carts',
      ReplicationGroupDescription: 'carts',
      Engine: 'redis',
      CacheNodeType: 'cache.t3.micro',
      NumCacheClusters: 1,
    }),
  );
  await c.dax.send(
    new CreateClusterCommand({
      ClusterName: 'orders-dax',
      NodeType: 'dax.t3.small',
      ReplicationFactor: 1,
      IamRoleArn: arnOf.role('dax-to-dynamodb'),
    }),
  );
  await c.dax.send(
    new CreateClusterCommand({
      ClusterName: 'legacy-dax',
      NodeType: 'dax.t3.small',
      ReplicationFactor: 1,
      IamRoleArn: arnOf.role('deleted-dax-role'),
    }),
  );
  return { keys };
}

/** Night 2: bob becomes an administrator, and rotates his over-age key (new key, old one deleted). */
export async function changeAccount(c: Clients, seeded: SeededAccount): Promise<void> {
  await c.iam.send(new AttachUserPolicyCommand({ UserName: 'bob', PolicyArn: ADMIN_POLICY_ARN }));
  const fresh = await c.iam.send(new CreateAccessKeyCommand({ UserName: 'bob' }));
  await c.iam.send(new DeleteAccessKeyCommand({ UserName: 'bob', AccessKeyId: seeded.keys.bob![0]! }));
  seeded.keys.bob = [fresh.AccessKey!.AccessKeyId!];
}

/** The alert topic with an SQS queue subscribed to it, as a machine subscriber would be. */
export async function topicWithQueue(c: Clients, name: string): Promise<{ topicArn: string; queueUrl: string }> {
  const { TopicArn } = await c.sns.send(new CreateTopicCommand({ Name: name }));
  const queue = await c.sqs.createQueue(`${name}-subscriber`);
  await c.sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue.arn }));
  return { topicArn: TopicArn!, queueUrl: queue.url };
}
