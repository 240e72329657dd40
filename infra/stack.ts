import { Aws, CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { readConfig, type AuditorConfig } from './config.ts';
import { AlertTopic } from './constructs/alert-topic.ts';
import { AuditFunction } from './constructs/audit-function.ts';
import { FindingsTable } from './constructs/findings-table.ts';

/** "No successful run in 26 hours": a nightly schedule, plus two hours for a late or slow run. */
export const HEARTBEAT_HOURS = 26;

/**
 * account-auditor in one stack: the nightly schedule, the function, its table and topic, and the
 * alarms that say when the auditor itself stops working. Environment-agnostic: it synthesizes
 * without an AWS account and deploys to whichever account and region the deploy targets.
 */
export class AccountAuditorStack extends Stack {
  readonly config: AuditorConfig;
  readonly table: FindingsTable;
  readonly topic: AlertTopic;
  readonly audit: AuditFunction;
  readonly schedule: Rule;
  readonly alarms: { errors: Alarm; deadLetters: Alarm; noSuccessfulRun: Alarm; securityHubImport?: Alarm };

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, { description: 'account-auditor: nightly compliance audit of this AWS account', ...props });
    this.config = readConfig(this);

    this.table = new FindingsTable(this, 'Findings');
    this.topic = new AlertTopic(this, 'Alerts', { alertEmail: this.config.alertEmail });
    this.audit = new AuditFunction(this, 'Audit', {
      table: this.table,
      topic: this.topic,
      settingsJson: this.toJsonString({ ...this.config.settings, regions: this.config.regions ?? [Aws.REGION] }),
      securityHub: this.config.securityHub,
    });

    this.schedule = new Rule(this, 'Nightly', {
      description: 'account-auditor nightly run (UTC)',
      schedule: Schedule.expression(this.config.schedule),
    });
    this.schedule.addTarget(
      new LambdaFunction(this.audit.fn, {
        // Events EventBridge could not hand to Lambda at all land next to the failed runs.
        deadLetterQueue: this.audit.deadLetterQueue,
      }),
    );

    this.alarms = this.createAlarms();
    this.acknowledgeNagFindings();

    new CfnOutput(this, 'FunctionName', { value: this.audit.fn.functionName, description: 'aws lambda invoke --function-name <this> …' });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'account-auditor run --table <this>' });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.audit.deadLetterQueue.queueUrl });
  }

  private createAlarms(): AccountAuditorStack['alarms'] {
    const notify = new SnsAction(this.topic.topic);

    const errors = new Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'account-auditor: the audit function failed (see its logs and the dead-letter queue)',
      metric: this.audit.fn.metricErrors({ period: Duration.minutes(5), statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const deadLetters = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription: 'account-auditor: an invocation failed for good and waits in the dead-letter queue',
      metric: this.audit.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // The heartbeat. Powertools Metrics adds the `service` dimension to every metric, so this is
    // exactly the series the handler writes. Missing data breaches: no data is the failure it
    // exists to catch (a disabled rule, a broken deploy, a crash before the metrics flush). A
    // fresh deployment is in ALARM until its first successful run; one on-demand invoke clears it.
    const noSuccessfulRun = new Alarm(this, 'NoSuccessfulRunAlarm', {
      alarmDescription: `account-auditor: no successful run in ${HEARTBEAT_HOURS} hours; the account is not being audited`,
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.runSucceeded,
        dimensionsMap: { service: SERVICE_NAME },
        period: Duration.hours(1),
        statistic: Stats.SUM,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      // 26 one-hour periods, all breaching. CloudWatch allows 7 days of evaluation for periods of
      // an hour or more (one day only below an hour), so this is within its limits.
      evaluationPeriods: HEARTBEAT_HOURS,
      datapointsToAlarm: HEARTBEAT_HOURS,
      treatMissingData: TreatMissingData.BREACHING,
    });

    // Findings a saved run could not import: the run itself is fine, its Security Hub copy is behind.
    const securityHubImport = this.config.securityHub
      ? new Alarm(this, 'SecurityHubImportAlarm', {
          alarmDescription:
            'account-auditor: findings of a saved run were not imported into Security Hub (see the run summary or the security-hub-failed alert)',
          metric: new Metric({
            namespace: METRICS_NAMESPACE,
            metricName: METRIC.securityHubFailed,
            dimensionsMap: { service: SERVICE_NAME },
            period: Duration.hours(1),
            statistic: Stats.SUM,
          }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        })
      : undefined;

    for (const alarm of [errors, deadLetters, noSuccessfulRun, ...(securityHubImport ? [securityHubImport] : [])])
      alarm.addAlarmAction(notify);
    return { errors, deadLetters, noSuccessfulRun, ...(securityHubImport ? { securityHubImport } : {}) };
  }

  /**
   * cdk-nag AwsSolutions findings that are accepted, each on the one resource it concerns and
   * with its reason. Anything else fails the synth.
   */
  private acknowledgeNagFindings(): void {
    Validations.of(this.audit.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The audit reads (lib/inventory/registry.ts LIVE_READ_ACTIONS, nothing else in that statement): iam:GetAccountSummary, ' +
        'GenerateCredentialReport, GetCredentialReport and GetAccountAuthorizationDetails take no resource; ' +
        'iam:ListAccessKeys, elasticache:DescribeCacheClusters/DescribeReplicationGroups and dax:DescribeClusters list ' +
        'every user or cluster of the account, and an identity policy cannot reach another account’s anyway. ' +
        'Every write in the role is scoped to this stack’s table, index, topic, key, queue and log group.',
    });
    Validations.of(this.audit.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination (Lambda on-failure destination and the schedule target DLQ); a DLQ of a DLQ adds nothing.',
    });
  }
}
