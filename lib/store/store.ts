import type { CreateTableCommandInput, DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { NativeAttributeValue, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Severity } from '#lib/model/finding.ts';
import type { HistoryEntry, ReconciledFinding, ReconciledRun, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import type { Scope } from '#lib/reconcile/scope.ts';
import { coveredScopes, scopeOf } from '#lib/reconcile/scope.ts';
import type { ItemType } from './keys.ts';
import { fitDetails, fitRunRecord } from './size.ts';
import {
  accountPk,
  ACCOUNTS_PK,
  FINDING_PREFIX,
  findingSk,
  HISTORY_PREFIX,
  historyPk,
  historySk,
  KEY_ATTRIBUTES,
  LEASE_SK,
  OBSERVED_SK,
  OPEN_INDEX,
  openPk,
  openSk,
  openSkPrefix,
  RUN_PREFIX,
  runSk,
  TTL_ATTRIBUTE,
} from './keys.ts';

export { LOCAL_TABLE_NAME, OPEN_INDEX, TTL_ATTRIBUTE } from './keys.ts';

type Item = Record<string, NativeAttributeValue>;

/**
 * A write that still failed after every retry. It fails the run: the message names how many items
 * and which, and since every write of saveRun is idempotent, running saveRun again is the repair.
 */
export class StoreError extends Error {
  override name = 'StoreError';
  /** One line per item that was not written (`finding <id>`, `history <findingId> at <at>`). */
  readonly failedItems: readonly string[];

  constructor(message: string, failedItems: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.failedItems = failedItems;
  }
}

/**
 * Another run holds the account's write lease (it is saving, or crashed less than a lease ago).
 * Nothing was written; the holder and the lease's end are named so the user knows when to retry.
 */
export class StoreBusyError extends StoreError {
  override name = 'StoreBusyError';
  constructor(
    readonly accountId: string,
    readonly holder: string | null,
    readonly until: string | null,
  ) {
    super(
      holder
        ? `account ${accountId} is being saved by run ${holder} (lease until ${until ?? 'unknown'}); nothing was saved, run again after that`
        : `account ${accountId}'s write lease could not be taken; nothing was saved`,
    );
  }
}

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

export interface StoreOptions {
  client: DynamoDBClient;
  tableName: string;
  historyTtlDays: number;
  /** Attempts per BatchWriteItem batch, the first included, before its leftovers fail the run. */
  maxBatchAttempts?: number;
  /** Injected by tests to record the backoff instead of waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected by tests to make the jitter predictable; in [0, 1). */
  random?: () => number;
  /** Requests in flight at once (batches). */
  concurrency?: number;
  /** How long a lease lasts: longer than any save, short enough that a crashed run soon frees it. */
  leaseMs?: number;
  /** How long to wait for a busy lease before StoreBusyError. */
  leaseWaitMs?: number;
  /**
   * The caller guarantees it is the only writer (local mode holds a lock file on the folder), so
   * a lease left by a killed process is taken over at once instead of blocking for `leaseMs`.
   */
  exclusive?: boolean;
  /** Injected by tests for lease times. */
  now?: () => number;
  /** Told after each step of saveRun (each batch, the commit): the command line's progress, and the kill test's hook. */
  onProgress?: (progress: SaveProgress) => void;
}

/**
 * Where a save is: `state` and `history` after each batch (items done of total), `observed` and
 * `account` after their put, `committed` once the run record is written, `index` after each batch
 * of index repairs that follow it.
 */
export interface SaveProgress {
  runId: string;
  step: 'state' | 'history' | 'observed' | 'account' | 'committed' | 'index';
  done: number;
  total: number;
}

export interface SaveResult {
  /** Current-state items written. */
  written: number;
  /** Finding ids whose stored state came from a newer observation: left as they were, without history. */
  skippedStale: string[];
  /** History items written. */
  history: number;
  /** PASS findings of resources with no stored state: nothing to track, so not written. */
  compliantNotStored: number;
}

export interface AccountEntry {
  accountId: string;
  lastRunAt: string;
  lastRunId: string;
}

const BATCH_SIZE = 25;
const BATCH_GET_SIZE = 100;
const DEFAULT_LEASE_MS = 5 * 60_000;
const DEFAULT_LEASE_WAIT_MS = 60_000;
const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 5_000;
const DAY_SECONDS = 86_400;
/** How many failed item names an error message spells out; the rest are counted. */
const NAMED_IN_MESSAGE = 10;

/** Error names DynamoDB (or the SDK after its own retries) uses for "try again later". */
const RETRYABLE_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs fn over items with at most `limit` in flight; never rejects, so one failure does not orphan the rest. */
async function settleAll<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index]!) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function omit(item: Item, keys: readonly string[]): Item {
  const out: Item = { ...item };
  for (const key of keys) delete out[key];
  return out;
}

