import { DAXClient } from '@aws-sdk/client-dax';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { IAMClient } from '@aws-sdk/client-iam';
import { SNSClient } from '@aws-sdk/client-sns';
import { inject } from 'vitest';
import { assertLoopback, REGION } from './moto.ts';

/** moto accepts any key pair until IAM enforcement is turned on. */
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The moto endpoint of this run; throws outside the e2e project, so nothing can reach AWS. */
export function motoEndpoint(): string {
  return assertLoopback(inject('motoEndpoint'));
}

/** SDK clients bound to moto, with explicit credentials (never the default chain). */
export function clients(credentials: Credentials = DUMMY_CREDENTIALS, endpoint = motoEndpoint()) {
  const config = { region: REGION, endpoint: assertLoopback(endpoint), credentials, maxAttempts: 1 };
  return {
    iam: new IAMClient(config),
    dynamodb: new DynamoDBClient(config),
    sns: new SNSClient(config),
    elastiCache: new ElastiCacheClient(config),
    dax: new DAXClient(config),
    sqs: sqsClient(endpoint),
  };
}

export type Clients = ReturnType<typeof clients>;

/**
 * The three SQS calls the tests make, over SQS's JSON protocol. The project has no SQS client
 * dependency, and unenforced moto does not check signatures, so a signature-shaped header that
 * names the service is enough for moto to route the call.
 */
export function sqsClient(endpoint: string) {
  async function call<T>(operation: string, input: object): Promise<T> {
    const response = await fetch(assertLoopback(endpoint), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AmazonSQS.${operation}`,
        authorization: `AWS4-HMAC-SHA256 Credential=${DUMMY_CREDENTIALS.accessKeyId}/20260101/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(input),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sqs:${operation}: HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }
  return {
    async createQueue(name: string): Promise<{ url: string; arn: string }> {
      const { QueueUrl } = await call<{ QueueUrl: string }>('CreateQueue', { QueueName: name });
      const { Attributes } = await call<{ Attributes: { QueueArn: string } }>('GetQueueAttributes', {
        QueueUrl,
        AttributeNames: ['QueueArn'],
      });
      return { url: QueueUrl, arn: Attributes.QueueArn };
    },
    /** Every message waiting in the queue, deleted as it is read. */
    async drain(url: string): Promise<{ Body: string }[]> {
      const all: { Body: string }[] = [];
      for (;;) {
        const { Messages = [] } = await call<{ Messages?: { Body: string; ReceiptHandle: string }[] }>('ReceiveMessage', {
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        });
        if (Messages.length === 0) return all;
        for (const m of Messages) {
          all.push({ Body: m.Body });
          await call('DeleteMessage', { QueueUrl: url, ReceiptHandle: m.ReceiptHandle });
        }
      }
    },
  };
}

/**
 * The environment of a child process that runs the product against moto, built from nothing:
 * moto's endpoint for every SDK client, explicit credentials, no config or credentials file, no
 * instance metadata. The parent's AWS_* variables never leak in.
 */
export function childEnv(
  home: string,
  credentials: Credentials = DUMMY_CREDENTIALS,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ENDPOINT_URL: motoEndpoint(),
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_CONFIG_FILE: `${home}/no-aws-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/no-aws-credentials`,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}
