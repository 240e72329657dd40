/**
 * In-memory implementations of the pipeline's ports (lib/audit/ports.ts), for unit tests that need
 * somewhere to keep state and send alerts but not DynamoDB's or SNS's semantics. They answer as
 * FindingsStore and snsPublisher do (test/store/memory-repository.test.ts compares the repository
 * with FindingsStore on the same nights); the store's own tests keep dynalite.
 */
import type { AlertPublisher, FindingsRepository, KnownState } from '#lib/audit/ports.ts';
import type { Severity } from '#lib/model/finding.ts';
import type { Alert } from '#lib/notify/alert.ts';
import { coveredScopes } from '#lib/reconcile/scope.ts';
import type { HistoryEntry, ReconciledRun, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import { StoreBusyError, StoreError } from '#lib/store/errors.ts';
import type { AccountEntry } from '#lib/store/items.ts';
import { historyEntry, needsHistory } from '#lib/store/items.ts';
import { historySk, openSk, runSk } from '#lib/store/keys.ts';
import type { Lease } from '#lib/store/lease.ts';
import type { SaveResult } from '#lib/store/save.ts';

const LEASE_MS = 5 * 60_000;

const byKey =
  <T>(key: (value: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/**
 * A findings repository in memory. A save is all or nothing (there is no partial save to commit);
 * it follows the store's rules otherwise: one lease holder per account, the findings reconcile
 * marked stale left as they are, a PASS with no stored state not kept, history for each change of
 * status, observed scopes only raised, the account entry never moved back to an older run.
 */
export class MemoryFindingsRepository implements FindingsRepository {
  private readonly findings = new Map<string, Map<string, StoredFinding>>();
  private readonly observed = new Map<string, Map<string, number>>();
  private readonly runs = new Map<string, RunRecord>();
  private readonly entries = new Map<string, HistoryEntry>();
  private readonly known = new Map<string, AccountEntry>();
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquireLease(accountId: string, runId: string): Promise<Lease> {
    const held = this.leases.get(accountId);
    if (held && held.runId !== runId && held.until > this.now())
      throw new StoreBusyError(accountId, held.runId, new Date(held.until).toISOString());
    const lease = { accountId, runId, until: this.now() + LEASE_MS };
    this.leases.set(accountId, lease);
    return lease;
  }

  async releaseLease(lease: Lease): Promise<void> {
    if (this.leases.get(lease.accountId)?.runId === lease.runId) this.leases.delete(lease.accountId);
  }

  async loadKnown(accountId: string): Promise<KnownState> {
    return {
      state: new Map(structuredClone([...(this.findings.get(accountId) ?? new Map<string, StoredFinding>())])),
      observed: new Map(this.observed.get(accountId)),
    };
  }

  /** As FindingsStore.saveRun: without a lease, takes (and then releases) one of its own. */
  async saveRun(reconciled: ReconciledRun, options: { lease?: Lease } = {}): Promise<SaveResult> {
    const { run } = reconciled;
    const observedAt = Date.parse(run.collectedAt);
    if (Number.isNaN(observedAt)) throw new StoreError(`run ${run.runId} collectedAt is not a date: ${JSON.stringify(run.collectedAt)}`);
    const held = this.leases.get(run.accountId);
    if (options.lease && held?.runId !== options.lease.runId)
      throw new StoreBusyError(run.accountId, held?.runId ?? null, held ? new Date(held.until).toISOString() : null);
    const lease = options.lease ?? (await this.acquireLease(run.accountId, run.runId));
    try {
      const state = this.findings.get(run.accountId) ?? new Map<string, StoredFinding>();
      this.findings.set(run.accountId, state);
      const result: SaveResult = { written: 0, skippedStale: [], history: 0, compliantNotStored: 0 };
      for (const r of reconciled.findings) {
        if (r.stale) {
          result.skippedStale.push(r.state.id);
        } else if (!state.has(r.state.id) && r.state.status === 'PASS') {
          result.compliantNotStored += 1;
        } else {
          state.set(r.state.id, structuredClone(r.state));
          result.written += 1;
          if (needsHistory(r)) {
            const entry = historyEntry(r, run);
            this.entries.set(`${entry.findingId}\u0000${historySk(entry.at, entry.runId)}`, entry);
            result.history += 1;
          }
        }
      }
      const scopes = this.observed.get(run.accountId) ?? new Map<string, number>();
      for (const scope of coveredScopes(run)) scopes.set(scope, Math.max(scopes.get(scope) ?? observedAt, observedAt));
      this.observed.set(run.accountId, scopes);
      const account = this.known.get(run.accountId);
      if (!account || account.lastRunAt <= run.startedAt)
        this.known.set(run.accountId, { accountId: run.accountId, lastRunAt: run.startedAt, lastRunId: run.runId });
      this.runs.set(`${run.accountId}\u0000${runSk(run.startedAt, run.runId)}`, structuredClone(run));
      return result;
    } finally {
      if (!options.lease) await this.releaseLease(lease);
    }
  }

  // The reads of the command line, in the store's order.

  async openFindings(accountId: string, filter: { severity?: Severity; checkId?: string } = {}): Promise<StoredFinding[]> {
    return [...(this.findings.get(accountId)?.values() ?? [])]
      .filter((f) => isOpen(f) && (!filter.severity || f.severity === filter.severity) && (!filter.checkId || f.checkId === filter.checkId))
      .sort(byKey((f) => openSk(f.severity, f.checkId, f.resource)))
      .map((f) => structuredClone(f));
  }

  async latestRuns(accountId: string, limit = 10): Promise<RunRecord[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    return [...this.runs.values()]
      .filter((r) => r.accountId === accountId)
      .sort(byKey((r) => runSk(r.startedAt, r.runId)))
      .reverse()
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }

  async history(findingId: string): Promise<HistoryEntry[]> {
    return [...this.entries.values()].filter((e) => e.findingId === findingId).sort(byKey((e) => historySk(e.at, e.runId)));
  }

  async accounts(): Promise<AccountEntry[]> {
    return [...this.known.values()].sort(byKey((a) => a.accountId));
  }
}

/**
 * An alert publisher that keeps what it was given. `rejectOnce` makes the next publish fail, as
 * SNS refusing it would; `messageId` is what a publish that succeeds answers.
 */
export class RecordingPublisher implements AlertPublisher {
  /** Every alert published, in order (not those whose publish failed). */
  readonly published: Alert<unknown>[] = [];
  private readonly failures: Error[] = [];

  constructor(public messageId = 'm') {}

  rejectOnce(error: Error): this {
    this.failures.push(error);
    return this;
  }

  async publish(alert: Alert<unknown>): Promise<{ messageId: string }> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.published.push(alert);
    return { messageId: this.messageId };
  }

  /** The JSON (`default`) part of every alert published, in order. */
  summaries(): Record<string, unknown>[] {
    return this.published.map((a) => JSON.parse((JSON.parse(a.message) as { default: string }).default) as Record<string, unknown>);
  }
}