/** Epoch milliseconds of an observation time; ISO strings of different shapes still compare right. */
function epochMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new StoreError(`${what} is not a date: ${JSON.stringify(iso)}`);
  return ms;
}

/** A change worth a history item: the three changes the reader follows, or any other change of status. */
function needsHistory(r: ReconciledFinding): boolean {
  if (r.change === 'new' || r.change === 'regressed' || r.change === 'resolved') return true;
  // A first-seen PASS (previousStatus null) is not a change of status: no item per compliant resource.
  return r.previousStatus !== null && r.previousStatus !== r.state.status;
}

function summarize(failed: readonly string[]): string {
  const named = failed.slice(0, NAMED_IN_MESSAGE).join('; ');
  return failed.length > NAMED_IN_MESSAGE ? `${named}; and ${failed.length - NAMED_IN_MESSAGE} more` : named;
}

/**
 * The findings store: current state, run records, known accounts and history, in one table
 * (key schema in docs/store.md). Every read a user needs is one Query; every write is idempotent.
 */
export class FindingsStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly historyTtlDays: number;
  private readonly maxBatchAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly leaseWaitMs: number;
  private readonly exclusive: boolean;
  private readonly now: () => number;
  private readonly onProgress: ((progress: SaveProgress) => void) | undefined;

  constructor(options: StoreOptions) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.tableName = options.tableName;
    this.historyTtlDays = options.historyTtlDays;
    this.maxBatchAttempts = Math.max(1, options.maxBatchAttempts ?? 8);
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.concurrency = Math.max(1, options.concurrency ?? 16);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.leaseWaitMs = options.leaseWaitMs ?? DEFAULT_LEASE_WAIT_MS;
    this.exclusive = options.exclusive ?? false;
    this.now = options.now ?? Date.now;
    this.onProgress = options.onProgress;
  }

  /**
   * Every finding of the account as the completed runs left it, by finding id: what reconcile
   * compares a run against. An item written by a run that never completed reads as the state it
   * replaced (or as absent): see "Commit point" in docs/store.md.
   */
  async loadState(accountId: string): Promise<Map<string, StoredFinding>> {
    return (await this.loadKnown(accountId)).state;
  }

  /** loadState and loadObserved together, with one commit check for both. */
  async loadKnown(accountId: string): Promise<{ state: Map<string, StoredFinding>; observed: Map<Scope, number> }> {
    const [items, observedItem] = await Promise.all([this.findingItems(accountId), this.observedItem(accountId)]);
    const committed = await this.committedRuns(accountId, [...items, ...(observedItem ? [observedItem] : [])]);
    const state = new Map<string, StoredFinding>();
    for (const item of items) {
      const view = committedView(item, committed);
      if (view) state.set(view.state.id, view.state);
    }
    return { state, observed: committedScopes(observedItem, committed) };
  }

  /**
   * Takes (or renews) the account's write lease: one writer per account at a time. Waits up to
   * `leaseWaitMs` for another run to finish, then StoreBusyError. Taking a lease the same run
   * already holds renews it, so a caller that took it before `loadState` can pass it on.
   */
  async acquireLease(accountId: string, runId: string, options: { wait?: boolean; renew?: boolean } = {}): Promise<Lease> {
    const deadline = this.now() + (options.wait === false || options.renew ? 0 : this.leaseWaitMs);
    // Renewing proves the lease is still this run's: taken over (or taken and released) by
    // another run since, it fails instead of quietly taking the lease again.
    const condition = options.renew
      ? { ConditionExpression: 'leaseHolder = :runId', ExpressionAttributeValues: { ':runId': runId } }
      : { ConditionExpression: 'attribute_not_exists(PK) OR leaseUntil < :now OR leaseHolder = :runId' };
    for (let attempt = 1; ; attempt++) {
      const now = this.now();
      const until = now + this.leaseMs;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              PK: accountPk(accountId),
              SK: LEASE_SK,
              type: 'lease' satisfies ItemType,
              leaseHolder: runId,
              leaseUntil: until,
              // A lease nobody released is cleaned up by the table's TTL a day later.
              [TTL_ATTRIBUTE]: Math.ceil(until / 1000) + DAY_SECONDS,
            },
            ...(this.exclusive
              ? {}
              : condition.ExpressionAttributeValues
                ? condition
                : { ...condition, ExpressionAttributeValues: { ':now': now, ':runId': runId } }),
          }),
        );
        return { accountId, runId, until };
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
        if (this.now() >= deadline) throw await this.busy(accountId);
        await this.sleep(this.backoff(Math.min(attempt, 7)));
      }
    }
  }

  /** Ends the lease early; a lease another run has since taken over is left alone. */
  async releaseLease(lease: Lease): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { PK: accountPk(lease.accountId), SK: LEASE_SK },
          ConditionExpression: 'leaseHolder = :runId',
          ExpressionAttributeValues: { ':runId': lease.runId },
        }),
      );
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /**
   * Persists a reconciled run under the account's lease (taken here unless the caller holds it):
   * the findings' current state, their history, then the run record and the account entry.
   *
   * Batches cannot be conditional, so the order guarantee comes from the lease: it reads every
   * stored finding's `observedAt` (one Query) and skips the findings a newer run stored, which
   * is what a conditional put per finding did, at 1/25th of the requests. A PASS for a resource
   * with no stored state is not written: it has no problem to follow, and skipping it keeps the
   * writes proportional to the account's findings, not to its users.
   *
   * Writing the same run again leaves the same items, so after a StoreError the repair is to call
   * it again. The run record comes last: a run whose findings could not all be stored has none.
   */
  async saveRun(reconciled: ReconciledRun, options: { lease?: Lease } = {}): Promise<SaveResult> {
    const { run } = reconciled;
    const observedAt = epochMs(run.collectedAt, `run ${run.runId} collectedAt`);
    const expiresAt = Math.floor(observedAt / 1000) + this.historyTtlDays * DAY_SECONDS;
    // Renewing the caller's lease also proves it was not lost.
    const lease = options.lease ? await this.acquireLease(run.accountId, run.runId, { renew: true }) : await this.acquireLease(run.accountId, run.runId);
    try {
      return await this.writeRun(reconciled, observedAt, expiresAt);
    } catch (error) {
      // Whatever failed (a read under the lease, the run record), the caller's answer is the same:
      // the run is not fully stored, saving it again is safe, and people must be told.
      if (error instanceof StoreError) throw error;
      throw new StoreError(`run ${run.runId} was not fully stored (${describeError(error)}); saving the same run again is safe`, [], { cause: error });
    } finally {
      if (!options.lease) await this.releaseLease(lease).catch(() => undefined);
    }
  }

  private async writeRun(reconciled: ReconciledRun, observedAt: number, expiresAt: number): Promise<SaveResult> {
    const { run } = reconciled;
    const self = runSk(run.startedAt, run.runId);
    const progress = (step: SaveProgress['step'], done: number, total: number) => this.onProgress?.({ runId: run.runId, step, done, total });
    // The committed state, as if this run had written nothing yet: a second save of the same run
    // (a retry, or the repair of a partial save) sees what the first one saw.
    const [items, observedItem] = await Promise.all([this.findingItems(run.accountId), this.observedItem(run.accountId)]);
    const committed = await this.committedRuns(run.accountId, [...items, ...(observedItem ? [observedItem] : [])]);
    const views = new Map<string, FindingView | null>(items.map((item) => [String(item.SK), committedView(item, committed, self)]));
    const committedObserved = committedScopes(observedItem, committed, self);
    const skippedStale: string[] = [];
    const states: { item: Item; label: string; finding: ReconciledFinding }[] = [];
    let compliantNotStored = 0;
    for (const r of reconciled.findings) {
      const prior = views.get(findingSk(r.state.checkId, r.state.resource)) ?? null;
      // Stale: a newer run stored this finding, or covered its scope (and so saw it, or found
      // nothing to store): reconcile's rule, kept here for callers that did not hold the lease.
      const newerAt = Math.max(prior?.observedAt ?? Number.NEGATIVE_INFINITY, committedObserved.get(scopeOf(r.state)) ?? Number.NEGATIVE_INFINITY);
      if (newerAt > observedAt) {
        skippedStale.push(r.state.id);
      } else if (prior === null && r.state.status === 'PASS') {
        compliantNotStored += 1;
      } else {
        states.push({ item: findingItem(r.state, observedAt, self, prior), label: `finding ${r.state.id}`, finding: r });
      }
    }

    // State first, then history only for the states written: a history item never describes
    // a state the table does not hold.
    const failedStates = await this.batchPut(states, (done) => progress('state', done, states.length));
    const failedLabels = new Set(failedStates.map((f) => f.label));
    const histories = states
      .filter((s) => needsHistory(s.finding))
      .map((s) => ({ item: this.historyItem(s.finding, run, expiresAt, self), label: `history ${s.finding.state.id} at ${run.collectedAt}`, of: s.label }));
    const attempted = histories.filter((h) => !failedLabels.has(h.of));
    const failed = [...failedStates, ...(await this.batchPut(attempted, (done) => progress('history', done, attempted.length)))].map((f) => `${f.label} (${f.reason})`);
    if (failed.length > 0) {
      throw new StoreError(
        `run ${run.runId} was not fully stored: ${failed.length} of ${states.length + attempted.length} items failed after retries ` +
          `(${summarize(failed)}); the run record was not written; saving the same run again is safe`,
        failed,
      );
    }
    const written = states.length;
    const history = histories.length;

    // Under the lease, read-merge-write is safe; max() keeps it idempotent and order-proof. The
    // committed scopes ride along, for readers while this run has not completed.
    const scopes = new Map(committedObserved);
    for (const scope of coveredScopes(run)) scopes.set(scope, Math.max(scopes.get(scope) ?? observedAt, observedAt));
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          PK: accountPk(run.accountId),
          SK: OBSERVED_SK,
          type: 'observed' satisfies ItemType,
          scopes: Object.fromEntries(scopes),
          runSk: self,
          ...(observedItem ? { prior: JSON.stringify(Object.fromEntries(committedObserved)) } : {}),
        },
      }),
    );
    progress('observed', 1, 1);
    await this.putAccount(run);
    progress('account', 1, 1);
    // The commit point. Renewing first proves the lease is still this run's, so a run whose lease
    // ran out mid-save (and was taken over) does not complete over the run that took it.
    await this.acquireLease(run.accountId, run.runId, { renew: true });
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: runItem(run) }));
    progress('committed', 1, 1);

    // Now committed, every item is indexed by its own state: a finding this run resolved leaves
    // the open index (it stayed there, under its committed keys, until the commit), and index
    // keys left by an earlier save that stopped here are put right. The state is already correct
    // without this (readers resolve every item), so a failure here only costs reads later.
    const rewritten = new Set(states.map((s) => String(s.item.SK)));
    const reindex = [
      ...states.map((s) => s.item),
      ...items.filter((item) => !rewritten.has(String(item.SK)) && isCommittedItem(item, committed)),
    ]
      .filter((item) => !sameIndexKeys(item, indexKeysOf(toFinding(item))))
      .map((item) => ({ item: withIndexKeys(item, indexKeysOf(toFinding(item))), label: `index of ${String(item.SK)}` }));
    if (reindex.length > 0) await this.batchPut(reindex, (done) => progress('index', done, reindex.length));
    return { written, skippedStale, history, compliantNotStored };
  }

  /**
   * Per scope, the latest observation time (epoch ms) of a completed run that covered it: what
   * tells an older run that a resource it sees failing was already seen compliant later.
   */
  async loadObserved(accountId: string): Promise<Map<Scope, number>> {
    const item = await this.observedItem(accountId);
    return committedScopes(item, await this.committedRuns(accountId, item ? [item] : []));
  }

  /** Open findings of the account, most severe first, from the sparse GSI (muted ones included). */
  async openFindings(accountId: string, filter: { severity?: Severity; checkId?: string } = {}): Promise<StoredFinding[]> {
    const values: Item = { ':pk': openPk(accountId) };
    let keyCondition = 'GSI1PK = :pk';
    if (filter.severity) {
      keyCondition += ' AND begins_with(GSI1SK, :severity)';
      values[':severity'] = openSkPrefix(filter.severity);
    }
    const input: Omit<QueryCommandInput, 'TableName'> = { IndexName: OPEN_INDEX, KeyConditionExpression: keyCondition, ExpressionAttributeValues: values };
    if (filter.checkId) {
      input.FilterExpression = 'checkId = :checkId';
      values[':checkId'] = filter.checkId;
    }
    const items = await this.queryAll(input);
    const committed = await this.committedRuns(accountId, items);
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
  async latestRuns(accountId: string, limit = 10): Promise<RunRecord[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const items = await this.queryAll(
      {
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: { ':pk': accountPk(accountId), ':prefix': RUN_PREFIX },
        ScanIndexForward: false,
      },
      limit,
    );
    return items.map((item) => omit(item, KEY_ATTRIBUTES) as RunRecord);
  }

  /** Every change of status of a finding still within its TTL and written by a completed run, oldest first. */
  async history(findingId: string): Promise<HistoryEntry[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': historyPk(findingId), ':prefix': HISTORY_PREFIX },
    });
    // A finding id starts with its account id (SPEC §4): the runs are in that account's partition.
    const committed = await this.committedRuns(findingId.split('#')[0]!, items);
    return items.filter((item) => isCommittedItem(item, committed)).map((item) => omit(item, [...KEY_ATTRIBUTES, TTL_ATTRIBUTE, 'runSk']) as HistoryEntry);
  }

  /** Accounts with at least one stored run, with their latest run. */
  async accounts(): Promise<AccountEntry[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': ACCOUNTS_PK },
    });
    return items.map((item) => ({ accountId: String(item.accountId), lastRunAt: String(item.lastRunAt), lastRunId: String(item.lastRunId) }));
  }

  /** One logical Query, followed across pages (1 MB each) until done or `limit` items. */
  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>, limit?: number): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          ...(limit !== undefined ? { Limit: limit - items.length } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }

  /** Every finding item of the account, as stored (one Query, consistent: it decides what is new). */
  private findingItems(accountId: string): Promise<Item[]> {
    return this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': accountPk(accountId), ':prefix': FINDING_PREFIX },
      ConsistentRead: true,
    });
  }

  private async observedItem(accountId: string): Promise<Item | null> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: accountPk(accountId), SK: OBSERVED_SK }, ConsistentRead: true }));
    return Item ?? null;
  }

  /**
   * Which of the runs that wrote `items` completed: those whose run record exists (the commit
   * point). One BatchGetItem of keys per 100 distinct runs; usually one run, or a few.
   */
  private async committedRuns(accountId: string, items: readonly Item[]): Promise<Set<string>> {
    const wanted = [...new Set(items.flatMap((item) => (typeof item.runSk === 'string' ? [item.runSk] : [])))];
    const found = new Set<string>();
    for (let i = 0; i < wanted.length; i += BATCH_GET_SIZE) {
      let keys: Item[] = wanted.slice(i, i + BATCH_GET_SIZE).map((sk) => ({ PK: accountPk(accountId), SK: sk }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        if (attempt > this.maxBatchAttempts) throw new StoreError(`could not read which runs completed: ${keys.length} run records still unprocessed after ${this.maxBatchAttempts} attempts`);
        if (attempt > 1) await this.sleep(this.backoff(attempt - 1));
        const output = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ProjectionExpression: 'SK', ConsistentRead: true } } }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) found.add(String(item.SK));
        keys = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  private async busy(accountId: string): Promise<StoreBusyError> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: accountPk(accountId), SK: LEASE_SK }, ConsistentRead: true }));
    const until = typeof Item?.leaseUntil === 'number' ? new Date(Item.leaseUntil).toISOString() : null;
    return new StoreBusyError(accountId, typeof Item?.leaseHolder === 'string' ? Item.leaseHolder : null, until);
  }

  private historyItem(r: ReconciledFinding, run: RunRecord, expiresAt: number, writer: string): Item {
    const entry: HistoryEntry = {
      findingId: r.state.id,
      at: run.collectedAt,
      runId: run.runId,
      change: r.change,
      status: r.state.status,
      previousStatus: r.previousStatus,
      severity: r.state.severity,
      title: r.state.title,
    };
    return {
      ...entry,
      PK: historyPk(entry.findingId),
      SK: historySk(entry.at, entry.runId),
      type: 'history' satisfies ItemType,
      [TTL_ATTRIBUTE]: expiresAt,
      runSk: writer,
    };
  }

  /** An older run must not move the account's latest run back; losing that race is not an error. */
  private async putAccount(run: RunRecord): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { PK: ACCOUNTS_PK, SK: run.accountId, type: 'account' satisfies ItemType, accountId: run.accountId, lastRunAt: run.startedAt, lastRunId: run.runId },
          ConditionExpression: 'attribute_not_exists(PK) OR lastRunAt <= :startedAt',
          ExpressionAttributeValues: { ':startedAt': run.startedAt },
        }),
      );
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /** BatchWriteItem in batches of 25, each retrying its UnprocessedItems; returns the items never written, with why. */
  private async batchPut(entries: readonly { item: Item; label: string }[], onBatch?: (done: number) => void): Promise<{ label: string; reason: string }[]> {
    // One batch may not name the same key twice; the last entry for a key wins.
    const byKey = new Map<string, { item: Item; label: string }>();
    for (const entry of entries) byKey.set(`${String(entry.item.PK)}\u0000${String(entry.item.SK)}`, entry);
    const unique = [...byKey.values()];
    const batches: { item: Item; label: string }[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_SIZE) batches.push(unique.slice(i, i + BATCH_SIZE));
    let done = 0;
    const results = await settleAll(batches, this.concurrency, async (batch) => {
      const failed = await this.writeBatch(batch);
      done += batch.length;
      onBatch?.(done);
      return failed;
    });
    return results.flatMap((result, index) =>
      result.status === 'fulfilled' ? result.value : batches[index]!.map((e) => ({ label: e.label, reason: describeError(result.reason) })),
    );
  }

  private async writeBatch(batch: readonly { item: Item; label: string }[]): Promise<{ label: string; reason: string }[]> {
    const labels = new Map(batch.map((e) => [`${String(e.item.PK)}\u0000${String(e.item.SK)}`, e.label]));
    let pending: Item[] = batch.map((e) => e.item);
    let lastError: unknown = null;
    for (let attempt = 1; pending.length > 0 && attempt <= this.maxBatchAttempts; attempt++) {
      if (attempt > 1) await this.sleep(this.backoff(attempt - 1));
      try {
        const output = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: pending.map((Item) => ({ PutRequest: { Item } })) } }),
        );
        pending = (output.UnprocessedItems?.[this.tableName] ?? []).flatMap((request) => (request.PutRequest?.Item ? [request.PutRequest.Item] : []));
        lastError = null;
      } catch (error) {
        // One bad item (too large, say) fails its whole batch: put them one by one, so the others
        // are written and the error names only the bad one. Other refusals (AccessDenied, no
        // table) would only fail once per item.
        if (errorName(error) === 'ValidationException') return this.putEach(pending, labels);
        // Throttling that outlasted the SDK's own retries gets ours too; anything else will not heal.
        if (!RETRYABLE_ERRORS.has(errorName(error))) throw error;
        lastError = error;
      }
    }
    const reason = `${lastError ? describeError(lastError) : 'still unprocessed'} after ${this.maxBatchAttempts} attempts`;
    return pending.map((item) => ({ label: labels.get(`${String(item.PK)}\u0000${String(item.SK)}`) ?? `${String(item.PK)} ${String(item.SK)}`, reason }));
  }

  private async putEach(items: readonly Item[], labels: ReadonlyMap<string, string>): Promise<{ label: string; reason: string }[]> {
    const results = await settleAll(items, this.concurrency, (Item) => this.doc.send(new PutCommand({ TableName: this.tableName, Item })));
    return results.flatMap((result, index) => {
      if (result.status === 'fulfilled') return [];
      const item = items[index]!;
      return [{ label: labels.get(`${String(item.PK)}\u0000${String(item.SK)}`) ?? `${String(item.PK)} ${String(item.SK)}`, reason: describeError(result.reason) }];
    });
  }

  /** Exponential backoff with "equal jitter": half the window fixed, half random, so waits still grow. */
  private backoff(retry: number): number {
    const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
    return Math.round(window / 2 + this.random() * (window / 2));
  }
}

