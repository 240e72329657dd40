import { join } from 'node:path';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from '../bundling.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { cdkBundling, LOG_RETENTION, RUNTIME } from './audit-function.ts';

export interface OrganizationFunctionProps {
  /** The source file, relative to the project root. */
  entry: string;
  handler: string;
  description: string;
  /** The role's fixed name, when something outside the stack trusts it by ARN. */
  roleName?: string;
  /** Every permission of the role but its logs: the one inline policy, nothing added behind it. */
  statements: PolicyStatement[];
  memorySize: number;
  timeout: Duration;
  reservedConcurrentExecutions?: number;
  environment: Record<string, string>;
}

/**
 * A function of the organization stack, built like the single-account audit function: the same
 * bundling, runtime and architecture, its own log group kept for a year, and a role whose
 * permissions are all in one inline policy (CDK's automatic grants cannot add to it).
 */
export class OrganizationFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: OrganizationFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: LOG_RETENTION, removalPolicy: RemovalPolicy.RETAIN });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
      ...(props.roleName ? { roleName: props.roleName } : {}),
      inlinePolicies: {
        AccountAuditor: new PolicyDocument({
          statements: [
            ...props.statements,
            new PolicyStatement({
              sid: 'Logs',
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              // The log group's ARN attribute ends in ":*", which covers its streams.
              resources: [this.logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, props.entry),
      handler: props.handler,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
      role: this.role.withoutPolicyUpdates(),
      logGroup: this.logGroup,
      bundling: cdkBundling(),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
      },
      description: props.description,
    });
  }
}
