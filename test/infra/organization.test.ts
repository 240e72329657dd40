/**
 * Organization mode's stacks (`-c mode=organization`): the OrganizationAuditStack's state machine
 * (discover → Distributed Map → summarize), its functions and alarms; the member role and the
 * StackSet that deploys it. Bundling is skipped except where the bundle itself is compared.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validations, type App, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditorApp, createDeploymentApp, createOrganizationApp, STACK_ID } from '../../infra/auditor-app.ts';
import { TOPIC_KEY_ACTIONS } from '../../infra/constructs/alert-topic.ts';
import { TABLE_DATA_ACTIONS } from '../../infra/constructs/findings-table.ts';
import { MEMBER_ROLE_STACK_SET_NAME } from '../../infra/member-role-stack.ts';
import { ORGANIZATION_STACK_IDS, type OrganizationStacks } from '../../infra/organization-app.ts';
import { ACCOUNT_AUDIT_ROLE_NAME, DISCOVER_ROLE_NAME } from '../../infra/organization-config.ts';
import { LAMBDA_TRANSIENT_ERRORS, ORGANIZATION_CONTEXT_WRITE_ACTIONS, ORGANIZATIONS_READ_ACTIONS } from '../../infra/organization-stack.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { ENV } from '#lib/lambda/contract.ts';
import { mapItemSchema, ORGANIZATION_ENV } from '#lib/organization/contract.ts';
import { parseOrganizationSettings } from '#lib/organization/settings.ts';

/** CloudFormation JSON is untyped by nature. */
type Json = any;

const SLOW = 180_000;
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AUDITOR = '999999999999';
const ROOT = 'r-ab12';
const BASE_CONTEXT = { auditorAccountId: AUDITOR, memberRoleOus: ROOT };
const dirs: string[] = [];

async function outdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'auditor-org-'));
  dirs.push(dir);
  return dir;
}

async function organization(
  context: Record<string, unknown> = {},
  bundle: string[] = [],
): Promise<{ app: App; stacks: OrganizationStacks }> {
  return createOrganizationApp({ outdir: await outdir(), context: { 'aws:cdk:bundling-stacks': bundle, ...BASE_CONTEXT, ...context } });
}

function only(template: Template, type: string, props: Json = {}): { id: string; resource: Json } {
  const entries = Object.entries(template.findResources(type, props));
  expect(entries, `exactly one ${type}`).toHaveLength(1);
  const [id, resource] = entries[0]!;
  return { id, resource };
}

/** The state machine's definition as JSON, each CloudFormation token written as `<Ref>` or `<Resource.Attr>`. */
function definition(template: Template): Json {
  const body = only(template, 'AWS::StepFunctions::StateMachine').resource.Properties.DefinitionString;
  const parts: Json[] = body['Fn::Join'] ? body['Fn::Join'][1] : [body];
  const text = parts.map((p) => (typeof p === 'string' ? p : p.Ref ? `<${p.Ref}>` : `<${p['Fn::GetAtt'].join('.')}>`)).join('');
  return JSON.parse(text);
}

function roleStatements(template: Template, roleId: string): Json[] {
  const role = template.toJSON().Resources[roleId];
  expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Json[]) {
    expect(JSON.stringify(policy.Properties.Roles ?? [])).not.toContain(`"${roleId}"`);
  }
  return role.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
}
/** The discover role's one table grant: PutItem of the organization runs' items only. */
const contextWrite = (table: string): Json => ({
  Sid: 'OrganizationContextWrite',
  Effect: 'Allow',
  Action: ORGANIZATION_CONTEXT_WRITE_ACTIONS.length === 1 ? ORGANIZATION_CONTEXT_WRITE_ACTIONS[0] : [...ORGANIZATION_CONTEXT_WRITE_ACTIONS],
  Resource: { 'Fn::GetAtt': [table, 'Arn'] },
  Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ORGRUN#*', 'ORGRUNS'] } },
});
const actionsOf = (s: Json): string[] => [s.Action].flat();
const resourcesOf = (s: Json): Json[] => [s.Resource].flat();
const roleIdOf = (template: Template, roleName: string) => only(template, 'AWS::IAM::Role', { Properties: { RoleName: roleName } }).id;
const functionOf = (template: Template, roleId: string) =>
  only(template, 'AWS::Lambda::Function', { Properties: { Role: { 'Fn::GetAtt': [roleId, 'Arn'] } } });

