import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '#lib/lambda/contract.ts';
import { createSummarizeHandler } from '#lib/organization/handlers.ts';

const logger = new Logger({ serviceName: SERVICE_NAME });

/** The organization state machine's last step: the run's summary (lib/organization/summary.ts). */
export const handler = createSummarizeHandler({ logger });