/** Attributes that say who wrote an item and what committed state it replaced: internal, stripped on read. */
const COMMIT_ATTRIBUTES = ['observedAt', 'runSk', 'prior'] as const;

function toFinding(item: Item): StoredFinding {
  const finding = omit(item, [...KEY_ATTRIBUTES, ...COMMIT_ATTRIBUTES]);
  // Items written before details became a JSON string hold them as a map: both read back the same.
  if (typeof finding.details === 'string') finding.details = JSON.parse(finding.details) as unknown;
  return finding as StoredFinding;
}

/** A finding as a completed run stored it, with that run's observation time. */
interface FindingView {
  state: StoredFinding;
  observedAt: number;
}

/**
 * Whether the item's writer completed: its run record exists. Items written before commit points
 * existed carry no `runSk` and count as completed, as they did then.
 */
function isCommittedItem(item: Item, committed: ReadonlySet<string>, exclude?: string): boolean {
  if (typeof item.runSk !== 'string') return true;
  return item.runSk !== exclude && committed.has(item.runSk);
}

/**
 * The finding as the completed runs left it: the item itself when its writer completed, otherwise
 * the state it replaced (`prior`), or nothing when it had none. `exclude` treats that run as not
 * completed, so a run saved again sees the state from before its first save.
 */