let app: App;
let stacks: OrganizationStacks;
let audit: Template;
let asl: Json;
let item: Json;

beforeAll(async () => {
  ({ app, stacks } = await organization());
  // Synthesizes the app, which runs cdk-nag and throws on any finding.
  audit = Template.fromStack(stacks.audit);
  asl = definition(audit);
  item = asl.States['Audit accounts'].ItemProcessor;
}, SLOW);

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('the state machine: discover → Distributed Map over the accounts → summarize', () => {
  it('runs the three steps in order, within 23 hours', () => {
    expect(asl.StartAt).toBe('Discover accounts');
    expect(asl.States['Discover accounts']).toMatchObject({ Type: 'Task', Next: 'Audit accounts', OutputPath: '$.Payload' });
    expect(asl.States['Discover accounts'].Parameters.Payload).toEqual({
      'executionName.$': '$$.Execution.Name',
      'executionStartTime.$': '$$.Execution.StartTime',
    });
    expect(asl.States['Audit accounts'].Next).toBe('Summarize run');
    expect(asl.States['Summarize run']).toMatchObject({ Type: 'Task', End: true, OutputPath: '$.Payload' });
    expect(asl.TimeoutSeconds).toBe(23 * 3600);
  });

  it('is a Distributed Map with MaxConcurrency 20 and every item failure tolerated', () => {
    const map = asl.States['Audit accounts'];
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.MaxConcurrency).toBe(20);
    expect(map.ToleratedFailurePercentage).toBe(100);
    expect(map.ToleratedFailureCount).toBeUndefined();
    expect(map.Label).toBe('Accounts');
  });

  it('hands each item the contract’s MapItem: the run ID and one account of the discovery', () => {
    const map = asl.States['Audit accounts'];
    expect(map.ItemsPath).toBe('$.accounts');
    expect(map.ItemSelector).toEqual({ 'organizationRunId.$': '$.organizationRunId', 'account.$': '$$.Map.Item.Value' });
    // What that selector builds from a discovery output is a valid item.
    const account = { id: '222222222222', name: 'payments', roleArn: 'arn:aws:iam::222222222222:role/AccountAuditorMemberRole' };
    expect(mapItemSchema.parse({ organizationRunId: '20261101T030000000Z-x', account }).account).toEqual(account);
    // The outcomes replace the accounts in the state: one list, not two.
    expect(map.ResultPath).toBe('$.accounts');
  });

  it('invokes the per-account function with the item, retrying Lambda’s throttling and service errors with backoff', () => {
    const task = item.States['Audit account'];
    const fnId = functionOf(audit, roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME)).id;
    expect(task.Parameters).toEqual({ FunctionName: `<${fnId}.Arn>`, 'Payload.$': '$' });
    expect(task.Retry).toEqual([
      {
        ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        MaxDelaySeconds: 60,
        JitterStrategy: 'FULL',
      },
    ]);
    expect(task.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.TooManyRequestsException', 'Lambda.ServiceException']));
    // The function's own errors are not retried: a retry would be a second run of the same account.
    expect(task.Retry[0].ErrorEquals).not.toContain('States.ALL');
    expect(task.Retry[0].ErrorEquals).not.toContain('States.TaskFailed');
    for (const step of ['Discover accounts', 'Summarize run']) expect(asl.States[step].Retry).toEqual(task.Retry);
  });

  it('turns every account into an outcome: audited (the summary’s run, counts) or failed (error, cause cut short)', () => {
    const task = item.States['Audit account'];
    expect(item.StartAt).toBe('Audit account');
    expect(task.ResultSelector).toEqual({
      'runId.$': '$.Payload.runId',
      'complete.$': '$.Payload.complete',
      'counts.$': '$.Payload.counts',
      'accountState.$': '$.Payload.organization.state',
    });
    expect(task.Next).toBe('Account audited');
    expect(item.States['Account audited'].Parameters).toEqual({
      outcome: 'audited',
      account: { 'id.$': '$.account.id', 'name.$': '$.account.name' },
      'run.$': '$.run',
    });
    expect(task.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Account failed' }]);
    const failed = item.States['Account failed'];
    expect(failed).toMatchObject({ Type: 'Pass', QueryLanguage: 'JSONata', End: true });
    expect(failed.Output).toMatchObject({ outcome: 'failed', error: '{% $states.input.failure.Error %}' });
    expect(failed.Output.cause).toMatch(/\$substring\(.*, 0, 300\)/);
  });

  it('logs every state to its own log group, kept a year', () => {
    const logs = only(audit, 'AWS::Logs::LogGroup', { Properties: { LogGroupName: Match.stringLikeRegexp('^/aws/vendedlogs/states/') } });
    audit.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logs.id, 'Arn'] } } }],
      },
    });
    expect(logs.resource.Properties.RetentionInDays).toBe(365);
  });

  it('is started by the nightly schedule, 03:00 UTC by default', () => {
    const sm = only(audit, 'AWS::StepFunctions::StateMachine').id;
    audit.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: sm } })],
    });
  });
});

