import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReconciledFinding, ReconciledRun, RunRecord } from '#lib/reconcile/types.ts';
import { coveredScopes } from '#lib/reconcile/scope.ts';
import { batchPut } from './batch.ts';
import { StoreError } from './errors.ts';
import type { FindingView } from './items.ts';
import {
  accountItem,
  committedScopes,
  committedView,
  DAY_SECONDS,
  findingItem,
  historyEntry,
  historyItem,
  indexedByOwnState,
  isCommittedItem,
  needsHistory,
  observedItem,
  reindexed,
  runItem,
} from './items.ts';
import { findingSk, runSk } from './keys.ts';
import type { Lease, LeasePolicy } from './lease.ts';
import { acquireLease, releaseLease } from './lease.ts';
import { storedAccount } from './queries.ts';
import type { Item, Table } from './table.ts';
import { describeError, errorName } from './table.ts';

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
  /** Finding ids reconcile judged stale (a newer run stored or covered them): left as they were, without history. */
  skippedStale: string[];
  /** History items written. */
  history: number;
  /** PASS findings of resources with no stored state: nothing to track, so not written. */
  compliantNotStored: number;
}

export interface SaveContext {
  table: Table;
  lease: LeasePolicy;
  historyTtlDays: number;
  onProgress: ((progress: SaveProgress) => void) | undefined;
}

/** How many failed item names an error message spells out; the rest are counted. */
const NAMED_IN_MESSAGE = 10;

/** Epoch milliseconds of an observation time; ISO strings of different shapes still compare right. */
function epochMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new StoreError(`${what} is not a date: ${JSON.stringify(iso)}`);
  return ms;
}

function summarize(failed: readonly string[]): string {
  const named = failed.slice(0, NAMED_IN_MESSAGE).join('; ');
  return failed.length > NAMED_IN_MESSAGE ? `${named}; and ${failed.length - NAMED_IN_MESSAGE} more` : named;
}

/**
 * Persists a reconciled run under the account's lease (taken here unless the caller holds it):
 * the findings' current state, their history, then the run record and the account entry.
 *
 * Batches cannot be conditional, so the order guarantee comes from the lease: the caller took it
 * before reading the state it reconciled against, so nothing was written since, and the findings
 * reconcile judged stale (a newer run stored or covered them) are left as they are. A PASS for a
 * resource with no stored state is not written: it has no problem to follow, and skipping it keeps
 * the writes proportional to the account's findings, not to its users.
 *
 * Writing the same run again leaves the same items, so after a StoreError the repair is to call
 * it again. The run record comes last: a run whose findings could not all be stored has none.
 */
export async function saveRun(context: SaveContext, reconciled: ReconciledRun, options: { lease?: Lease } = {}): Promise<SaveResult> {
  const { table } = context;
  const { run } = reconciled;
  const observedAt = epochMs(run.collectedAt, `run ${run.runId} collectedAt`);
  const expiresAt = Math.floor(observedAt / 1000) + context.historyTtlDays * DAY_SECONDS;
  // Renewing the caller's lease also proves it was not lost.
  const lease = options.lease
    ? await acquireLease(table, context.lease, run.accountId, run.runId, { renew: true })
    : await acquireLease(table, context.lease, run.accountId, run.runId);
  try {
    return await writeRun(context, reconciled, observedAt, expiresAt);
  } catch (error) {
    // Whatever failed (a read under the lease, the run record), the caller's answer is the same:
    // the run is not fully stored, saving it again is safe, and people must be told.
    if (error instanceof StoreError) throw error;
    throw new StoreError(`run ${run.runId} was not fully stored (${describeError(error)}); saving the same run again is safe`, [], {
      cause: error,
    });
  } finally {
    if (!options.lease) await releaseLease(table, lease).catch(() => undefined);
  }
}

async function writeRun(context: SaveContext, reconciled: ReconciledRun, observedAt: number, expiresAt: number): Promise<SaveResult> {
  const { table } = context;
  const { run } = reconciled;
  const self = runSk(run.startedAt, run.runId);
  const progress = (step: SaveProgress['step'], done: number, total: number) =>
    context.onProgress?.({ runId: run.runId, step, done, total });
  // The committed state, as if this run had written nothing yet: a second save of the same run
  // (a retry, or the repair of a partial save) sees what the first one saw.
  const { items, observedItem: storedObserved, committed } = await storedAccount(table, run.accountId);
  const views = new Map<string, FindingView | null>(items.map((item) => [String(item.SK), committedView(item, committed, self)]));
  const committedObserved = committedScopes(storedObserved, committed, self);
  const skippedStale: string[] = [];
  const states: { item: Item; label: string; finding: ReconciledFinding }[] = [];
  let compliantNotStored = 0;
  for (const r of reconciled.findings) {
    const prior = views.get(findingSk(r.state.checkId, r.state.resource)) ?? null;
    if (r.stale) {
      skippedStale.push(r.state.id);
    } else if (prior === null && r.state.status === 'PASS') {
      compliantNotStored += 1;
    } else {
      states.push({ item: findingItem(r.state, observedAt, self, prior), label: `finding ${r.state.id}`, finding: r });
    }
  }

  // State first, then history only for the states written: a history item never describes
  // a state the table does not hold.
  const failedStates = await batchPut(table, states, (done) => progress('state', done, states.length));
  const failedLabels = new Set(failedStates.map((f) => f.label));
  const histories = states
    .filter((s) => needsHistory(s.finding))
    .map((s) => ({
      item: historyItem(historyEntry(s.finding, run), expiresAt, self),
      label: `history ${s.finding.state.id} at ${run.collectedAt}`,
      of: s.label,
    }));
  const attempted = histories.filter((h) => !failedLabels.has(h.of));
  const failed = [...failedStates, ...(await batchPut(table, attempted, (done) => progress('history', done, attempted.length)))].map(
    (f) => `${f.label} (${f.reason})`,
  );
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
  await table.doc.send(
    new PutCommand({ TableName: table.name, Item: observedItem(run.accountId, scopes, self, storedObserved ? committedObserved : null) }),
  );
  progress('observed', 1, 1);
  await putAccount(table, run);
  progress('account', 1, 1);
  // The commit point. Renewing first proves the lease is still this run's, so a run whose lease
  // ran out mid-save (and was taken over) does not complete over the run that took it.
  await acquireLease(table, context.lease, run.accountId, run.runId, { renew: true });
  await table.doc.send(new PutCommand({ TableName: table.name, Item: runItem(run) }));
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
    .filter((item) => !indexedByOwnState(item))
    .map((item) => ({ item: reindexed(item), label: `index of ${String(item.SK)}` }));
  if (reindex.length > 0) await batchPut(table, reindex, (done) => progress('index', done, reindex.length));
  return { written, skippedStale, history, compliantNotStored };
}

/** An older run must not move the account's latest run back; losing that race is not an error. */
async function putAccount(table: Table, run: RunRecord): Promise<void> {
  try {
    await table.doc.send(
      new PutCommand({
        TableName: table.name,
        Item: accountItem(run),
        ConditionExpression: 'attribute_not_exists(PK) OR lastRunAt <= :startedAt',
        ExpressionAttributeValues: { ':startedAt': run.startedAt },
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
  }
}
