import type { SNSClient } from '@aws-sdk/client-sns';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Alert } from './alert.ts';

/** Publishes a built alert; SNS errors propagate, so a failed alert fails loudly. */
export async function publishAlert(client: SNSClient, topicArn: string, alert: Alert<unknown>): Promise<{ messageId: string }> {
  const output = await client.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: alert.subject,
      Message: alert.message,
      MessageStructure: alert.messageStructure,
      MessageAttributes: alert.attributes,
    }),
  );
  return { messageId: output?.MessageId ?? '' };
}

/** The alert publisher of a deployment or a `--topic` run: one SNS topic, the client in its region. */
export function snsPublisher(client: SNSClient, topicArn: string): { publish(alert: Alert<unknown>): Promise<{ messageId: string }> } {
  return { publish: (alert) => publishAlert(client, topicArn, alert) };
}
