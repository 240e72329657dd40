import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, GetCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { Severity } from '#lib/model/finding.ts';
import type { HistoryEntry, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import type { Scope } from '#lib/reconcile/scope.ts';
import { StoreError } from './errors.ts';
import type { AccountEntry } from './items.ts';
import { committedScopes, committedView, isCommittedItem, toAccountEntry, toHistoryEntry, toRunRecord } from './items.ts';
import {
  accountPk,
  ACCOUNTS_PK,
  FINDING_PREFIX,
  HISTORY_PREFIX,
  historyPk,
  OBSERVED_SK,
  OPEN_INDEX,
  openPk,
  openSkPrefix,
  RUN_PREFIX,
} from './keys.ts';
import type { Item, Table } from './table.ts';

/**
 * The reads: every one a Query (or a key lookup), never a Scan (docs/store.md, "Access patterns"),
 * and every one resolved through the commit check, so it sees only what completed runs stored.
 */

const BATCH_GET_SIZE = 100;

/** What the completed runs know of an account: each finding's state by id, and each scope's latest observation. */
export interface Known {
  state: Map<string, StoredFinding>;
  observed: Map<Scope, number>;
}

/** An account's finding items and observed scopes as stored, with which of their writers completed. */
export interface StoredAccount {
  items: Item[];
  observedItem: Item | null;
  committed: Set<string>;
}

/** One logical Query, followed across pages (1 MB each) until done or `limit` items. */
export async function queryAll(table: Table, input: Omit<QueryCommandInput, 'TableName'>, limit?: number): Promise<Item[]> {
  const items: Item[] = [];
  const pages = paginateQuery(
    { client: table.doc, ...(limit !== undefined ? { pageSize: limit } : {}) },
    { ...input, TableName: table.name },
  );
  for await (const page of pages) {
    items.push(...(page.Items ?? []));
    if (limit !== undefined && items.length >= limit) return items.slice(0, limit);
  }
  return items;
}

/** Every finding item of the account, as stored (one Query, consistent: it decides what is new). */
function findingItems(table: Table, accountId: string): Promise<Item[]> {
  return queryAll(table, {
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': accountPk(accountId), ':prefix': FINDING_PREFIX },
    ConsistentRead: true,
  });
}

async function observedItem(table: Table, accountId: string): Promise<Item | null> {
  const { Item } = await table.doc.send(
    new GetCommand({ TableName: table.name, Key: { PK: accountPk(accountId), SK: OBSERVED_SK }, ConsistentRead: true }),
  );
  return Item ?? null;
}

/**
 * Which of the runs that wrote `items` completed: those whose run record exists (the commit
 * point). One BatchGetItem of keys per 100 distinct runs; usually one run, or a few.
 */
async function committedRuns(table: Table, accountId: string, items: readonly Item[]): Promise<Set<string>> {
  const wanted = [...new Set(items.flatMap((item) => (typeof item.runSk === 'string' ? [item.runSk] : [])))];
  const found = new Set<string>();
  for (let i = 0; i < wanted.length; i += BATCH_GET_SIZE) {
    let keys: Item[] = wanted.slice(i, i + BATCH_GET_SIZE).map((sk) => ({ PK: accountPk(accountId), SK: sk }));
    for (let attempt = 1; keys.length > 0; attempt++) {
      if (attempt > table.maxBatchAttempts)
        throw new StoreError(
          `could not read which runs completed: ${keys.length} run records still unprocessed after ${table.maxBatchAttempts} attempts`,
        );
      if (attempt > 1) await table.sleep(table.backoff(attempt - 1));
      const output = await table.doc.send(
        new BatchGetCommand({ RequestItems: { [table.name]: { Keys: keys, ProjectionExpression: 'SK', ConsistentRead: true } } }),
      );
      for (const item of output.Responses?.[table.name] ?? []) found.add(String(item.SK));
      keys = output.UnprocessedKeys?.[table.name]?.Keys ?? [];
    }
  }
  return found;
}

/** The account's finding items and observed scopes, and the commit check of their writers: what a save starts from. */
export async function storedAccount(table: Table, accountId: string): Promise<StoredAccount> {
  const [items, observed] = await Promise.all([findingItems(table, accountId), observedItem(table, accountId)]);
  const committed = await committedRuns(table, accountId, [...items, ...(observed ? [observed] : [])]);
  return { items, observedItem: observed, committed };
}

/**
 * Every finding of the account as the completed runs left it, by finding id, and the observed
 * scopes: what reconcile compares a run against. An item written by a run that never completed
 * reads as the state it replaced (or as absent): see "Commit point" in docs/store.md.
 */
export async function loadKnown(table: Table, accountId: string): Promise<Known> {
  const { items, observedItem: observed, committed } = await storedAccount(table, accountId);
  const state = new Map<string, StoredFinding>();
  for (const item of items) {
    const view = committedView(item, committed);
    if (view) state.set(view.state.id, view.state);
  }
  return { state, observed: committedScopes(observed, committed) };
}

/**
 * Per scope, the latest observation time (epoch ms) of a completed run that covered it: what
 * tells an older run that a resource it sees failing was already seen compliant later.
 */
export async function loadObserved(table: Table, accountId: string): Promise<Map<Scope, number>> {
  const item = await observedItem(table, accountId);
  return committedScopes(item, await committedRuns(table, accountId, item ? [item] : []));
}

/** Open findings of the account, most severe first, from the sparse GSI (muted ones included). */
export async function openFindings(
  table: Table,
  accountId: string,
  filter: { severity?: Severity; checkId?: string } = {},
): Promise<StoredFinding[]> {
  const values: Item = { ':pk': openPk(accountId) };
  let keyCondition = 'GSI1PK = :pk';
  if (filter.severity) {
    keyCondition += ' AND begins_with(GSI1SK, :severity)';
    values[':severity'] = openSkPrefix(filter.severity);
  }
  const input: Omit<QueryCommandInput, 'TableName'> = {
    IndexName: OPEN_INDEX,
    KeyConditionExpression: keyCondition,
    ExpressionAttributeValues: values,
  };
  if (filter.checkId) {
    input.FilterExpression = 'checkId = :checkId';
    values[':checkId'] = filter.checkId;
  }
  const items = await queryAll(table, input);
  const committed = await committedRuns(table, accountId, items);
  // The index holds an item under its committed state's keys until its writer completes, so
  // resolving each one gives exactly the findings the completed runs left open.
  return items.flatMap((item) => {
    const view = committedView(item, committed);
    if (!view || !isOpen(view.state)) return [];
    if (filter.severity && view.state.severity !== filter.severity) return [];
    if (filter.checkId && view.state.checkId !== filter.checkId) return [];
    return [view.state];
  });
}

/** The latest runs of the account, newest first. */
export async function latestRuns(table: Table, accountId: string, limit = 10): Promise<RunRecord[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const items = await queryAll(
    table,
    {
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': accountPk(accountId), ':prefix': RUN_PREFIX },
      ScanIndexForward: false,
    },
    limit,
  );
  return items.map(toRunRecord);
}

/** Every change of status of a finding still within its TTL and written by a completed run, oldest first. */
export async function history(table: Table, findingId: string): Promise<HistoryEntry[]> {
  const items = await queryAll(table, {
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': historyPk(findingId), ':prefix': HISTORY_PREFIX },
  });
  // A finding id starts with its account id (SPEC §4): the runs are in that account's partition.
  const committed = await committedRuns(table, findingId.split('#')[0]!, items);
  return items.filter((item) => isCommittedItem(item, committed)).map(toHistoryEntry);
}

/** Accounts with at least one stored run, with their latest run. */
export async function accounts(table: Table): Promise<AccountEntry[]> {
  const items = await queryAll(table, {
    KeyConditionExpression: 'PK = :pk',
    ExpressionAttributeValues: { ':pk': ACCOUNTS_PK },
  });
  return items.map(toAccountEntry);
}
