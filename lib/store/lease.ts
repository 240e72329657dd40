import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { StoreBusyError } from './errors.ts';
import { DAY_SECONDS } from './items.ts';
import type { ItemType } from './keys.ts';
import { accountPk, LEASE_SK, TTL_ATTRIBUTE } from './keys.ts';
import type { Table } from './table.ts';
import { errorName } from './table.ts';

/**
 * The right to write one account's state: one run at a time, so that reading the stored state,
 * deciding what is stale, and writing in batches (which cannot be conditional) is safe.
 */
export interface Lease {
  accountId: string;
  runId: string;
  /** Epoch milliseconds after which another run may take it over. */
  until: number;
}

export interface LeasePolicy {
  /** How long a lease lasts: longer than any save, short enough that a crashed run soon frees it. */
  leaseMs: number;
  /** How long to wait for a busy lease before StoreBusyError. */
  leaseWaitMs: number;
  /** The caller is the only writer: a lease left by a killed process is taken over at once. */
  exclusive: boolean;
  now: () => number;
}

export const DEFAULT_LEASE_MS = 5 * 60_000;
export const DEFAULT_LEASE_WAIT_MS = 60_000;

/**
 * Takes (or renews) the account's write lease: one writer per account at a time. Waits up to
 * `leaseWaitMs` for another run to finish, then StoreBusyError. Taking a lease the same run
 * already holds renews it, so a caller that took it before `loadState` can pass it on.
 */
export async function acquireLease(
  table: Table,
  policy: LeasePolicy,
  accountId: string,
  runId: string,
  options: { wait?: boolean; renew?: boolean } = {},
): Promise<Lease> {
  const deadline = policy.now() + (options.wait === false || options.renew ? 0 : policy.leaseWaitMs);
  // Renewing proves the lease is still this run's: taken over (or taken and released) by
  // another run since, it fails instead of quietly taking the lease again.
  const condition = options.renew
    ? { ConditionExpression: 'leaseHolder = :runId', ExpressionAttributeValues: { ':runId': runId } }
    : { ConditionExpression: 'attribute_not_exists(PK) OR leaseUntil < :now OR leaseHolder = :runId' };
  for (let attempt = 1; ; attempt++) {
    const now = policy.now();
    const until = now + policy.leaseMs;
    try {
      await table.doc.send(
        new PutCommand({
          TableName: table.name,
          Item: {
            PK: accountPk(accountId),
            SK: LEASE_SK,
            type: 'lease' satisfies ItemType,
            leaseHolder: runId,
            leaseUntil: until,
            // A lease nobody released is cleaned up by the table's TTL a day later.
            [TTL_ATTRIBUTE]: Math.ceil(until / 1000) + DAY_SECONDS,
          },
          ...(policy.exclusive
            ? {}
            : condition.ExpressionAttributeValues
              ? condition
              : { ...condition, ExpressionAttributeValues: { ':now': now, ':runId': runId } }),
        }),
      );
      return { accountId, runId, until };
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      if (policy.now() >= deadline) throw await busy(table, accountId);
      await table.sleep(table.backoff(Math.min(attempt, 7)));
    }
  }
}

/** Ends the lease early; a lease another run has since taken over is left alone. */
export async function releaseLease(table: Table, lease: Lease): Promise<void> {
  try {
    await table.doc.send(
      new DeleteCommand({
        TableName: table.name,
        Key: { PK: accountPk(lease.accountId), SK: LEASE_SK },
        ConditionExpression: 'leaseHolder = :runId',
        ExpressionAttributeValues: { ':runId': lease.runId },
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
  }
}

async function busy(table: Table, accountId: string): Promise<StoreBusyError> {
  const { Item } = await table.doc.send(
    new GetCommand({ TableName: table.name, Key: { PK: accountPk(accountId), SK: LEASE_SK }, ConsistentRead: true }),
  );
  const until = typeof Item?.leaseUntil === 'number' ? new Date(Item.leaseUntil).toISOString() : null;
  return new StoreBusyError(accountId, typeof Item?.leaseHolder === 'string' ? Item.leaseHolder : null, until);
}
