import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { OPEN_INDEX } from './keys.ts';

/** One table item as the DocumentClient reads and writes it. */
export type Item = Record<string, NativeAttributeValue>;

/**
 * The table as every part of the store talks to it: one DocumentClient, and one policy for what
 * DynamoDB leaves unprocessed or throttles (attempts, backoff, requests in flight).
 */
export interface Table {
  doc: DynamoDBDocumentClient;
  name: string;
  /** Attempts per batch, the first included, before its leftovers fail the run. */
  maxBatchAttempts: number;
  /** Requests in flight at once (batches). */
  concurrency: number;
  sleep: (ms: number) => Promise<void>;
  /** The wait before retry `n` (1 for the first retry). */
  backoff: (retry: number) => number;
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 5_000;

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with "equal jitter": half the window fixed, half random, so waits still grow. */
export function equalJitter(random: () => number): (retry: number) => number {
  return (retry) => {
    const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
    return Math.round(window / 2 + random() * (window / 2));
  };
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The table as local mode creates it; the CDK stack mirrors it (plus TTL on expiresAt, PITR, encryption). */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'PK', AttributeType: 'S' },
      { AttributeName: 'SK', AttributeType: 'S' },
      { AttributeName: 'GSI1PK', AttributeType: 'S' },
      { AttributeName: 'GSI1SK', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: OPEN_INDEX,
        KeySchema: [
          { AttributeName: 'GSI1PK', KeyType: 'HASH' },
          { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
        ],
        // ALL: openFindings returns whole findings without a second read per item.
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}