describe('organizationMaxConcurrency', () => {
  it(
    'sets the map’s MaxConcurrency and the per-account function’s reserved concurrency alike',
    async () => {
      const fn = functionOf(audit, roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME)).resource;
      expect(fn.Properties.ReservedConcurrentExecutions).toBe(20);
      const { stacks: seven } = await organization({ organizationMaxConcurrency: '7' });
      const t = Template.fromStack(seven.audit);
      expect(definition(t).States['Audit accounts'].MaxConcurrency).toBe(7);
      expect(functionOf(t, roleIdOf(t, ACCOUNT_AUDIT_ROLE_NAME)).resource.Properties.ReservedConcurrentExecutions).toBe(7);
      // The discovery's settings say the same.
      const discover = functionOf(t, roleIdOf(t, DISCOVER_ROLE_NAME)).resource;
      expect(JSON.parse(discover.Properties.Environment.Variables[ORGANIZATION_ENV.settings]).maxConcurrency).toBe(7);
    },
    SLOW,
  );

  it(
    'the smallest value, 1, is accepted; 0, 901, 2.5 and words are refused at synth, naming the key and the range',
    async () => {
      const { stacks: one } = await organization({ organizationMaxConcurrency: 1 });
      expect(definition(Template.fromStack(one.audit)).States['Audit accounts'].MaxConcurrency).toBe(1);
      for (const bad of ['0', '901', '2.5', 'twenty', -1]) {
        await expect(organization({ organizationMaxConcurrency: bad })).rejects.toThrow(
          `context organizationMaxConcurrency must be a whole number from 1 to 900 (accounts audited at once), got ${JSON.stringify(bad)}`,
        );
      }
    },
    SLOW,
  );
});

