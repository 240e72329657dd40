import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { FindingsStore } from '#lib/store/store.ts';
import { startLocalStore } from '#lib/store/local.ts';

/** The default local state folder, relative to where the command runs (like .git). */
export const DEFAULT_STATE_DIR = '.account-auditor';

export interface StateFlags {
  stateDir?: string;
  table?: string;
  /** commander's `--no-store` sets store to false. */
  store?: boolean;
  profile?: string;
}

export interface OpenedStore {
  store: FindingsStore;
  /** Said to the user: which table or folder holds the state. */
  where: string;
  tableName: string;
  close(): Promise<void>;
}

/**
 * A real DynamoDB table with `--table` (default credential chain and region), otherwise the
 * embedded store on disk, so "new since last run" works on a laptop through the same store code.
 */
export async function openStore(flags: StateFlags, historyTtlDays: number): Promise<OpenedStore | null> {
  if (flags.store === false) return null;
  if (flags.table) {
    const client = new DynamoDBClient(flags.profile ? { profile: flags.profile } : {});
    return {
      store: new FindingsStore({ client, tableName: flags.table, historyTtlDays }),
      where: `DynamoDB table ${flags.table}`,
      tableName: flags.table,
      close: async () => client.destroy(),
    };
  }
  const dir = resolve(flags.stateDir ?? DEFAULT_STATE_DIR);
  const local = await startLocalStore(dir);
  return {
    // The folder's lock file already makes this process the only writer.
    store: new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays, exclusive: true }),
    where: dir,
    tableName: local.tableName,
    close: () => local.close(),
  };
}

/** An SNS client in the topic's own region (the ARN says which), with the user's credentials. */
export function topicClient(topicArn: string, profile?: string): SNSClient {
  const region = topicArn.split(':')[3] ?? '';
  return new SNSClient({ region, ...(profile ? { profile } : {}) });
}
