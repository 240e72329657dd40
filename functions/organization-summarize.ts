import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import { reportWithPending } from '#lib/audit/organization-report.ts';
import { ConfigurationError } from '#lib/lambda/config.ts';
import { ENV, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { createSummarizeHandler } from '#lib/organization/handlers.ts';
import { parseSettings } from '#lib/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';

// Created once per execution environment and reused by every invocation it serves.
const logger = new Logger({ serviceName: SERVICE_NAME });
const dynamodb = new DynamoDBClient({});
const sns = new SNSClient({});

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigurationError(`configuration error: ${name} is not set (the stack sets it on this function)`);
  return value;
}

/**
 * The organization state machine's last step: the run's summary (lib/organization/summary.ts),
 * its record in the table and its digest on the topic (lib/audit/organization-report.ts), after
 * the late digests of earlier runs that stopped before theirs went out.
 */
export const handler = createSummarizeHandler({
  logger,
  report: async (summary, settings) => {
    const tableName = required(ENV.tableName);
    // The summarize step writes no finding or history: the history TTL is that of the sections, which it only reads.
    const store = new FindingsStore({ client: dynamodb, tableName, historyTtlDays: parseSettings({}).historyTtlDays });
    // The digests of earlier runs that never went out first (stopped, or their publish failed), then this run's.
    const { record, repeated, pending, pendingError } = await reportWithPending({
      summary,
      mode: settings.alerts,
      store,
      publisher: snsPublisher(sns, required(ENV.topicArn)),
      tableName,
    });
    for (const late of pending) {
      if (late.messageId === null || late.error)
        logger.error('the late digest of an earlier organization run was not published', { ...late });
      else logger.info('published the late digest of an earlier organization run', { ...late });
    }
    if (pendingError)
      logger.error('the earlier organization runs could not be listed: their late digests were not looked for', { error: pendingError });
    return { wanted: record.alert.wanted, messageId: record.alert.messageId, repeated };
  },
});
