import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Validations, type App, type AppProps } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditorApp } from '../../infra/auditor-app.ts';
import { TOPIC_KEY_ACTIONS } from '../../infra/constructs/alert-topic.ts';
import { TABLE_DATA_ACTIONS } from '../../infra/constructs/findings-table.ts';
import type { AccountAuditorStack } from '../../infra/stack.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { bundleHandler, PROJECT_ROOT, type BundleResult } from '../../infra/bundling.ts';
import { ENV, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { OPEN_INDEX, TTL_ATTRIBUTE } from '#lib/store/keys.ts';
import { tableDefinition } from '#lib/store/store.ts';

/** CloudFormation JSON is untyped by nature. */
type Json = any;

const SLOW = 120_000;
const tempDirs: string[] = [];

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * A variant of the app for context tests. The bundle is the same whatever the context, so these
 * skip bundling (the one real bundle is built and checked below).
 */
async function variant(context: Record<string, unknown>): Promise<{ app: App; stack: AccountAuditorStack; template: Template }> {
  const props: AppProps = { outdir: await tempDir('auditor-cdk-'), context: { 'aws:cdk:bundling-stacks': [], ...context } };
  const { app, stack } = createAuditorApp(props);
  return { app, stack, template: Template.fromStack(stack) };
}

function only(template: Template, type: string): { id: string; resource: Json } {
  const entries = Object.entries(template.findResources(type));
  expect(entries, `exactly one ${type}`).toHaveLength(1);
  const [id, resource] = entries[0]!;
  return { id, resource };
}

const ref = (id: string) => ({ Ref: id });
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

let app: App;
let stack: AccountAuditorStack;
let template: Template;
let json: Json;
let bundle: BundleResult;
let ids: { table: string; topic: string; key: string; fn: string; role: string; queue: string; logs: string };

beforeAll(async () => {
  ({ app, stack } = createAuditorApp({ outdir: await tempDir('auditor-cdk-') }));
  // Synthesizes the app: bundles the handler with the local esbuild and runs cdk-nag, which throws here on any finding.
  template = Template.fromStack(stack);
  json = template.toJSON();
  bundle = await bundleHandler(await tempDir('auditor-bundle-'));
  ids = {
    table: only(template, 'AWS::DynamoDB::Table').id,
    topic: only(template, 'AWS::SNS::Topic').id,
    key: only(template, 'AWS::KMS::Key').id,
    fn: only(template, 'AWS::Lambda::Function').id,
    role: only(template, 'AWS::IAM::Role').id,
    queue: only(template, 'AWS::SQS::Queue').id,
    logs: only(template, 'AWS::Logs::LogGroup').id,
  };
}, SLOW);

afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('findings table', () => {
  it('mirrors tableDefinition(): keys, attributes, the open index with projection ALL, on-demand billing', () => {
    const definition = tableDefinition('x');
    const table = only(template, 'AWS::DynamoDB::Table').resource;
    expect(table.Properties.KeySchema).toEqual(definition.KeySchema);
    expect(table.Properties.AttributeDefinitions).toEqual(expect.arrayContaining(definition.AttributeDefinitions!));
    expect(table.Properties.AttributeDefinitions).toHaveLength(definition.AttributeDefinitions!.length);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(definition.GlobalSecondaryIndexes);
    expect(table.Properties.GlobalSecondaryIndexes[0].IndexName).toBe(OPEN_INDEX);
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('adds what only DynamoDB has: TTL on expiresAt, point-in-time recovery, KMS encryption; and is retained', () => {
    const table = only(template, 'AWS::DynamoDB::Table').resource;
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    // SSEEnabled true is KMS with the AWS managed key (false or absent would be an AWS owned key).
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('alert topic', () => {
  it('is encrypted with its own key, which rotates', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arn(ids.key) });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(ids.topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: ref(ids.topic),
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('lets CloudWatch alarms of this account publish, and use the key to do it', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: [...TOPIC_KEY_ACTIONS] }),
        ]),
      },
    });
  });

  it(
    'has no subscription unless context alertEmail is given',
    async () => {
      template.resourceCountIs('AWS::SNS::Subscription', 0);
      const { template: withEmail } = await variant({ alertEmail: 'security@example.com' });
      withEmail.resourceCountIs('AWS::SNS::Subscription', 1);
      withEmail.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'security@example.com',
        TopicArn: Match.anyValue(),
      });
    },
    SLOW,
  );

  it(
    'rejects an alertEmail that is not an address at synth time',
    async () => {
      await expect(variant({ alertEmail: 'security' })).rejects.toThrow(/alertEmail/);
    },
    SLOW,
  );
});