describe('the per-account function', () => {
  it('is the single-account handler on the same runtime, memory and timeout, told the table, topic and settings', () => {
    const roleId = roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME);
    const fn = functionOf(audit, roleId).resource;
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 600,
    });
    const table = only(audit, 'AWS::DynamoDB::Table').id;
    const topic = only(audit, 'AWS::SNS::Topic').id;
    expect(fn.Properties.Environment.Variables).toMatchObject({ [ENV.tableName]: { Ref: table }, [ENV.topicArn]: { Ref: topic } });
    expect(fn.Properties.Environment.Variables[ENV.settings]).toEqual({
      'Fn::Join': ['', ['{"regions":["', { Ref: 'AWS::Region' }, '"]}']],
    });
    // A map item's alert mode (digest or per-account) comes with the organization settings.
    expect(JSON.parse(fn.Properties.Environment.Variables[ORGANIZATION_ENV.settings])).toEqual(parseOrganizationSettings({}));
  });

  it('the organization context store calls only what its readers and writer are granted', async () => {
    const text = await readFile(join(PROJECT_ROOT, 'lib/store/organization-context.ts'), 'utf8');
    const used = [...text.matchAll(/new (Get|Put|Query|Delete|Update|BatchWrite|BatchGet)Command\(/g)].map((m) => `dynamodb:${m[1]}Item`);
    expect([...new Set(used)].sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(TABLE_DATA_ACTIONS).toContain('dynamodb:GetItem');
    expect(ORGANIZATION_CONTEXT_WRITE_ACTIONS).toEqual(['dynamodb:PutItem']);
  });

  it('its role: a fixed name, sts:AssumeRole on the member role name only, the reads for its own account, the table, topic and logs', () => {
    const roleId = roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME);
    const statements = roleStatements(audit, roleId);
    const granted = new Set(statements.flatMap(actionsOf));
    expect([...granted].sort()).toEqual(
      [
        ...new Set([
          'sts:AssumeRole',
          ...LIVE_READ_ACTIONS,
          ...TABLE_DATA_ACTIONS,
          'sns:Publish',
          ...TOPIC_KEY_ACTIONS,
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]),
      ].sort(),
    );
    const assume = statements.filter((s) => actionsOf(s).includes('sts:AssumeRole'));
    expect(assume).toEqual([
      {
        Sid: 'AssumeMemberRole',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::*:role/AccountAuditorMemberRole']] },
      },
    ]);
    for (const action of statements.flatMap(actionsOf)) expect(action).not.toContain('*');
    const starred = statements.filter((s) => resourcesOf(s).includes('*'));
    expect(starred.map((s) => [...actionsOf(s)].sort())).toEqual([[...LIVE_READ_ACTIONS].sort()]);
  });

  it(
    'follows memberRoleName',
    async () => {
      const { stacks: custom } = await organization({ memberRoleName: 'SecurityAudit-Reader' });
      const t = Template.fromStack(custom.audit);
      const assume = roleStatements(t, roleIdOf(t, ACCOUNT_AUDIT_ROLE_NAME)).find((s) => s.Sid === 'AssumeMemberRole');
      expect(JSON.stringify(assume.Resource)).toContain(':iam::*:role/SecurityAudit-Reader');
    },
    SLOW,
  );

  it(
    'deploys the same bundle as the single-account function',
    async () => {
      const single = createAuditorApp({ outdir: await outdir() }).stack;
      const { stacks: bundled } = await organization({}, [ORGANIZATION_STACK_IDS.audit]);
      const t = Template.fromStack(bundled.audit);
      const orgKey = functionOf(t, roleIdOf(t, ACCOUNT_AUDIT_ROLE_NAME)).resource.Properties.Code.S3Key;
      const singleKey = only(Template.fromStack(single), 'AWS::Lambda::Function').resource.Properties.Code.S3Key;
      expect(orgKey).toBe(singleKey);
      // The discover and summarize entries are bundles of their own.
      const keys = Object.values(t.findResources('AWS::Lambda::Function')).map((f: Json) => f.Properties.Code.S3Key);
      expect(new Set(keys).size).toBe(3);
    },
    SLOW,
  );
});

