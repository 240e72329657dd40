import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createAuditHandler } from '#lib/lambda/audit-handler.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';

// Created once per execution environment and reused by every invocation it serves.
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });

/** The deployed audit function: the nightly schedule and on-demand `aws lambda invoke`. */
export const handler = createAuditHandler({
  // The function's own region: the stack puts the table and the topic next to it.
  dynamodb: new DynamoDBClient({}),
  sns: new SNSClient({}),
  logger,
  metrics,
});
