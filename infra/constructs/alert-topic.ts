import { Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  /** Subscribed by email when given (the recipient confirms the subscription). */
  alertEmail: string | null;
}

/** Actions a publisher needs on the key of an encrypted topic: SNS makes a data key and reads it back. */
export const TOPIC_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

/** The alert topic: encrypted with its own rotating key, TLS-only, optionally mailed. */
export class AlertTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    const account = Stack.of(this).account;

    this.key = new Key(this, 'Key', {
      description: 'account-auditor alert topic',
      enableKeyRotation: true,
    });
    // CloudWatch publishes the alarms to this topic; without the key, those notifications are
    // dropped silently, and the alarms exist precisely for when the function itself is broken.
    // No condition here: the topic policy below decides who may publish, the key only follows.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: [...TOPIC_KEY_ACTIONS],
        resources: ['*'],
      }),
    );

    this.topic = new Topic(this, 'Topic', {
      displayName: 'account-auditor',
      masterKey: this.key,
      enforceSSL: true,
    });
    // enforceSSL replaces SNS's default policy, so the alarms' publish right is stated here.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );

    if (props.alertEmail) this.topic.addSubscription(new EmailSubscription(props.alertEmail));
  }

  /** What a function that publishes alerts needs: sns:Publish on this topic, and its key through SNS only. */
  publishStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({ sid: 'AlertPublish', actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
      new PolicyStatement({
        sid: 'AlertTopicKey',
        actions: [...TOPIC_KEY_ACTIONS],
        resources: [this.key.keyArn],
        // Only through SNS, for this region: the key serves the topic, not arbitrary decrypts.
        conditions: { StringEquals: { 'kms:ViaService': `sns.${Stack.of(this).region}.amazonaws.com` } },
      }),
    ];
  }
}