describe('audit function', () => {
  it('runs the bundled handler on arm64, Node.js 24, 1024 MB, 10 minutes, one at a time', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 600,
      ReservedConcurrentExecutions: 1,
      Role: arn(ids.role),
    });
  });

  it('is told its table, topic and settings (regions default to the stack region), and the Powertools names', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [ENV.tableName]: ref(ids.table),
          [ENV.topicArn]: ref(ids.topic),
          [ENV.settings]: { 'Fn::Join': ['', ['{"regions":["', ref('AWS::Region'), '"]}']] },
          POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it(
    'takes settings and regions from context, validated as the handler will',
    async () => {
      const { template: custom } = await variant({
        settings: '{"maxKeyAgeDays":60,"alertOn":"open"}',
        regions: 'eu-west-1, us-east-1',
      });
      const fn = only(custom, 'AWS::Lambda::Function').resource;
      expect(JSON.parse(fn.Properties.Environment.Variables[ENV.settings])).toEqual({
        maxKeyAgeDays: 60,
        alertOn: 'open',
        regions: ['eu-west-1', 'us-east-1'],
      });
      await expect(variant({ settings: { maxKeyAgeDays: -1 } })).rejects.toThrow(/maxKeyAgeDays/);
      await expect(variant({ settings: '{not json' })).rejects.toThrow(/settings is not valid JSON/);
      await expect(variant({ regions: 'eu-west-1,nowhere' })).rejects.toThrow(/regions/);
    },
    SLOW,
  );

  it('logs to its own log group, kept for a year', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: ref(ids.logs) } });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365 }, DeletionPolicy: 'Retain' });
  });

  it('sends failed asynchronous invocations, without retry, to an encrypted TLS-only queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(ids.fn),
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: arn(ids.queue) } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('the deployed bundle is byte for byte what bundleHandler() builds (one set of esbuild options)', async () => {
    const s3Key: string = only(template, 'AWS::Lambda::Function').resource.Properties.Code.S3Key;
    const assetDir = join(app.outdir, `asset.${s3Key.replace(/\.zip$/, '')}`);
    const [deployed, tested] = await Promise.all([readFile(join(assetDir, 'index.mjs')), readFile(bundle.file)]);
    expect(deployed.equals(tested)).toBe(true);
  });
});

describe('nightly schedule', () => {
  it('runs the function at 03:00 UTC by default, with the dead-letter queue for undeliverable events', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: arn(ids.fn), DeadLetterConfig: { Arn: arn(ids.queue) } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: arn(ids.fn),
    });
  });

  it(
    'takes its expression from context schedule, and refuses what EventBridge would',
    async () => {
      const { template: custom } = await variant({ schedule: 'cron(30 1 * * ? *)' });
      custom.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(30 1 * * ? *)' });
      await expect(variant({ schedule: '0 3 * * *' })).rejects.toThrow(/schedule/);
    },
    SLOW,
  );
});

describe('alarms (each notifies the topic)', () => {
  const alarmActions = () => [ref(ids.topic)];

  it('function errors: Sum of Errors ≥ 1 over 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(ids.fn) }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions(),
    });
  });

  it('dead letters: a message visible in the queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions(),
    });
  });

  it('no successful run in 26 hours: RunSucceeded by service, 26 hourly periods all below 1, missing data breaching', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.runSucceeded,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: alarmActions(),
    });
    // CloudWatch caps Period × EvaluationPeriods at 7 days for periods of an hour or more.
    expect(3600 * 26).toBeLessThanOrEqual(7 * 86_400);
  });

  it('there are exactly these three', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
  });
});