describe('the discover and summarize functions', () => {
  it('discover: a fixed role name; Organizations reads when no management role is set; its settings in ORGANIZATION_SETTINGS', () => {
    const roleId = roleIdOf(audit, DISCOVER_ROLE_NAME);
    const statements = roleStatements(audit, roleId).filter((s) => s.Sid !== 'Logs');
    const table = only(audit, 'AWS::DynamoDB::Table').id;
    expect(statements).toEqual([
      { Sid: 'OrganizationsRead', Effect: 'Allow', Action: [...ORGANIZATIONS_READ_ACTIONS], Resource: '*' },
      contextWrite(table),
    ]);
    const fn = functionOf(audit, roleId).resource;
    expect(JSON.parse(fn.Properties.Environment.Variables[ORGANIZATION_ENV.settings])).toEqual(parseOrganizationSettings({}));
    // The run's organization context goes to the findings table, kept as long as the history.
    expect(fn.Properties.Environment.Variables).toMatchObject({ [ENV.tableName]: { Ref: table }, [ENV.settings]: '{}' });
  });

  it(
    'discover: with managementRoleArn, sts:AssumeRole on that role and nothing of Organizations',
    async () => {
      const managementRoleArn = 'arn:aws:iam::111111111111:role/AccountAuditorOrganizationRead';
      const { stacks: viaRole } = await organization({
        managementRoleArn,
        includeOus: 'ou-ab12-cd34ef56',
        excludeAccounts: '222222222222, 333333333333',
      });
      const t = Template.fromStack(viaRole.audit);
      const roleId = roleIdOf(t, DISCOVER_ROLE_NAME);
      expect(roleStatements(t, roleId).filter((s) => s.Sid !== 'Logs')).toEqual([
        { Sid: 'AssumeManagementRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: managementRoleArn },
        contextWrite(only(t, 'AWS::DynamoDB::Table').id),
      ]);
      const settings = JSON.parse(functionOf(t, roleId).resource.Properties.Environment.Variables[ORGANIZATION_ENV.settings]);
      expect(settings).toMatchObject({
        managementRoleArn,
        includeOus: ['ou-ab12-cd34ef56'],
        excludeAccounts: ['222222222222', '333333333333'],
      });
    },
    SLOW,
  );

  it('discover is granted every AWS call lib/organization makes (a new call without its grant fails here)', async () => {
    const used = new Set<string>();
    const files = (await readdir(join(PROJECT_ROOT, 'lib/organization')))
      .map((f) => `lib/organization/${f}`)
      .concat('functions/organization-discover.ts');
    for (const file of files) {
      const text = await readFile(join(PROJECT_ROOT, file), 'utf8');
      for (const [, names, client] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z]+)'/g)) {
        for (const name of names!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
          const command = /^paginate(\w+)$/.exec(name)?.[1] ?? /^(\w+)Command$/.exec(name)?.[1];
          if (command && new RegExp(`(new ${name}\\(|${name}\\()`).test(text)) used.add(`${client}:${command}`);
        }
      }
    }
    expect([...used].sort()).toEqual([
      'organizations:DescribeOrganization',
      'organizations:DescribePolicy',
      'organizations:ListAccounts',
      'organizations:ListChildren',
      'organizations:ListParents',
      'organizations:ListPolicies',
      'organizations:ListPoliciesForTarget',
      'organizations:ListTargetsForPolicy',
      'sts:AssumeRole',
    ]);
    // sts:AssumeRole is the management role's grant (the next test); the rest is Organizations'.
    used.delete('sts:AssumeRole');
    expect([...used].filter((a) => !(ORGANIZATIONS_READ_ACTIONS as readonly string[]).includes(a))).toEqual([]);
  });

  it('summarize: Query, GetItem and PutItem on the table, sns:Publish on the topic, its table, topic and settings in the environment', () => {
    const summarize = Object.entries(audit.findResources('AWS::IAM::Role')).filter(
      ([, r]: [string, Json]) =>
        !r.Properties.RoleName && r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === 'lambda.amazonaws.com',
    );
    expect(summarize).toHaveLength(1);
    const roleId = summarize[0]![0];
    const statements = roleStatements(audit, roleId).filter((s) => s.Sid !== 'Logs');
    const table = only(audit, 'AWS::DynamoDB::Table').id;
    const topic = only(audit, 'AWS::SNS::Topic').id;
    expect(statements.find((s) => s.Sid === 'OrganizationRuns')).toEqual({
      Sid: 'OrganizationRuns',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
      // The table only: the sections and records are read by key, never through the open index.
      Resource: { 'Fn::GetAtt': [table, 'Arn'] },
    });
    expect(statements.find((s) => s.Sid === 'AlertPublish')).toEqual({
      Sid: 'AlertPublish',
      Effect: 'Allow',
      Action: 'sns:Publish',
      Resource: { Ref: topic },
    });
    expect(statements.map((s) => s.Sid).sort()).toEqual(['AlertPublish', 'AlertTopicKey', 'OrganizationRuns']);
    const variables = functionOf(audit, roleId).resource.Properties.Environment.Variables;
    expect(variables[ENV.tableName]).toEqual({ Ref: table });
    expect(variables[ENV.topicArn]).toEqual({ Ref: topic });
    expect(JSON.parse(variables[ORGANIZATION_ENV.settings])).toMatchObject({ alerts: 'digest' });
  });

  it(
    'bad organization settings are refused at synth, naming the context key',
    async () => {
      await expect(organization({ includeAccounts: '1234' })).rejects.toThrow(
        /context: includeAccounts\.0: must be a 12-digit AWS account ID/,
      );
      await expect(organization({ organizationAlerts: 'weekly' })).rejects.toThrow(/context: organizationAlerts: /);
      await expect(organization({ securityHub: 'true' })).rejects.toThrow(/securityHub=true is not supported with mode=organization/);
    },
    SLOW,
  );
});

