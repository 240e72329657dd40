import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { STSClient } from '@aws-sdk/client-sts';
import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '#lib/lambda/contract.ts';
import { organizationContextStore } from '#lib/lambda/organization.ts';
import { createDiscoverHandler } from '#lib/organization/handlers.ts';

// Created once per execution environment and reused by every invocation it serves.
const logger = new Logger({ serviceName: SERVICE_NAME });

/** The organization state machine's first step: the accounts to audit and the run's context (lib/organization/discover.ts). */
export const handler = createDiscoverHandler({
  logger,
  // Organizations throttles at a few requests a second; the SDK's standard retry backs off.
  organizations: (credentials) => new OrganizationsClient({ maxAttempts: 5, ...(credentials ? { credentials } : {}) }),
  sts: () => new STSClient({}),
  // The findings table, next to the function.
  context: (env) => organizationContextStore(new DynamoDBClient({}), env),
});
