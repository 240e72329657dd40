import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { STACK_ID } from '../../../infra/auditor-app.ts';
import { ACCOUNT_ID, REGION } from './moto.ts';

/**
 * The stack as `npm run synth` wrote it (the global setup runs it): the template the deploy would
 * use and the function's bundled asset. Intrinsic functions are resolved against moto's account,
 * region and the names the tests gave the emulated resources.
 */

/** CloudFormation JSON is untyped by nature. */
type Json = any;

export function template(): Json {
  return JSON.parse(readFileSync(join(inject('cdkOut'), `${STACK_ID}.template.json`), 'utf8'));
}

export function onlyResource(tpl: Json, type: string): { id: string; properties: Json } {
  const found = Object.entries(tpl.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
  if (found.length !== 1) throw new Error(`the template has ${found.length} ${type} resources, expected 1`);
  return { id: found[0]![0], properties: found[0]![1].Properties ?? {} };
}

/** What a logical ID resolves to in the emulated account: its `Ref` and its `Arn` attribute. */
export type Physical = Record<string, { ref: string; arn: string }>;

const PSEUDO: Record<string, string> = {
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT_ID,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves Ref, Fn::GetAtt (Arn) and Fn::Join; anything else unresolved is an error, never a guess. */
export function resolve(value: Json, physical: Physical): Json {
  if (Array.isArray(value)) return value.map((v) => resolve(v, physical));
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value) {
    const ref = value.Ref as string;
    if (ref in PSEUDO) return PSEUDO[ref];
    if (!physical[ref]) throw new Error(`the template refers to ${ref}, which the test did not create`);
    return physical[ref].ref;
  }
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    if (attribute !== 'Arn' || !physical[id]) throw new Error(`cannot resolve Fn::GetAtt ${id}.${attribute}`);
    return physical[id].arn;
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => resolve(p, physical)).join(separator);
  }
  const intrinsic = Object.keys(value).find((k) => k.startsWith('Fn::'));
  if (intrinsic) throw new Error(`unsupported intrinsic ${intrinsic} in ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, physical)]));
}

/** The audit function's role: its one inline policy, the statements as deployed. */
export function roleStatements(tpl: Json, physical: Physical): Json[] {
  const role = onlyResource(tpl, 'AWS::IAM::Role').properties;
  const policies = (role.Policies ?? []) as Json[];
  if (policies.length !== 1) throw new Error(`the audit role has ${policies.length} inline policies, expected 1`);
  if ((role.ManagedPolicyArns ?? []).length > 0)
    throw new Error('the audit role has managed policies: least privilege is no longer read from its inline policy alone');
  return resolve(policies[0].PolicyDocument.Statement, physical) as Json[];
}

/** The bundled handler as CDK staged it: `asset.<hash>/index.mjs` of the function's code. */
export function functionBundle(tpl: Json): { file: string; handler: string; environment: Record<string, Json> } {
  const fn = onlyResource(tpl, 'AWS::Lambda::Function').properties;
  const hash = /^([0-9a-f]{64})\.zip$/.exec(fn.Code?.S3Key ?? '')?.[1];
  if (!hash) throw new Error(`the function's code is not a staged asset: ${JSON.stringify(fn.Code)}`);
  const [fileBase, exportName] = (fn.Handler as string).split('.');
  return {
    file: join(inject('cdkOut'), `asset.${hash}`, `${fileBase}.mjs`),
    handler: exportName!,
    environment: fn.Environment?.Variables ?? {},
  };
}

/** CreateTable input for the table as the template defines it. */
export function tableInput(tpl: Json, tableName: string): CreateTableCommandInput {
  const p = onlyResource(tpl, 'AWS::DynamoDB::Table').properties;
  return {
    TableName: tableName,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: p.BillingMode,
    GlobalSecondaryIndexes: p.GlobalSecondaryIndexes,
    ...(p.SSESpecification ? { SSESpecification: { Enabled: p.SSESpecification.SSEEnabled } } : {}),
    ...(p.DeletionProtectionEnabled !== undefined ? { DeletionProtectionEnabled: p.DeletionProtectionEnabled } : {}),
  };
}

/** Creates the findings table in moto as the stack would: key schema, index, encryption, TTL, PITR. */
export async function createTableAsDefined(dynamodb: DynamoDBClient, tpl: Json, tableName: string): Promise<{ arn: string }> {
  const p = onlyResource(tpl, 'AWS::DynamoDB::Table').properties;
  const created = await dynamodb.send(new CreateTableCommand(tableInput(tpl, tableName)));
  if (p.TimeToLiveSpecification) {
    await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: p.TimeToLiveSpecification }));
  }
  if (p.PointInTimeRecoverySpecification) {
    await dynamodb.send(
      new UpdateContinuousBackupsCommand({
        TableName: tableName,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled },
      }),
    );
  }
  return { arn: created.TableDescription!.TableArn! };
}