function committedView(item: Item, committed: ReadonlySet<string>, exclude?: string): FindingView | null {
  if (isCommittedItem(item, committed, exclude)) return { state: toFinding(item), observedAt: Number(item.observedAt) };
  return typeof item.prior === 'string' ? fromPrior(toFinding(item), JSON.parse(item.prior) as StoredPrior) : null;
}

/**
 * `prior` as stored: only the fields of the committed state that differ from the item's own
 * (`changed`), and those it lacked (`absent`). A finding still open as before differs in lastSeen
 * and runId alone, so the prior costs a few dozen bytes, not a second copy of the item.
 */
interface StoredPrior {
  observedAt: number;
  changed: Partial<StoredFinding>;
  absent: string[];
}

/** The committed state as its difference from `state`, whose details are already cut as stored. */
function toPrior(state: StoredFinding, prior: FindingView): StoredPrior {
  const own = state as unknown as Record<string, unknown>;
  const old = { ...prior.state, details: fitDetails(prior.state.details) } as unknown as Record<string, unknown>;
  const changed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(old)) {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(own[key])) changed[key] = value;
  }
  const absent = Object.keys(own).filter((key) => own[key] !== undefined && old[key] === undefined);
  return { observedAt: prior.observedAt, changed: changed as Partial<StoredFinding>, absent };
}