describe('alarms (each notifies the topic)', () => {
  const topic = () => [{ Ref: only(audit, 'AWS::SNS::Topic').id }];
  const stateMachine = () => [{ Name: 'StateMachineArn', Value: { Ref: only(audit, 'AWS::StepFunctions::StateMachine').id } }];

  it('a failed execution: ExecutionsFailed ≥ 1 in 5 minutes', () => {
    audit.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: stateMachine(),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: topic(),
    });
  });

  it('a timed-out execution: ExecutionsTimedOut ≥ 1', () => {
    audit.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsTimedOut',
      Dimensions: stateMachine(),
      Threshold: 1,
      AlarmActions: topic(),
    });
  });

  it('no successful organization run in 26 hours: ExecutionsSucceeded, 26 hourly periods below 1, missing data breaching', () => {
    audit.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsSucceeded',
      Dimensions: stateMachine(),
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: topic(),
    });
  });

  it('an account’s audit failing: the per-account function’s Errors ≥ 1; and no other alarm', () => {
    const fn = functionOf(audit, roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME)).id;
    audit.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
      AlarmActions: topic(),
    });
    audit.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });

  it('has the single-account stack’s table and topic', () => {
    audit.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', Properties: { DeletionProtectionEnabled: true } });
    audit.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('the member role', () => {
  const templates = (): { name: string; template: Json }[] => {
    const stackSet = only(Template.fromStack(stacks.stackSet), 'AWS::CloudFormation::StackSet').resource;
    return [
      { name: 'StackSet template', template: JSON.parse(stackSet.Properties.TemplateBody) },
      { name: 'management account stack', template: Template.fromStack(stacks.managementRole).toJSON() },
    ];
  };

  it('the StackSet deploys the same template as the management account’s stack, without bootstrap', () => {
    const [set, plain] = templates();
    const strip = (t: Json) =>
      Object.fromEntries(Object.entries(t.Resources).map(([id, r]: [string, Json]) => [id, { ...r, Metadata: undefined }]));
    expect(strip(set!.template)).toEqual(strip(plain!.template));
    for (const { template } of templates()) {
      expect(template.Parameters ?? {}).toEqual({});
      expect(template.Rules ?? {}).toEqual({});
      expect(Object.values(template.Resources).map((r: Json) => r.Type)).toEqual(['AWS::IAM::Role']);
    }
  });

  it.each([0, 1])('%#: exactly LIVE_READ_ACTIONS on "*", the single-account role’s list, and nothing else', (i) => {
    const { template } = templates()[i]!;
    const role: Json = Object.values(template.Resources)[0];
    expect(role.Properties.RoleName).toBe('AccountAuditorMemberRole');
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = role.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0].Effect).toBe('Allow');
    expect([...actionsOf(statements[0])].sort()).toEqual([...LIVE_READ_ACTIONS].sort());
    expect(actionsOf(statements[0]).some((a) => a.includes('*'))).toBe(false);
    expect(statements[0].Resource).toBe('*');
  });

  it.each([0, 1])('%#: trusts the auditor account only for the per-account function’s role (aws:PrincipalArn)', (i) => {
    const { template } = templates()[i]!;
    const role: Json = Object.values(template.Resources)[0];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${AUDITOR}:root`]] } },
        Condition: {
          ArnEquals: {
            'aws:PrincipalArn': {
              'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${AUDITOR}:role/${ACCOUNT_AUDIT_ROLE_NAME}`]],
            },
          },
        },
      },
    ]);
    // That ARN is the per-account function's role: fixed name, default path, in the auditor account.
    const functionRole = audit.toJSON().Resources[roleIdOf(audit, ACCOUNT_AUDIT_ROLE_NAME)];
    expect(functionRole.Properties.RoleName).toBe(ACCOUNT_AUDIT_ROLE_NAME);
    expect(functionRole.Properties.Path).toBeUndefined();
  });

  it(
    'with externalId, the trust requires it, and the discovery passes it on',
    async () => {
      const { stacks: withId } = await organization({ externalId: 'tooling-7f3a' });
      const body = JSON.parse(only(Template.fromStack(withId.stackSet), 'AWS::CloudFormation::StackSet').resource.Properties.TemplateBody);
      const role: Json = Object.values(body.Resources)[0];
      expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({
        StringEquals: { 'sts:ExternalId': 'tooling-7f3a' },
        ArnEquals: { 'aws:PrincipalArn': expect.anything() },
      });
      const t = Template.fromStack(withId.audit);
      expect(
        JSON.parse(functionOf(t, roleIdOf(t, DISCOVER_ROLE_NAME)).resource.Properties.Environment.Variables[ORGANIZATION_ENV.settings])
          .externalId,
      ).toBe('tooling-7f3a');
    },
    SLOW,
  );
});

