/**
 * A findings table of its own for each test, on the dynalite server of this worker (started once
 * by #test/dynalite-setup.ts). Shaped like the embedded local store, so a test written against
 * `startLocalStore(null)` takes it as is.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import type { LocalStore } from '#lib/store/local.ts';
import { tableDefinition } from '#lib/store/store.ts';

function endpoint(): string {
  const endpoints = inject('dynaliteEndpoints');
  if (!endpoints?.length) throw new Error('no dynalite server: this project needs test/support/dynalite-setup.ts as its globalSetup');
  const slot = Number(process.env.VITEST_POOL_ID ?? 1) - 1;
  return endpoints[slot % endpoints.length]!;
}

/** A new, empty table (and its open index) as local mode creates it, ACTIVE; close() drops it. */
export async function freshTable(): Promise<LocalStore> {
  const url = endpoint();
  const client = new DynamoDBClient({
    endpoint: url,
    region: 'local',
    // Dummy credentials keep the SDK from looking for real ones; dynalite does not check signatures.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const tableName = `findings-${randomUUID()}`;
  await client.send(new CreateTableCommand(tableDefinition(tableName)));
  // dynalite makes a table ACTIVE on its next tick (createTableMs 0); no need for real waits.
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')) break;
    await delay(1);
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= client
      .send(new DeleteTableCommand({ TableName: tableName }))
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => client.destroy());
    return closing;
  };
  return { client, tableName, endpoint: url, close };
}
