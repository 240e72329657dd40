import { Aws, CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  DistributedMap,
  Errors,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  StateMachine,
  StateMachineType,
  TaskInput,
  type RetryProps,
  type TaskStateBase,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { Construct, IConstruct } from 'constructs';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { ENV, HANDLER_ENTRY, HANDLER_EXPORT } from '#lib/lambda/contract.ts';
import { ORGANIZATION_ENV, OUTCOME_CAUSE_CHARS } from '#lib/organization/contract.ts';
import type { OrganizationSettings } from '#lib/organization/settings.ts';
import { ConfigError, readConfig, type AuditorConfig } from './config.ts';
import { AlertTopic } from './constructs/alert-topic.ts';
import { LOG_RETENTION, MEMORY_MB, TIMEOUT } from './constructs/audit-function.ts';
import { FindingsTable, TABLE_DATA_ACTIONS } from './constructs/findings-table.ts';
import { OrganizationFunction } from './constructs/organization-function.ts';
import { ACCOUNT_AUDIT_ROLE_NAME, DISCOVER_ROLE_NAME, readOrganizationSettings } from './organization-config.ts';
import { HEARTBEAT_HOURS } from './stack.ts';

/**
 * Organizations reads the discover function is granted when no management role is configured
 * (the auditor's account is a delegated administrator): the account list and tree, and the
 * policies that apply along it (SPEC 8's guardrails).
 */
export const ORGANIZATIONS_READ_ACTIONS = [
  'organizations:DescribeOrganization',
  'organizations:ListAccounts',
  'organizations:ListChildren',
  'organizations:ListParents',
  'organizations:ListPolicies',
  'organizations:ListPoliciesForTarget',
  'organizations:ListTargetsForPolicy',
  'organizations:DescribePolicy',
] as const;

/** The discover step's writes to the findings table: the organization context's items (lib/store/organization-context.ts). */
export const ORGANIZATION_CONTEXT_WRITE_ACTIONS = ['dynamodb:PutItem'] as const;

/**
 * Errors of the Lambda service itself, not of the function: a throttle (another invocation holding
 * the reserved slots), a service fault. Retried with backoff; the function's own errors are not.
 */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
] as const;

/** 2, 4, 8, 16, 32 s, capped at a minute, with full jitter: about a minute in all before an item gives up. */
export const LAMBDA_RETRY: RetryProps = {
  errors: [...LAMBDA_TRANSIENT_ERRORS],
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
  maxDelay: Duration.minutes(1),
  jitterStrategy: JitterType.FULL,
};

/**
 * The longest organization run: it ends (and the timed-out alarm fires) before the next night's
 * starts, so that two runs never audit the same accounts at once.
 */
export const ORGANIZATION_RUN_TIMEOUT = Duration.hours(23);

export interface OrganizationAuditStackProps extends StackProps {
  /** Overrides the context's organization settings (tests). */
  settings?: OrganizationSettings;
}

/**
 * account-auditor for a whole AWS Organization (SPEC 8), in the security tooling account: the
 * nightly schedule starts a state machine that discovers the accounts, audits each in a Distributed
 * Map child workflow (the single-account handler, one account per item, at most MaxConcurrency at
 * once) and summarizes the run; the table and the topic are the single-account stack's constructs.
 */
export class OrganizationAuditStack extends Stack {
  readonly config: AuditorConfig;
  readonly settings: OrganizationSettings;
  readonly table: FindingsTable;
  readonly topic: AlertTopic;
  readonly audit: OrganizationFunction;
  readonly discover: OrganizationFunction;
  readonly summarize: OrganizationFunction;
  readonly map: DistributedMap;
  readonly stateMachine: StateMachine;
  readonly stateMachineLogs: LogGroup;
  readonly schedule: Rule;
  readonly alarms: { failedRun: Alarm; timedOutRun: Alarm; noSuccessfulRun: Alarm; accountErrors: Alarm };