function fromPrior(own: StoredFinding, prior: StoredPrior): FindingView {
  const state = { ...own, ...prior.changed } as unknown as Record<string, unknown>;
  for (const key of prior.absent) delete state[key];
  return { state: state as unknown as StoredFinding, observedAt: prior.observedAt };
}

/** The observed scopes as the completed runs left them (see committedView). */
function committedScopes(item: Item | null, committed: ReadonlySet<string>, exclude?: string): Map<Scope, number> {
  if (!item) return new Map();
  const raw: unknown = isCommittedItem(item, committed, exclude) ? item.scopes : typeof item.prior === 'string' ? JSON.parse(item.prior) : {};
  return new Map(Object.entries((raw ?? {}) as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

type IndexKeys = { GSI1PK: string; GSI1SK: string } | null;

/** Open findings are in the sparse index, most severe first; others are not. */
function indexKeysOf(state: StoredFinding): IndexKeys {
  return isOpen(state) ? { GSI1PK: openPk(state.accountId), GSI1SK: openSk(state.severity, state.checkId, state.resource) } : null;
}

function sameIndexKeys(item: Item, keys: IndexKeys): boolean {
  return keys === null ? item.GSI1PK === undefined && item.GSI1SK === undefined : item.GSI1PK === keys.GSI1PK && item.GSI1SK === keys.GSI1SK;
}

function withIndexKeys(item: Item, keys: IndexKeys): Item {
  const { GSI1PK: _pk, GSI1SK: _sk, ...rest } = item;
  return keys ? { ...rest, ...keys } : rest;
}

/**
 * The whole item is replaced. `observedAt` is the observation time of the run that wrote it (not
 * lastSeen: a finding resolved by absence keeps its old lastSeen, and comparing that would let an
 * older, overlapping run that still saw the finding reopen it). `runSk` names the writer's run
 * record, and `prior` holds the committed state this item replaces, so that until the writer
 * completes, readers see the prior one. For the same reason the item keeps the prior's index keys
 * while the prior is open; once the run completes, saveRun re-indexes it by its own state.
 */
function findingItem(finding: StoredFinding, observedAt: number, writer: string, prior: FindingView | null): Item {
  const keys = prior && isOpen(prior.state) ? indexKeysOf(prior.state) : indexKeysOf(finding);
  // Cut to fit the item limit, with a count of what was left out.
  const state = { ...finding, details: fitDetails(finding.details) };
  return {
    ...state,
    PK: accountPk(state.accountId),
    SK: findingSk(state.checkId, state.resource),
    type: 'finding' satisfies ItemType,
    // One string, not a map: nothing queries into details, and a nested map costs marshalling and
    // validation of every value on each write (most of a save's CPU at 10,000 users).
    details: JSON.stringify(state.details),
    observedAt,
    runSk: writer,
    ...(prior ? { prior: JSON.stringify(toPrior(state, prior)) } : {}),
    ...(keys ?? {}),
  };
}

function runItem(run: RunRecord): Item {
  return { ...fitRunRecord(run), PK: accountPk(run.accountId), SK: runSk(run.startedAt, run.runId), type: 'run' satisfies ItemType };
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

async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | null> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table ?? null;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return null;
    throw error;
  }
}

const isActive = (table: TableDescription): boolean =>
  table.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');

/**
 * Creates the table if missing and waits until it and its index are ACTIVE (local mode). An
 * existing table without the open index is refused: openFindings would fail on every call.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: { timeoutMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let table = await describeTable(client, tableName);
  if (!table) {
    try {
      table = (await client.send(new CreateTableCommand(tableDefinition(tableName)))).TableDescription ?? null;
    } catch (error) {
      // Another process created it first: fine, wait for it like for our own.
      if (errorName(error) !== 'ResourceInUseException') throw error;
    }
  }
  for (let delay = 50; !table || !isActive(table); delay = Math.min(delay * 2, 2_000)) {
    if (Date.now() > deadline) throw new StoreError(`table ${tableName} did not become ACTIVE in time (status ${table?.TableStatus ?? 'unknown'})`);
    await sleep(delay);
    table = await describeTable(client, tableName);
  }
  if (!(table.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === OPEN_INDEX)) {
    throw new StoreError(`table ${tableName} exists without the "${OPEN_INDEX}" index; it was not created by account-auditor`);
  }
}