describe('the function role: least privilege', () => {
  function statements(): Json[] {
    const role = json.Resources[ids.role];
    expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
    // No separate AWS::IAM::Policy may add to it behind the inline policy.
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Json[]) {
      expect(JSON.stringify(policy.Properties.Roles ?? [])).not.toContain(ids.role);
    }
    return role.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
  }
  const actionsOf = (s: Json): string[] => [s.Action].flat();
  const resourcesOf = (s: Json): Json[] => [s.Resource].flat();

  it('grants exactly the audit reads, the table writes, the publish and its key, the dead-letter send and its logs', () => {
    const granted = new Set(statements().flatMap(actionsOf));
    const expected = new Set<string>([
      ...LIVE_READ_ACTIONS,
      ...TABLE_DATA_ACTIONS,
      'sns:Publish',
      ...TOPIC_KEY_ACTIONS,
      'sqs:SendMessage',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    expect([...granted].sort()).toEqual([...expected].sort());
    expect(statements().every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it('no action has a wildcard, and "*" as a resource only in the one statement of the read actions', () => {
    const all = statements();
    for (const action of all.flatMap(actionsOf)) expect(action).not.toContain('*');
    const wildcard = all.filter((s) => resourcesOf(s).some((r) => typeof r === 'string' && r.includes('*')));
    expect(wildcard).toHaveLength(1);
    expect(resourcesOf(wildcard[0])).toEqual(['*']);
    expect([...actionsOf(wildcard[0])].sort()).toEqual([...LIVE_READ_ACTIONS].sort());
  });

  it('scopes every other action to this stack’s own resources', () => {
    const scopes = new Map<string, Json[]>();
    for (const s of statements()) for (const a of actionsOf(s)) scopes.set(a, [...(scopes.get(a) ?? []), ...resourcesOf(s)]);
    const tableArns = [arn(ids.table), { 'Fn::Join': ['', [arn(ids.table), `/index/${OPEN_INDEX}`]] }];
    for (const action of TABLE_DATA_ACTIONS) expect(scopes.get(action)).toEqual(tableArns);
    expect(scopes.get('sns:Publish')).toEqual([ref(ids.topic)]);
    for (const action of TOPIC_KEY_ACTIONS) expect(scopes.get(action)).toEqual([arn(ids.key)]);
    expect(scopes.get('sqs:SendMessage')).toEqual([arn(ids.queue)]);
    for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) expect(scopes.get(action)).toEqual([arn(ids.logs)]);
  });

  it('uses the topic key only through SNS', () => {
    const keyStatement = statements().find((s) => actionsOf(s).includes('kms:Decrypt'));
    expect(keyStatement.Condition).toEqual({
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['sns.', ref('AWS::Region'), '.amazonaws.com']] } },
    });
  });

  it('covers every AWS call the bundled code makes (a new SDK command without its grant fails here)', async () => {
    // The bundle's inputs are exactly the project files the deployed code can reach.
    const sources = bundle.inputs.filter((path) => /^(lib|functions)\/.*\.ts$/.test(path));
    expect(sources).toContain('functions/audit.ts');
    const libDynamodb: Record<string, string> = {
      PutCommand: 'PutItem',
      GetCommand: 'GetItem',
      UpdateCommand: 'UpdateItem',
      DeleteCommand: 'DeleteItem',
      QueryCommand: 'Query',
      ScanCommand: 'Scan',
      BatchWriteCommand: 'BatchWriteItem',
      BatchGetCommand: 'BatchGetItem',
      TransactWriteCommand: 'TransactWriteItems',
      TransactGetCommand: 'TransactGetItems',
    };
    const used = new Set<string>();
    let ensureTableCalled = false;
    for (const path of sources) {
      const text = await readFile(join(PROJECT_ROOT, path), 'utf8');
      if (path !== 'lib/store/store.ts' && /\bensureTable\(/.test(text)) ensureTableCalled = true;
      for (const [, names, from] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g)) {
        for (const specifier of names!
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== '' && !n.startsWith('type '))) {
          const [name, local = name] = specifier.split(/\s+as\s+/) as [string, string?];
          if (!name.endsWith('Command') || !new RegExp(`new ${local}\\(`).test(text)) continue;
          if (from === '@aws-sdk/lib-dynamodb') used.add(`dynamodb:${libDynamodb[name] ?? `unknown ${name}`}`);
          else used.add(`${from!.replace('@aws-sdk/client-', '')}:${name.replace(/Command$/, '')}`);
        }
      }
    }
    // sts:GetCallerIdentity needs no permission. CreateTable/DescribeTable serve ensureTable, which
    // only the command line's local store calls: the stack owns the deployed table.
    used.delete('sts:GetCallerIdentity');
    expect(ensureTableCalled).toBe(false);
    used.delete('dynamodb:CreateTable');
    used.delete('dynamodb:DescribeTable');
    // Granted only with context securityHub=true, which test/infra/security-hub.test.ts checks.
    used.delete('securityhub:BatchImportFindings');
    // The scan itself works: it finds a call of each kind.
    expect([...used]).toEqual(
      expect.arrayContaining(['iam:GetAccountAuthorizationDetails', 'dax:DescribeClusters', 'dynamodb:PutItem', 'sns:Publish']),
    );
    const granted = new Set(statements().flatMap(actionsOf));
    expect([...used].filter((action) => !granted.has(action))).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('the synthesized app has no unacknowledged finding, error or warning', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });

  it('acknowledges exactly two findings, each on its own resource and with its reason', () => {
    const pack = new AwsSolutionsChecks();
    // What the pack would report if nothing were acknowledged (isAcknowledged is private; tests only).
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const raw = pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
    expect(raw.sort()).toEqual(
      [
        `AwsSolutions-IAM5[Resource::*] ${stack.audit.role.node.path}/Resource`,
        `AwsSolutions-SQS3 ${stack.audit.deadLetterQueue.node.path}/Resource`,
      ].sort(),
    );
    for (const construct of [stack.audit.role, stack.audit.deadLetterQueue]) {
      const acks = construct.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
      const reasons = acks.flatMap((m) => Object.values(m.data as Record<string, string>));
      expect(reasons).toHaveLength(1);
      expect(reasons[0]!.length).toBeGreaterThan(60);
    }
  });

  it(
    'a finding fails the synth',
    async () => {
      const { app: broken, stack: brokenStack } = createAuditorApp({
        outdir: await tempDir('auditor-cdk-'),
        context: { 'aws:cdk:bundling-stacks': [] },
      });
      new Queue(brokenStack, 'PlainQueue');
      expect(() => broken.synth()).toThrow(/AwsSolutions-SQS/);
    },
    SLOW,
  );

  it('CDK itself reports no error or warning on the stack', () => {
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('npm run synth (tsx infra/app.ts)', () => {
  it(
    'synthesizes offline into CDK_OUTDIR, taking -c key=value like the CLI',
    async () => {
      const outdir = await tempDir('auditor-synth-');
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: outdir,
        CDK_OUTDIR: outdir,
        // Nothing here may find credentials or the instance metadata service.
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(outdir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(outdir, 'no-aws-credentials'),
      };
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'infra/app.ts', '-c', 'alertEmail=ops@example.com', '--context=schedule=rate(1 day)'],
        {
          cwd: PROJECT_ROOT,
          env,
          timeout: SLOW,
        },
      );
      const synthesized = Template.fromJSON(JSON.parse(await readFile(join(outdir, 'AccountAuditor.template.json'), 'utf8')));
      synthesized.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
      synthesized.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)' });
      const report = JSON.parse(await readFile(join(outdir, 'validation-report.json'), 'utf8'));
      expect(report.pluginReports.filter((r: Json) => r.conclusion !== 'success')).toEqual([]);
    },
    SLOW,
  );
});