  constructor(scope: Construct, id: string, props: OrganizationAuditStackProps = {}) {
    super(scope, id, { description: 'account-auditor: nightly compliance audit of every account of the AWS Organization', ...props });
    this.config = readConfig(this);
    this.settings = props.settings ?? readOrganizationSettings(this);
    if (this.config.securityHub) {
      throw new ConfigError(
        'context securityHub=true is not supported with mode=organization: the import writes to the auditor account’s own product, not to each member’s',
      );
    }

    this.table = new FindingsTable(this, 'Findings');
    this.topic = new AlertTopic(this, 'Alerts', { alertEmail: this.config.alertEmail });
    this.audit = this.accountAuditFunction();
    this.discover = this.discoverFunction();
    this.summarize = this.summarizeFunction();

    this.stateMachineLogs = new LogGroup(this, 'StateMachineLogs', {
      // The vended-logs prefix keeps Step Functions from growing the account's log resource policy.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}`,
      retention: LOG_RETENTION,
    });
    this.map = this.accountsMap();
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: 'account-auditor: discover the accounts, audit each, summarize the run',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(this.discoverStep().next(this.map).next(this.summarizeStep())),
      timeout: ORGANIZATION_RUN_TIMEOUT,
      // Every state's events; the execution history keeps the inputs and outputs.
      logs: { destination: this.stateMachineLogs, level: LogLevel.ALL, includeExecutionData: false },
    });

    this.schedule = new Rule(this, 'Nightly', {
      description: 'account-auditor nightly organization run (UTC)',
      schedule: Schedule.expression(this.config.schedule),
    });
    this.schedule.addTarget(new SfnStateMachine(this.stateMachine));

    this.alarms = this.createAlarms();
    this.acknowledgeNagFindings();

    new CfnOutput(this, 'StateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'aws stepfunctions start-execution --state-machine-arn <this>',
    });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topic.topicArn });
    new CfnOutput(this, 'AccountAuditRoleArn', {
      value: this.audit.role.roleArn,
      description: 'the member roles trust this role (aws:PrincipalArn)',
    });
    new CfnOutput(this, 'DiscoverRoleArn', {
      value: this.discover.role.roleArn,
      description: 'a management account role for discovery trusts this role',
    });
  }

  /**
   * The per-account function: the single-account handler, entry and bundling, one account per
   * invocation. Its reserved concurrency is the map's MaxConcurrency: the map never waits on other
   * work for a slot, and the function never runs more accounts at once than the map asks.
   */
  private accountAuditFunction(): OrganizationFunction {
    return new OrganizationFunction(this, 'AccountAudit', {
      entry: HANDLER_ENTRY,
      handler: HANDLER_EXPORT,
      description: 'account-auditor: audits one account of the organization, through its member role',
      roleName: ACCOUNT_AUDIT_ROLE_NAME,
      memorySize: MEMORY_MB,
      timeout: TIMEOUT,
      reservedConcurrentExecutions: this.settings.maxConcurrency,
      environment: {
        [ENV.tableName]: this.table.table.tableName,
        [ENV.topicArn]: this.topic.topic.topicArn,
        [ENV.settings]: this.toJsonString({ ...this.config.settings, regions: this.config.regions ?? [Aws.REGION] }),
        // The alert mode (digest or per-account) of a map item's account.
        [ORGANIZATION_ENV.settings]: JSON.stringify(this.settings),
      },
      statements: [
        new PolicyStatement({
          sid: 'AssumeMemberRole',
          actions: ['sts:AssumeRole'],
          // The one role name, in any account: which accounts is the member roles' trust to decide.
          resources: [`arn:${Aws.PARTITION}:iam::*:role/${this.settings.memberRoleName}`],
        }),
        new PolicyStatement({
          sid: 'AuditRead',
          // The auditor's own account (map item roleArn null) is audited with this role.
          actions: [...LIVE_READ_ACTIONS],
          resources: ['*'],
        }),
        // The store's calls, and the organization context's GetItem (ORGRUN#<run> CONTEXT and GUARDRAILS#…).
        new PolicyStatement({ sid: 'FindingsTable', actions: [...TABLE_DATA_ACTIONS], resources: this.table.dataResources }),
        ...this.topic.publishStatements(),
      ],
    });
  }

  /** The discover function: through the management role when one is set, else Organizations directly. */
  private discoverFunction(): OrganizationFunction {
    const { managementRoleArn } = this.settings;
    return new OrganizationFunction(this, 'Discover', {
      entry: 'functions/organization-discover.ts',
      handler: 'handler',
      description: 'account-auditor: lists the accounts of the organization to audit',
      roleName: DISCOVER_ROLE_NAME,
      // ListAccounts serves 20 accounts a page at a few requests a second: 5,000 accounts take
      // 250 pages, well within five minutes with the SDK's backoff.
      memorySize: 512,
      timeout: Duration.minutes(5),
      environment: {
        [ORGANIZATION_ENV.settings]: JSON.stringify(this.settings),
        // Where the run's organization context goes, kept as long as the history (historyTtlDays).
        [ENV.tableName]: this.table.table.tableName,
        [ENV.settings]: this.toJsonString(this.config.settings),
      },
      statements: [
        managementRoleArn !== undefined
          ? new PolicyStatement({ sid: 'AssumeManagementRole', actions: ['sts:AssumeRole'], resources: [managementRoleArn] })
          : new PolicyStatement({ sid: 'OrganizationsRead', actions: [...ORGANIZATIONS_READ_ACTIONS], resources: ['*'] }),
        new PolicyStatement({
          sid: 'OrganizationContextWrite',
          actions: [...ORGANIZATION_CONTEXT_WRITE_ACTIONS],
          resources: [this.table.table.tableArn],
          // Only the organization runs' items (each run's partition, and the run's record, not finished,
          // in the list of runs): the findings, runs and leases are the per-account function's.
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ORGRUN#*', 'ORGRUNS'] } },
        }),
      ],
    });
  }

  /**
   * The summarize function: reads the run's digest sections (Query), checks and writes the
   * organization run record (GetItem, PutItem) and publishes the one digest. The sections are up
   * to 64 KB per account: memory and time for thousands of them.
   */
  private summarizeFunction(): OrganizationFunction {
    return new OrganizationFunction(this, 'Summarize', {
      entry: 'functions/organization-summarize.ts',
      handler: 'handler',
      description: 'account-auditor: summarizes an organization run, records it and publishes its digest',
      statements: [
        new PolicyStatement({
          sid: 'OrganizationRuns',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
          resources: [this.table.table.tableArn],
        }),
        ...this.topic.publishStatements(),
      ],
      memorySize: 1024,
      timeout: Duration.minutes(5),
      environment: {
        [ENV.tableName]: this.table.table.tableName,
        [ENV.topicArn]: this.topic.topic.topicArn,
        [ORGANIZATION_ENV.settings]: JSON.stringify(this.settings),
      },
    });
  }

  private discoverStep(): TaskStateBase {
    return new LambdaInvoke(this, 'Discover accounts', {
      lambdaFunction: this.discover.fn,
      payload: TaskInput.fromObject({ executionName: JsonPath.executionName, executionStartTime: JsonPath.executionStartTime }),
      outputPath: '$.Payload',
      retryOnServiceExceptions: false,
    }).addRetry(LAMBDA_RETRY);
  }

  /**
   * One child workflow per account. The item processor never fails: an account whose audit
   * throws, times out or stays throttled past the retries becomes a `failed` outcome naming the
   * error, so the summary lists it in ERROR and the other accounts' results stand. Every item
   * failure is tolerated all the same (ToleratedFailurePercentage 100), for what the processor
   * itself cannot catch: one account never fails the organization's run; the summarize step fails
   * it when no account at all was audited.
   */
  private accountsMap(): DistributedMap {
    const audit = new LambdaInvoke(this, 'Audit account', {
      lambdaFunction: this.audit.fn,
      payload: TaskInput.fromJsonPathAt('$'),
      retryOnServiceExceptions: false,
      // What the summary needs of the handler's run summary; the rest is in the table.
      resultSelector: {
        runId: JsonPath.stringAt('$.Payload.runId'),
        complete: JsonPath.stringAt('$.Payload.complete'),
        counts: JsonPath.objectAt('$.Payload.counts'),
        // failed: the member role could not be assumed, so the account was not audited at all.
        accountState: JsonPath.stringAt('$.Payload.organization.state'),
      },
      resultPath: '$.run',
    }).addRetry(LAMBDA_RETRY);

    const audited = new Pass(this, 'Account audited', {
      parameters: {
        outcome: 'audited',
        account: { id: JsonPath.stringAt('$.account.id'), name: JsonPath.stringAt('$.account.name') },
        run: JsonPath.objectAt('$.run'),
      },
    });
    // JSONata for the one expression JSONPath lacks: the cause cut short, so that thousands of
    // failed accounts still fit the map's result in the 256 KiB state.
    const failed = Pass.jsonata(this, 'Account failed', {
      outputs: {
        outcome: 'failed',
        account: { id: '{% $states.input.account.id %}', name: '{% $states.input.account.name %}' },
        error: '{% $states.input.failure.Error %}',
        // Never undefined (an undefined field fails the state): a failure without a cause gives "".
        cause: `{% $exists($states.input.failure.Cause) ? $substring($string($states.input.failure.Cause), 0, ${OUTCOME_CAUSE_CHARS}) : '' %}`,
      },
    });
    audit.addCatch(failed, { errors: [Errors.ALL], resultPath: '$.failure' });

    return new DistributedMap(this, 'Audit accounts', {
      label: 'Accounts',
      itemsPath: '$.accounts',
      // The map item (lib/organization/contract.ts MapItem): the run ID and one account.
      itemSelector: { organizationRunId: JsonPath.stringAt('$.organizationRunId'), account: JsonPath.objectAt('$$.Map.Item.Value') },
      maxConcurrency: this.settings.maxConcurrency,
      toleratedFailurePercentage: 100,
      // Child workflows of up to the function's 10 minutes: Express ones stop at 5.
      mapExecutionType: StateMachineType.STANDARD,
      // The outcomes replace the accounts (each outcome names its account): one list in the state.
      resultPath: '$.accounts',
    }).itemProcessor(audit.next(audited));
  }

  private summarizeStep(): TaskStateBase {
    return new LambdaInvoke(this, 'Summarize run', {
      lambdaFunction: this.summarize.fn,
      payload: TaskInput.fromJsonPathAt('$'),
      outputPath: '$.Payload',
      retryOnServiceExceptions: false,
    }).addRetry(LAMBDA_RETRY);
  }

  private createAlarms(): OrganizationAuditStack['alarms'] {
    const notify = new SnsAction(this.topic.topic);
    const anyIn5Minutes = { period: Duration.minutes(5), statistic: Stats.SUM };
    const atLeastOne = {
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };

    const failedRun = new Alarm(this, 'FailedRunAlarm', {
      alarmDescription: 'account-auditor: an organization run failed (see the state machine execution)',
      metric: this.stateMachine.metricFailed(anyIn5Minutes),
      ...atLeastOne,
    });
    const timedOutRun = new Alarm(this, 'TimedOutRunAlarm', {
      alarmDescription: `account-auditor: an organization run did not finish within ${ORGANIZATION_RUN_TIMEOUT.toHours()} hours`,
      metric: this.stateMachine.metricTimedOut(anyIn5Minutes),
      ...atLeastOne,
    });
    // A failed account does not fail the run; until the digest alert names it, this says one did.
    const accountErrors = new Alarm(this, 'AccountAuditErrorsAlarm', {
      alarmDescription: 'account-auditor: the per-account audit function failed for an account (see its logs and the run summary)',
      metric: this.audit.fn.metricErrors(anyIn5Minutes),
      ...atLeastOne,
    });
    // The heartbeat, as in the single-account stack: Step Functions writes ExecutionsSucceeded only
    // when an execution succeeds, so missing data is the failure it exists to catch.
    const noSuccessfulRun = new Alarm(this, 'NoSuccessfulRunAlarm', {
      alarmDescription: `account-auditor: no successful organization run in ${HEARTBEAT_HOURS} hours; the organization is not being audited`,
      metric: this.stateMachine.metricSucceeded({ period: Duration.hours(1), statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: HEARTBEAT_HOURS,
      datapointsToAlarm: HEARTBEAT_HOURS,
      treatMissingData: TreatMissingData.BREACHING,
    });

    for (const alarm of [failedRun, timedOutRun, noSuccessfulRun, accountErrors]) alarm.addAlarmAction(notify);
    return { failedRun, timedOutRun, noSuccessfulRun, accountErrors };
  }

  /** cdk-nag AwsSolutions findings that are accepted, each on the one resource it concerns and with its reason. */
  private acknowledgeNagFindings(): void {
    Validations.of(this.audit.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'The audit reads of the auditor’s own account (lib/inventory/live.ts LIVE_READ_ACTIONS, nothing else in that statement): the ' +
          'account-level IAM reads take no resource, and the list calls list every user or cluster of the account.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/${this.settings.memberRoleName}]`,
        reason:
          'sts:AssumeRole on the member role, by its one fixed name, in whichever account the map hands over: the organization’s account list ' +
          'changes without a deploy, and each member role’s trust (aws:PrincipalArn = this role) decides who may assume it.',
      },
    );
    if (this.settings.managementRoleArn === undefined) {
      Validations.of(this.discover.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Organizations reads of a delegated administrator (ORGANIZATIONS_READ_ACTIONS, read-only): ListAccounts and DescribeOrganization take no resource, and the account list changes without a deploy.',
      });
    }

    const role = this.stateMachine.role.node.findChild('DefaultPolicy');
    acknowledgeWildcards(
      role,
      ['lambda:InvokeFunction'],
      'Step Functions’ Lambda integration grants each function and its versions and aliases (<function ARN>:*); the three functions are this stack’s own.',
    );
    acknowledgeWildcards(
      role,
      [
        'logs:CreateLogDelivery',
        'logs:GetLogDelivery',
        'logs:UpdateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:DescribeResourcePolicies',
        'logs:DescribeLogGroups',
      ],
      'Step Functions’ delivery of its logs to CloudWatch Logs: these log delivery actions support no resource-level permission.',
    );
    acknowledgeWildcards(
      this.stateMachine.node.findChild('DistributedMapPolicy'),
      ['states:DescribeExecution', 'states:StopExecution', 'states:RedriveExecution'],
      'The Distributed Map runs its child workflows as executions of this state machine, whose names it chooses: the grant covers this state machine’s executions only.',
    );
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF2',
      reason:
        'No X-Ray, as for the single-account function: the handlers add no trace detail, and the execution history and logs carry each state and account.',
    });
  }
}

/**
 * Acknowledges cdk-nag's wildcard findings (AwsSolutions-IAM5) on a policy CDK generates, for the
 * statements made of these actions only: each finding is named as cdk-nag writes it (its resource,
 * flattened), so a wildcard in any other statement still fails the synth.
 */
function acknowledgeWildcards(policy: IConstruct, actions: readonly string[], reason: string): void {
  if (!(policy instanceof Policy)) throw new Error(`${policy.node.path} is not an IAM policy`);
  const document = Stack.of(policy).resolve(policy.document) as {
    Statement?: { Effect: string; Action: string | string[]; Resource: unknown }[];
  };
  const ids = new Set<string>();
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow' || ![statement.Action].flat().every((a) => actions.includes(a))) continue;
    for (const resource of [statement.Resource].flat()) {
      const flat = flattenCfnReference(resource);
      if (flat.includes('*')) ids.add(`AwsSolutions-IAM5[Resource::${flat}]`);
    }
  }
  if (ids.size === 0) throw new Error(`${policy.node.path} has no wildcard resource for ${actions.join(', ')} to acknowledge`);
  Validations.of(policy).acknowledge(...[...ids].map((id) => ({ id, reason })));
}
