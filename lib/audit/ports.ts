import type { Alert } from '#lib/notify/alert.ts';
import type { ReconciledRun, StoredFinding } from '#lib/reconcile/types.ts';
import type { Scope } from '#lib/reconcile/scope.ts';
import type { Lease } from '#lib/store/lease.ts';
import type { SaveResult } from '#lib/store/save.ts';

/**
 * What the pipeline needs from the outside, and nothing more. The pipeline owns these interfaces;
 * the implementations satisfy them by shape and never import audit: FindingsStore (DynamoDB, or
 * dynalite locally) and snsPublisher in production, the in-memory fakes of test/support/fakes.ts
 * in unit tests.
 */

/** What the completed runs know of an account: reconcile's input. */
export interface KnownState {
  /** Each finding's stored state, by finding id. */
  state: Map<string, StoredFinding>;
  /** Per scope, the latest observation time (epoch ms) of a completed run that covered it. */
  observed: Map<Scope, number>;
}

/**
 * Where state lives between runs. One writer per account: the pipeline takes the lease before it
 * reads, so what it reconciles against is what it overwrites.
 */
export interface FindingsRepository {
  /** Waits for another run's lease for a while; then StoreBusyError. Any other failure: nothing can be saved. */
  acquireLease(accountId: string, runId: string): Promise<Lease>;
  releaseLease(lease: Lease): Promise<void>;
  /** Only what completed runs stored: a save that stopped part way counts for nothing. */
  loadKnown(accountId: string): Promise<KnownState>;
  /**
   * Stores the run under `lease`, leaving the findings reconcile marked stale. Idempotent: after a
   * StoreError, saving the same run again completes it; StoreBusyError means the lease was lost.
   */
  saveRun(reconciled: ReconciledRun, options: { lease: Lease }): Promise<SaveResult>;
}

/** Where alerts go. A failure rejects: a lost alert must fail loudly. */
export interface AlertPublisher {
  /** The message ID of the published alert. */
  publish(alert: Alert<unknown>): Promise<{ messageId: string }>;
}
