import type { AuditResult } from '#lib/model/run.ts';
import type { AlertPublisher, FindingsRepository } from './ports.ts';
import type { RunAuditOptions } from './run.ts';
import { runAudit } from './run.ts';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import type { ReconciledRun, StoredFinding } from '#lib/reconcile/types.ts';
import { StoreBusyError, StoreError } from '#lib/store/errors.ts';
import type { Lease } from '#lib/store/lease.ts';
import type { SaveResult } from '#lib/store/save.ts';
import type { Alert } from '#lib/notify/alert.ts';
import { buildAlert, shouldAlert } from '#lib/notify/alert.ts';
import { buildStateNotSavedAlert } from '#lib/notify/state-not-saved.ts';
import type { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { buildSecurityHubFailedAlert } from '#lib/notify/security-hub-failed.ts';
import { syncSecurityHub, type SecurityHubSyncResult } from '#lib/securityhub/sync.ts';
import { productArn } from '#lib/export/asff.ts';

export interface PipelineOptions extends RunAuditOptions {
  /** Where state lives between runs (FindingsStore); without one, every open finding counts as new. */
  store?: FindingsRepository | null;
  /** Where alerts go (snsPublisher); without one, the alert is built (for display) but not published. */
  publisher?: AlertPublisher | null;
  /** Named in alerts as where the full list is. */
  tableName?: string;
  /** Evaluate and reconcile, but write nothing and publish nothing. */
  dryRun?: boolean;
  /**
   * Where to import the findings after the run is saved (Security Hub, in `region`); null or absent:
   * no import. Nothing is imported for a dry run or a run whose save failed.
   */
  securityHub?: { client: SecurityHubClient; region: string; sleep?: (ms: number) => Promise<void> } | null;
}

/** The Security Hub import of a saved run, and the alert that reported what it left out. */
export interface SecurityHubOutcome extends SecurityHubSyncResult {
  /** The SNS message ID of the alert naming the findings not imported; null when none was published. */
  alertMessageId: string | null;
  /** Why that alert could not be published. */
  alertError?: string;
}

export interface PipelineResult {
  result: AuditResult;
  reconciled: ReconciledRun;
  /** null when nothing was stored (no store, or a dry run). */
  saved: SaveResult | null;
  alert: {
    wanted: boolean;
    reason: string;
    alert: Alert;
    /** The SNS message ID when it was published. */
    messageId: string | null;
  };
  /** Set only on the result carried by a failed save (unsavedRun): why the state was not saved. */
  notSaved?: StoreError;
  /** The Security Hub import; null when none was asked for or the run was not saved. */
  securityHub?: SecurityHubOutcome | null;
}

/** The result of each run whose save failed, by the error auditAndRecord threw for it. */
const unsaved = new WeakMap<object, PipelineResult>();

/**
 * The evaluated, reconciled (and alerted) run behind an error auditAndRecord threw because its
 * state could not be saved, so the caller still reports it; null for any other error.
 */
export function unsavedRun(error: unknown): PipelineResult | null {
  return typeof error === 'object' && error !== null ? (unsaved.get(error) ?? null) : null;
}

/**
 * The whole nightly job: collect, evaluate, reconcile with stored state, persist, alert. The
 * Lambda handler and the command line are shells around it.
 */
export async function auditAndRecord(options: PipelineOptions): Promise<PipelineResult> {
  const result = await runAudit(options);
  const store = options.dryRun ? null : (options.store ?? null);
  // The lease comes before reading the state, so no other run writes between that read and our
  // save: what this run calls new or resolved is against the state it will overwrite. A busy
  // lease still lets the run reconcile (reading is harmless) and alert; only the save is refused.
  let lease: Lease | null = null;
  let leaseError: StoreError | null = null;
  if (store) {
    try {
      lease = await store.acquireLease(result.run.accountId, result.run.runId);
    } catch (error) {
      leaseError =
        error instanceof StoreError
          ? error
          : new StoreError(
              `could not take account ${result.run.accountId}'s write lease (${describeError(error)}); nothing was saved`,
              [],
              { cause: error },
            );
    }
  }
  try {
    return await recordRun(options, result, store, lease, leaseError);
  } finally {
    // A lease left behind ends by itself within minutes; failing to release it must not replace
    // this run's result or its real error.
    if (store && lease) await store.releaseLease(lease).catch(() => undefined);
  }
}

async function recordRun(
  options: PipelineOptions,
  result: AuditResult,
  store: FindingsRepository | null,
  lease: Lease | null,
  leaseError: StoreError | null,
): Promise<PipelineResult> {
  // What the completed runs know: a run that stopped mid-save counts for nothing.
  const known = options.store ? await options.store.loadKnown(result.run.accountId) : null;
  const previous: Map<string, StoredFinding> = known?.state ?? new Map();
  const observed = known?.observed ?? new Map<string, number>();
  const reconciled = reconcile(result, previous, options.settings.mutes, observed);

  // Publish before saving: if publishing fails, nothing is saved and a retry alerts again; saving
  // first would let the retry see the findings as known and drop the alert. The cost is a
  // possible duplicate alert when the save fails after a publish, never a lost one.
  const decision = shouldAlert(reconciled, options.settings);
  const tableOption = options.tableName ? { tableName: options.tableName } : {};
  const alert = buildAlert(reconciled, options.settings, tableOption);
  const publisher = options.dryRun ? null : (options.publisher ?? null);
  let messageId: string | null = null;
  if (decision.alert && publisher) {
    messageId = (await publisher.publish(alert)).messageId;
  }

  let saved: SaveResult | null = null;
  const outcome = (): PipelineResult => ({
    result,
    reconciled,
    saved,
    alert: { wanted: decision.alert, reason: decision.reason, alert, messageId },
  });
  try {
    if (leaseError) throw leaseError;
    if (store && lease) saved = await saveRun(store, reconciled, lease);
  } catch (error) {
    // A run whose state is not saved must say so where people look: its findings will come back
    // as new next time, and a silent failure here would read as "nothing changed".
    let failure = error;
    if (error instanceof StoreError && publisher) {
      try {
        await publisher.publish(
          buildStateNotSavedAlert(reconciled, error, { ...tableOption, ...(lease === null ? { nothingWritten: true } : {}) }),
        );
      } catch (publishError) {
        failure = new StoreError(
          `${error.message}; the alert saying so could not be published either (${describeError(publishError)})`,
          error.failedItems,
          { cause: error },
        );
      }
    }
    // The run was evaluated and alerted: its report is still the caller's to print (unsavedRun).
    if (typeof failure === 'object' && failure !== null) {
      unsaved.set(failure, { ...outcome(), ...(failure instanceof StoreError ? { notSaved: failure } : {}) });
    }
    throw failure;
  }
  const securityHub = saved && options.securityHub && !options.dryRun ? await importFindings(options, reconciled, saved, publisher) : null;
  return { ...outcome(), securityHub };
}

/**
 * Runs after the state is saved and the alert published, so a Security Hub failure never loses
 * the run: what was not imported is returned (for the summary and the metric) and alerted.
 */
async function importFindings(
  options: PipelineOptions,
  reconciled: ReconciledRun,
  saved: SaveResult,
  publisher: AlertPublisher | null,
): Promise<SecurityHubOutcome> {
  const hub = options.securityHub!;
  const now = (options.now ?? (() => new Date()))().toISOString();
  let sync: SecurityHubSyncResult;
  try {
    sync = await syncSecurityHub(reconciled, {
      client: hub.client,
      target: { partition: reconciled.run.partition, region: hub.region, now },
      skip: new Set(saved.skippedStale),
      ...(hub.sleep ? { sleep: hub.sleep } : {}),
    });
  } catch (error) {
    const { accountId, partition } = reconciled.run;
    sync = {
      region: hub.region,
      productArn: productArn({ partition, region: hub.region, accountId }),
      selected: 0,
      imported: 0,
      failed: [{ id: '(all)', code: error instanceof Error ? error.name : 'Error', message: describeError(error) }],
      archived: 0,
      workflowNew: 0,
      calls: 0,
      retried: 0,
    };
  }
  const outcome: SecurityHubOutcome = { ...sync, alertMessageId: null };
  if (sync.failed.length > 0 && publisher) {
    try {
      outcome.alertMessageId = (await publisher.publish(buildSecurityHubFailedAlert(reconciled, sync))).messageId;
    } catch (error) {
      outcome.alertError = describeError(error);
    }
  }
  return outcome;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Whole-run save attempts: a rerun of the same reconciled run is idempotent and completes a partial save. */
export const SAVE_ATTEMPTS = 3;

/**
 * Nothing else ever saves this run again (the Lambda does not retry, the CLI exits), so a partial
 * save (state written, history not) is completed here or the history items are lost for good.
 */
async function saveRun(store: FindingsRepository, reconciled: ReconciledRun, lease: Lease): Promise<SaveResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.saveRun(reconciled, { lease });
    } catch (error) {
      // Busy means the lease was lost: another run owns the state now, so saving again is wrong.
      if (!(error instanceof StoreError) || error instanceof StoreBusyError || attempt >= SAVE_ATTEMPTS) throw error;
    }
  }
}