describe('the StackSet', () => {
  it('is service-managed, deploys automatically to new accounts of the root and removes the role from leavers', () => {
    const set = only(Template.fromStack(stacks.stackSet), 'AWS::CloudFormation::StackSet').resource.Properties;
    expect(set).toMatchObject({
      StackSetName: MEMBER_ROLE_STACK_SET_NAME,
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      CallAs: 'SELF',
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [{ DeploymentTargets: { OrganizationalUnitIds: [ROOT] }, Regions: [{ Ref: 'AWS::Region' }] }],
    });
    // Its stack needs no CDK bootstrap in the management account.
    const template = Template.fromStack(stacks.stackSet).toJSON();
    expect(template.Parameters ?? {}).toEqual({});
    expect(template.Rules ?? {}).toEqual({});
  });

  it(
    'targets chosen OUs from a delegated administrator',
    async () => {
      const { stacks: ous } = await organization({
        memberRoleOus: 'ou-ab12-11111111, ou-ab12-22222222',
        stackSetCallAs: 'DELEGATED_ADMIN',
      });
      const set = only(Template.fromStack(ous.stackSet), 'AWS::CloudFormation::StackSet').resource.Properties;
      expect(set.StackInstancesGroup[0].DeploymentTargets.OrganizationalUnitIds).toEqual(['ou-ab12-11111111', 'ou-ab12-22222222']);
      expect(set.CallAs).toBe('DELEGATED_ADMIN');
    },
    SLOW,
  );

  it(
    'refuses missing or malformed targets and auditor account, saying what to give',
    async () => {
      await expect(organization({ memberRoleOus: '' })).rejects.toThrow(
        /context memberRoleOus must name where the StackSet deploys the member role/,
      );
      await expect(organization({ memberRoleOus: 'ou-x' })).rejects.toThrow(/context memberRoleOus must hold a root ID/);
      await expect(organization({ memberRoleOus: `${ROOT},ou-ab12-11111111` })).rejects.toThrow(/root already covers every OU/);
      await expect(organization({ auditorAccountId: '' })).rejects.toThrow(
        /context auditorAccountId must be the 12-digit ID of the security tooling account/,
      );
      await expect(organization({ auditorAccountId: '99' })).rejects.toThrow(/got "99"/);
      await expect(organization({ stackSetCallAs: 'ORG' })).rejects.toThrow(/stackSetCallAs must be SELF or DELEGATED_ADMIN/);
    },
    SLOW,
  );
});

