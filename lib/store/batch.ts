import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { pMapSettled } from 'p-map';
import type { Item, Table } from './table.ts';
import { describeError, errorName } from './table.ts';

/** An item to write, and how a failure names it (`finding <id>`, `history <id> at <at>`). */
export interface Entry {
  item: Item;
  label: string;
}

/** An item never written, and why. */
export interface Failure {
  label: string;
  reason: string;
}

const BATCH_SIZE = 25;

/** Error names DynamoDB (or the SDK after its own retries) uses for "try again later". */
const RETRYABLE_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

const keyOf = (item: Item): string => `${String(item.PK)}\u0000${String(item.SK)}`;

/**
 * BatchWriteItem in batches of 25, `table.concurrency` in flight, each retrying its
 * UnprocessedItems; returns the items never written, with why. One failed batch does not stop the
 * others: each settles on its own, so the failure names exactly what is missing.
 */
export async function batchPut(table: Table, entries: readonly Entry[], onBatch?: (done: number) => void): Promise<Failure[]> {
  // One batch may not name the same key twice; the last entry for a key wins.
  const byKey = new Map<string, Entry>();
  for (const entry of entries) byKey.set(keyOf(entry.item), entry);
  const unique = [...byKey.values()];
  const batches: Entry[][] = [];
  for (let i = 0; i < unique.length; i += BATCH_SIZE) batches.push(unique.slice(i, i + BATCH_SIZE));
  let done = 0;
  const results = await pMapSettled(
    batches,
    async (batch) => {
      const failed = await writeBatch(table, batch);
      done += batch.length;
      onBatch?.(done);
      return failed;
    },
    { concurrency: table.concurrency },
  );
  return results.flatMap((result, index) =>
    result.status === 'fulfilled' ? result.value : batches[index]!.map((e) => ({ label: e.label, reason: describeError(result.reason) })),
  );
}

async function writeBatch(table: Table, batch: readonly Entry[]): Promise<Failure[]> {
  const labels = new Map(batch.map((e) => [keyOf(e.item), e.label]));
  let pending: Item[] = batch.map((e) => e.item);
  let lastError: unknown = null;
  for (let attempt = 1; pending.length > 0 && attempt <= table.maxBatchAttempts; attempt++) {
    if (attempt > 1) await table.sleep(table.backoff(attempt - 1));
    try {
      const output = await table.doc.send(
        new BatchWriteCommand({ RequestItems: { [table.name]: pending.map((Item) => ({ PutRequest: { Item } })) } }),
      );
      pending = (output.UnprocessedItems?.[table.name] ?? []).flatMap((request) =>
        request.PutRequest?.Item ? [request.PutRequest.Item] : [],
      );
      lastError = null;
    } catch (error) {
      // One bad item (too large, say) fails its whole batch: put them one by one, so the others
      // are written and the error names only the bad one. Other refusals (AccessDenied, no
      // table) would only fail once per item.
      if (errorName(error) === 'ValidationException') return putEach(table, pending, labels);
      // Throttling that outlasted the SDK's own retries gets ours too; anything else will not heal.
      if (!RETRYABLE_ERRORS.has(errorName(error))) throw error;
      lastError = error;
    }
  }
  const reason = `${lastError ? describeError(lastError) : 'still unprocessed'} after ${table.maxBatchAttempts} attempts`;
  return pending.map((item) => ({ label: labels.get(keyOf(item)) ?? `${String(item.PK)} ${String(item.SK)}`, reason }));
}

async function putEach(table: Table, items: readonly Item[], labels: ReadonlyMap<string, string>): Promise<Failure[]> {
  const results = await pMapSettled(items, (Item) => table.doc.send(new PutCommand({ TableName: table.name, Item })), {
    concurrency: table.concurrency,
  });
  return results.flatMap((result, index) => {
    if (result.status === 'fulfilled') return [];
    const item = items[index]!;
    return [{ label: labels.get(keyOf(item)) ?? `${String(item.PK)} ${String(item.SK)}`, reason: describeError(result.reason) }];
  });
}
