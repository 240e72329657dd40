import { join } from 'node:path';
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal, type IRole } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { BUNDLE, LAMBDA_NODE_MAJOR, PROJECT_ROOT } from '../bundling.ts';
import { ENV, HANDLER_ENTRY, HANDLER_EXPORT, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { TABLE_DATA_ACTIONS, type FindingsTable } from './findings-table.ts';
import type { AlertTopic } from './alert-topic.ts';

/**
 * From `npm run bench`: a 10,000-user audit peaks at about 330-410 MB resident, and that figure
 * includes the benchmark's own generated account and mocks (about 190 MB before the audit starts)
 * and its dynalite thread. 1,024 MB holds it more than twice over, and buys the CPU share (Lambda
 * scales CPU with memory) that evaluation and the writes want; 512 MB would leave no margin.
 */
export const MEMORY_MB = 1024;
/**
 * A 10,000-user account at IAM's pace: the credential report wait (60 s by default, 600 at most),
 * ten authorization-details pages, key lookups and the writes, with room to spare.
 */
export const TIMEOUT = Duration.minutes(10);
export const LOG_RETENTION = RetentionDays.ONE_YEAR;

/**
 * The Lambda runtime matching the bundle's target (infra/bundling.ts): Node.js 24, the newest
 * this aws-cdk-lib knows, which is also what cdk-nag's AwsSolutions-L1 asks for.
 */
export const RUNTIME = runtimeFor(LAMBDA_NODE_MAJOR);

function runtimeFor(major: number): Runtime {
  const runtime = Runtime.ALL.find((r) => r.name === `nodejs${major}.x`);
  if (!runtime) throw new Error(`this aws-cdk-lib has no Lambda runtime nodejs${major}.x for the bundle's target node${major}`);
  return runtime;
}

/** NodejsFunction's bundling props, mapped one to one from infra/bundling.ts. */
export function cdkBundling(): BundlingOptions {
  return {
    format: BUNDLE.format === 'esm' ? OutputFormat.ESM : OutputFormat.CJS,
    target: BUNDLE.target,
    mainFields: [...BUNDLE.mainFields],
    banner: BUNDLE.banner,
    minify: BUNDLE.minify,
    keepNames: BUNDLE.keepNames,
    sourceMap: BUNDLE.sourcemap,
    sourcesContent: BUNDLE.sourcesContent,
    externalModules: [...BUNDLE.external],
    bundleAwsSDK: true,
    // Synth must work without Docker: the local esbuild (a dev dependency) bundles. CDK would fall
    // back to Docker only if esbuild were missing, which `npm ci` rules out.
    forceDockerBundling: false,
  };
}

export interface AuditFunctionProps {
  table: FindingsTable;
  topic: AlertTopic;
  /** AUDITOR_SETTINGS, already JSON (it may hold the stack's region as a token). */
  settingsJson: string;
  /** Grant securityhub:BatchImportFindings on this account's default product in the stack's region. */
  securityHub?: boolean;
}

/** The one product the import writes to: the account's own default product, in the stack's region. */
export const SECURITY_HUB_PRODUCT_ARN = `arn:${Aws.PARTITION}:securityhub:${Aws.REGION}:${Aws.ACCOUNT_ID}:product/${Aws.ACCOUNT_ID}/default`;

/**
 * The nightly audit function, its role, its logs and where its failed invocations go. The role's
 * permissions are all in one inline policy written out below; CDK's automatic grants are turned
 * off, so nothing else gets added behind the reader's back.
 */
export class AuditFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  /** Failed asynchronous invocations (Lambda's on-failure destination and the schedule's DLQ). */
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: AuditFunctionProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      // SQS-managed keys: Lambda and EventBridge can both deliver without a key policy to keep.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: LOG_RETENTION,
      // The run logs are audit evidence too.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'account-auditor: read-only audit of the account, writes to its own table, topic and logs',
      inlinePolicies: { AccountAuditor: this.policy(props) },
    });
    // Inline in the role, the permissions exist before the function is created (Lambda checks the
    // destination's sqs:SendMessage then); the immutable view keeps CDK from adding a second policy.
    const role: IRole = this.role.withoutPolicyUpdates();

    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, HANDLER_ENTRY),
      handler: HANDLER_EXPORT,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: MEMORY_MB,
      timeout: TIMEOUT,
      // Runs never overlap: a second one would spend the same IAM rate limit for the same answer.
      reservedConcurrentExecutions: 1,
      role,
      logGroup: this.logGroup,
      bundling: cdkBundling(),
      environment: {
        [ENV.tableName]: props.table.table.tableName,
        [ENV.topicArn]: props.topic.topic.topicArn,
        [ENV.settings]: props.settingsJson,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // The bundle is minified; the source map turns its stack traces back into file:line.
        NODE_OPTIONS: '--enable-source-maps',
      },
      // No retry: a retry is a new run that reconciles against whatever the failed one already
      // saved (the pipeline publishes before it saves, and retries a failed save itself), so it
      // would only repeat the alert or report "nothing new". The event waits in the queue
      // instead, the errors alarm fires, and the next night runs anyway.
      retryAttempts: 0,
      // Lambda keeps retrying throttles (an on-demand run holding the single slot) this long.
      maxEventAge: Duration.hours(6),
      // The destination's record carries the error and the original event, unlike a plain DLQ.
      onFailure: new SqsDestination(this.deadLetterQueue),
      // No X-Ray: the handler has no tracer to add detail, and active tracing would add
      // xray:PutTraceSegments/PutTelemetryRecords on "*" to the role. The logs carry the run.
    });
  }

  private policy({ table, topic, securityHub }: AuditFunctionProps): PolicyDocument {
    return new PolicyDocument({
      statements: [
        new PolicyStatement({
          sid: 'AuditRead',
          actions: [...LIVE_READ_ACTIONS],
          // The four account-level IAM reads take no resource; the list-everything calls are
          // authorized on "*" and an identity policy reaches no other account's users or clusters.
          resources: ['*'],
        }),
        new PolicyStatement({
          sid: 'FindingsTable',
          actions: [...TABLE_DATA_ACTIONS],
          resources: table.dataResources,
        }),
        ...topic.publishStatements(),
        ...(securityHub
          ? [
              new PolicyStatement({
                sid: 'SecurityHubImport',
                actions: ['securityhub:BatchImportFindings'],
                resources: [SECURITY_HUB_PRODUCT_ARN],
              }),
            ]
          : []),
        new PolicyStatement({
          sid: 'FailedInvocations',
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueue.queueArn],
        }),
        new PolicyStatement({
          sid: 'Logs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          // The log group's ARN attribute ends in ":*", which covers its streams.
          resources: [this.logGroup.logGroupArn],
        }),
      ],
    });
  }
}
