import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Severity } from '#lib/model/finding.ts';
import type { HistoryEntry, ReconciledRun, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import type { Scope } from '#lib/reconcile/scope.ts';
import type { AccountEntry } from './items.ts';
import type { Lease, LeasePolicy } from './lease.ts';
import { acquireLease, DEFAULT_LEASE_MS, DEFAULT_LEASE_WAIT_MS, releaseLease } from './lease.ts';
import type { Known } from './queries.ts';
import * as queries from './queries.ts';
import type { SaveContext, SaveProgress, SaveResult } from './save.ts';
import { saveRun } from './save.ts';
import type { OrganizationRunRecord, SectionLike, StoredSection } from './organization-runs.ts';
import * as organizationRuns from './organization-runs.ts';
import type { Table } from './table.ts';
import { defaultSleep, equalJitter } from './table.ts';

export { StoreBusyError, StoreError } from './errors.ts';
export { LOCAL_TABLE_NAME, OPEN_INDEX, TTL_ATTRIBUTE } from './keys.ts';
export { tableDefinition } from './table.ts';
export type { AccountEntry, Known, Lease, OrganizationRunRecord, SaveProgress, SaveResult, StoredSection };

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
 * The findings store: current state, run records, known accounts and history, in one table
 * (key schema in docs/store.md). Every read a user needs is one Query; every write is idempotent.
 * The pipeline's findings repository (lib/audit/ports.ts); the work is in lease.ts, save.ts (with
 * batch.ts) and queries.ts, on the items of items.ts.
 */
export class FindingsStore {
  private readonly table: Table;
  private readonly lease: LeasePolicy;
  private readonly save: SaveContext;
  private readonly historyTtlDays: number;
  private readonly now: () => number;

  constructor(options: StoreOptions) {
    this.table = {
      doc: DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } }),
      name: options.tableName,
      maxBatchAttempts: Math.max(1, options.maxBatchAttempts ?? 8),
      concurrency: Math.max(1, options.concurrency ?? 16),
      sleep: options.sleep ?? defaultSleep,
      backoff: equalJitter(options.random ?? Math.random),
    };
    this.lease = {
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      leaseWaitMs: options.leaseWaitMs ?? DEFAULT_LEASE_WAIT_MS,
      exclusive: options.exclusive ?? false,
      now: options.now ?? Date.now,
    };
    this.historyTtlDays = options.historyTtlDays;
    this.now = options.now ?? Date.now;
    this.save = { table: this.table, lease: this.lease, historyTtlDays: options.historyTtlDays, onProgress: options.onProgress };
  }

  /** Every finding of the account as the completed runs left it, by finding id (see loadKnown). */
  async loadState(accountId: string): Promise<Map<string, StoredFinding>> {
    return (await this.loadKnown(accountId)).state;
  }

  /** loadState and loadObserved together, with one commit check for both: what reconcile compares a run against. */
  loadKnown(accountId: string): Promise<Known> {
    return queries.loadKnown(this.table, accountId);
  }

  /** See lease.ts: one writer per account; waits up to `leaseWaitMs`, then StoreBusyError. */
  acquireLease(accountId: string, runId: string, options: { wait?: boolean; renew?: boolean } = {}): Promise<Lease> {
    return acquireLease(this.table, this.lease, accountId, runId, options);
  }

  /** Ends the lease early; a lease another run has since taken over is left alone. */
  releaseLease(lease: Lease): Promise<void> {
    return releaseLease(this.table, lease);
  }

  /**
   * Persists a reconciled run (save.ts): state, history, observed scopes, account entry, then the
   * run record, the commit point. Reconcile it against loadKnown read under `lease`.
   */
  saveRun(reconciled: ReconciledRun, options: { lease?: Lease } = {}): Promise<SaveResult> {
    return saveRun(this.save, reconciled, options);
  }

  /** Per scope, the latest observation time (epoch ms) of a completed run that covered it. */
  loadObserved(accountId: string): Promise<Map<Scope, number>> {
    return queries.loadObserved(this.table, accountId);
  }

  /** Open findings of the account, most severe first, from the sparse GSI (muted ones included). */
  openFindings(accountId: string, filter: { severity?: Severity; checkId?: string } = {}): Promise<StoredFinding[]> {
    return queries.openFindings(this.table, accountId, filter);
  }

  /** The latest runs of the account, newest first. */
  latestRuns(accountId: string, limit = 10): Promise<RunRecord[]> {
    return queries.latestRuns(this.table, accountId, limit);
  }

  /** Every change of status of a finding still within its TTL and written by a completed run, oldest first. */
  history(findingId: string): Promise<HistoryEntry[]> {
    return queries.history(this.table, findingId);
  }

  /** Accounts with at least one stored run, with their latest run. */
  accounts(): Promise<AccountEntry[]> {
    return queries.accounts(this.table);
  }

  /** Organization mode: one account's digest section of an organization run, kept `historyTtlDays`. */
  putAccountSection(organizationRunId: string, section: SectionLike): Promise<void> {
    return organizationRuns.putAccountSection(this.table, this.historyTtlDays, organizationRunId, section, this.now);
  }

  /** Every account section of an organization run (one paged Query), unvalidated. */
  querySections(organizationRunId: string): Promise<StoredSection[]> {
    return organizationRuns.querySections(this.table, organizationRunId);
  }

  /** The organization run's record (cut under DynamoDB's item limit); writing it again is harmless. */
  putOrganizationRun(record: OrganizationRunRecord): Promise<void> {
    return organizationRuns.putOrganizationRun(this.table, record);
  }

  /** One organization run's record, or null. */
  getOrganizationRun(startedAt: string, organizationRunId: string): Promise<OrganizationRunRecord | null> {
    return organizationRuns.getOrganizationRun(this.table, startedAt, organizationRunId);
  }

  /** The latest organization runs, newest first. */
  listOrganizationRuns(options: { limit?: number } = {}): Promise<OrganizationRunRecord[]> {
    return organizationRuns.listOrganizationRuns(this.table, options);
  }
}
