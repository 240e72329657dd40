/**
 * The SNS publisher (lib/notify/sns.ts) against the SDK, mocked: what reaches Publish is the
 * built alert, whole, for every kind of alert; an SNS refusal fails loudly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { buildAlert } from '#lib/notify/alert.ts';
import { publishAlert, snsPublisher } from '#lib/notify/sns.ts';
import { buildStateNotSavedAlert } from '#lib/notify/state-not-saved.ts';
import { StoreError } from '#lib/store/errors.ts';
import { fiveThousandNew, NEW, night, TABLE, typicalRun } from '#test/notify.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:account-auditor-alerts';

const sns = mockClient(SNSClient);
afterEach(() => sns.reset());

describe('publishAlert', () => {
  it('sends the built alert as a JSON-structured message and returns its ID', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'abc-123' });
    const alert = buildAlert(typicalRun(), NEW, { tableName: TABLE });
    await expect(publishAlert(new SNSClient({ region: 'eu-west-1' }), TOPIC, alert)).resolves.toEqual({ messageId: 'abc-123' });
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ TopicArn: TOPIC, Subject: alert.subject, MessageStructure: 'json' });
    expect(JSON.parse(JSON.parse(input.Message!).default)).toEqual(alert.summary);
    expect(input.MessageAttributes).toEqual(alert.attributes);
  });

  it("snsPublisher is publishAlert on one topic: the pipeline's alert publisher", async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'p-1' });
    const alert = buildAlert(typicalRun(), NEW, { tableName: TABLE });
    await expect(snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC).publish(alert)).resolves.toEqual({ messageId: 'p-1' });
    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input)).toEqual([
      { TopicArn: TOPIC, Subject: alert.subject, Message: alert.message, MessageStructure: 'json', MessageAttributes: alert.attributes },
    ]);
  });

  it('lets an SNS failure fail loudly', async () => {
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('not authorized to perform SNS:Publish'), { name: 'AuthorizationErrorException' }));
    await expect(publishAlert(new SNSClient({ region: 'eu-west-1' }), TOPIC, buildAlert(typicalRun(), NEW))).rejects.toThrow('SNS:Publish');
  });
});

describe('a big alert', () => {
  it('a 5,000-finding alert, cut under 256 KB, still publishes whole', async () => {
    const alert = buildAlert(fiveThousandNew(), NEW, { tableName: TABLE });
    sns.on(PublishCommand).resolves({ MessageId: 'msg-5000' });
    await expect(publishAlert(new SNSClient({ region: 'eu-west-1' }), TOPIC, alert)).resolves.toEqual({ messageId: 'msg-5000' });
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      TopicArn: TOPIC,
      Subject: alert.subject,
      Message: alert.message,
      MessageStructure: 'json',
      MessageAttributes: alert.attributes,
    });
  });
});

describe('the state-not-saved alert', () => {
  it('publishes like any alert', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const alert = buildStateNotSavedAlert(night(), new StoreError('failed'));
    const topic = 'arn:aws:sns:eu-west-1:123456789012:account-auditor-alerts';
    await expect(publishAlert(new SNSClient({ region: 'eu-west-1' }), topic, alert)).resolves.toEqual({ messageId: 'm-2' });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input).toEqual({
      TopicArn: topic,
      Subject: alert.subject,
      Message: alert.message,
      MessageStructure: 'json',
      MessageAttributes: alert.attributes,
    });
  });
});