describe('cdk-nag AwsSolutions', () => {
  it('the synthesized organization app has no unacknowledged finding', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });

  it('acknowledges only these findings, each on its own resource and with its reason', () => {
    const pack = new AwsSolutionsChecks();
    (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const raw = pack
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map(
          (r) =>
            `${v.ruleName.replace(/\[Resource::.*<(\w+?)[0-9A-F]{8}\.Arn>:\*\]$/, '[Resource::<$1.Arn>:*]').replace(/execution:.*$/, 'execution:…]')} ${r.constructPath}`,
        ),
      );
    const a = ORGANIZATION_STACK_IDS.audit;
    expect(raw.sort()).toEqual(
      [
        `AwsSolutions-IAM5[Resource::*] ${a}/AccountAudit/Role/Resource`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/AccountAuditorMemberRole] ${a}/AccountAudit/Role/Resource`,
        `AwsSolutions-IAM5[Resource::*] ${a}/Discover/Role/Resource`,
        `AwsSolutions-IAM5[Resource::<AccountAuditFunction.Arn>:*] ${a}/StateMachine/Role/DefaultPolicy/Resource`,
        `AwsSolutions-IAM5[Resource::<DiscoverFunction.Arn>:*] ${a}/StateMachine/Role/DefaultPolicy/Resource`,
        `AwsSolutions-IAM5[Resource::<SummarizeFunction.Arn>:*] ${a}/StateMachine/Role/DefaultPolicy/Resource`,
        `AwsSolutions-IAM5[Resource::*] ${a}/StateMachine/Role/DefaultPolicy/Resource`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:…] ${a}/StateMachine/DistributedMapPolicy/Resource`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:…] ${a}/StateMachine/DistributedMapPolicy/Resource`,
        `AwsSolutions-SF2 ${a}/StateMachine/Resource`,
        `AwsSolutions-IAM5[Resource::*] ${ORGANIZATION_STACK_IDS.managementRole}/Role/Resource`,
        `AwsSolutions-IAM5[Resource::*] ${ORGANIZATION_STACK_IDS.organizationRead}/Role/Resource`,
      ].sort(),
    );
    for (const construct of [
      stacks.audit.audit.role,
      stacks.audit.discover.role,
      stacks.audit.stateMachine,
      stacks.managementRole.role,
      stacks.organizationRead.role,
    ]) {
      const reasons = construct.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.values(m.data as Record<string, string>));
      expect(reasons.length).toBeGreaterThan(0);
      for (const reason of reasons) expect(reason.length).toBeGreaterThan(60);
    }
  });

  it(
    'a finding fails the synth',
    async () => {
      const { app: broken, stacks: brokenStacks } = await organization();
      new Queue(brokenStacks.audit, 'PlainQueue');
      expect(() => broken.synth()).toThrow(/AwsSolutions-SQS/);
    },
    SLOW,
  );

  it('CDK reports no error or warning on the stacks', () => {
    for (const stack of [stacks.audit, stacks.managementRole, stacks.stackSet, stacks.organizationRead] as Stack[]) {
      Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
      Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
    }
  });
});

describe('the deployment app (infra/app.ts)', () => {
  it('synthesizes the single-account stack alone by default', async () => {
    const { app: single } = createDeploymentApp({ outdir: await outdir(), context: { 'aws:cdk:bundling-stacks': [] } });
    expect(single.node.children.filter((c) => 'templateOptions' in c).map((c) => c.node.id)).toEqual([STACK_ID]);
  });

  it(
    'with mode=organization, the three organization stacks instead',
    async () => {
      const { app: org } = createDeploymentApp({
        outdir: await outdir(),
        context: { 'aws:cdk:bundling-stacks': [], mode: 'organization', ...BASE_CONTEXT },
      });
      const ids = org.node.children.filter((c) => 'templateOptions' in c).map((c) => c.node.id);
      expect(ids.sort()).toEqual(Object.values(ORGANIZATION_STACK_IDS).sort());
      const assembly = org.synth();
      expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(Object.values(ORGANIZATION_STACK_IDS).sort());
    },
    SLOW,
  );

  it('refuses an unknown mode', async () => {
    const dir = await outdir();
    expect(() => createDeploymentApp({ outdir: dir, context: { mode: 'org' } })).toThrow(
      /context mode must be organization or single-account/,
    );
  });
});
