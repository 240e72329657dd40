import { BatchImportFindingsCommand, type AwsSecurityFinding, type SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { ReconciledRun } from '#lib/reconcile/types.ts';
import { AsffValidationError, type AsffFinding, type AsffTarget, type ExportedFinding, productArn, toValidAsff } from '#lib/export/asff.ts';

/** BatchImportFindings takes at most 100 findings a call. */
export const BATCH_SIZE = 100;
/** Security Hub's rate for BatchImportFindings: 10 calls a second (burst 30); calls are spaced to stay under it. */
export const MIN_CALL_SPACING_MS = 100;
/** Rounds of re-sending findings Security Hub failed with a retryable code, after the first call. */
export const FAILED_FINDING_RETRIES = 3;

/** FailedFindings codes worth sending again: throttling and Security Hub's own transient faults. */
const RETRYABLE = /throttl|toomanyrequests|limitexceeded|internal|serviceunavailable|unavailable|timeout|timedout/i;

export interface SecurityHubFailure {
  id: string;
  code: string;
  message: string;
}

export interface SecurityHubSyncResult {
  region: string;
  productArn: string;
  /** Findings chosen to send (open ones seen by this run, and those it resolved). */
  selected: number;
  imported: number;
  /** Findings Security Hub (or the validator) refused for good, each with its code and message. */
  failed: SecurityHubFailure[];
  /** Of those sent: how many went as ARCHIVED (resolved by this run), and how many carried Workflow NEW. */
  archived: number;
  workflowNew: number;
  calls: number;
  /** Findings sent again after a retryable FailedFindings entry. */
  retried: number;
}

export interface SyncOptions {
  client: SecurityHubClient;
  target: Omit<AsffTarget, 'accountId'>;
  /** Finding IDs the save skipped because a newer run stored them: sending this run's view would be older. */
  skip?: ReadonlySet<string>;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What a run sends: every finding it saw FAIL, WARN or ERROR, and every finding it resolved.
 * Reconcile resolves only inside the run's covered scopes (checks that ran without ERROR, regions
 * audited), so a narrowed run archives nothing outside them; a PASS that was never open is not sent.
 */
export function selectForSecurityHub(reconciled: ReconciledRun, skip: ReadonlySet<string> = new Set()): ExportedFinding[] {
  const { runId } = reconciled.run;
  return reconciled.findings
    .filter((r) => !skip.has(r.state.id) && r.state.runId === runId)
    .filter(
      (r) =>
        r.change === 'resolved' ||
        (r.state.status !== 'PASS' && r.state.resolvedAt === null && r.state.lastSeen === reconciled.run.collectedAt),
    )
    .map((r) => ({ state: r.state, change: r.change }));
}

function describe(error: unknown): { code: string; message: string } {
  const e = error as { name?: string; message?: string };
  return { code: e?.name || 'Error', message: e?.message || String(error) };
}

/**
 * Imports a saved run's findings into Security Hub, 100 a call. Throttled calls are retried by the
 * client's retry strategy (maxAttempts, retryMode); FailedFindings are handled one by one: a
 * retryable code is sent again (up to FAILED_FINDING_RETRIES rounds, with backoff), anything else
 * is reported. Never throws for Security Hub's sake: every finding not imported is in `failed`.
 */
export async function syncSecurityHub(reconciled: ReconciledRun, options: SyncOptions): Promise<SecurityHubSyncResult> {
  const sleep = options.sleep ?? defaultSleep;
  const target: AsffTarget = { ...options.target, accountId: reconciled.run.accountId };
  const selected = selectForSecurityHub(reconciled, options.skip);
  const result: SecurityHubSyncResult = {
    region: target.region,
    productArn: productArn(target),
    selected: selected.length,
    imported: 0,
    failed: [],
    archived: 0,
    workflowNew: 0,
    calls: 0,
    retried: 0,
  };

  let pending: AsffFinding[] = [];
  for (const item of selected) {
    try {
      pending.push(toValidAsff(item, target));
    } catch (error) {
      if (!(error instanceof AsffValidationError)) throw error;
      result.failed.push({ id: item.state.id, code: 'ValidationFailed', message: error.message });
    }
  }
  const archivedIds = new Set(pending.filter((f) => f.RecordState === 'ARCHIVED').map((f) => f.Id));
  const workflowIds = new Set(pending.filter((f) => f.Workflow?.Status === 'NEW').map((f) => f.Id));
  const imported = new Set<string>();

  let lastCall = Number.NEGATIVE_INFINITY;
  for (let round = 0; round <= FAILED_FINDING_RETRIES && pending.length > 0; round++) {
    if (round > 0) await sleep(200 * 2 ** (round - 1));
    const retry: AsffFinding[] = [];
    for (let i = 0; i < pending.length; i += BATCH_SIZE) {
      const batch = pending.slice(i, i + BATCH_SIZE);
      const wait = lastCall + MIN_CALL_SPACING_MS - Date.now();
      if (wait > 0) await sleep(wait);
      lastCall = Date.now();
      result.calls += 1;
      let failedFindings: { Id?: string; ErrorCode?: string; ErrorMessage?: string }[];
      try {
        const output = await options.client.send(new BatchImportFindingsCommand({ Findings: batch as unknown as AwsSecurityFinding[] }));
        failedFindings = output.FailedFindings ?? [];
      } catch (error) {
        // The client already retried throttling and transient faults: the whole batch is refused.
        const { code, message } = describe(error);
        for (const f of batch) result.failed.push({ id: f.Id, code, message });
        continue;
      }
      const failedById = new Map(failedFindings.map((ff) => [ff.Id ?? '', ff]));
      for (const f of batch) {
        const ff = failedById.get(f.Id);
        if (!ff) {
          imported.add(f.Id);
          continue;
        }
        const code = ff.ErrorCode ?? 'Unknown';
        if (RETRYABLE.test(code) && round < FAILED_FINDING_RETRIES) retry.push(f);
        else result.failed.push({ id: f.Id, code, message: ff.ErrorMessage ?? '' });
      }
      // A FailedFindings entry naming no finding of the batch still says something was refused.
      for (const [id, ff] of failedById) {
        if (!batch.some((f) => f.Id === id))
          result.failed.push({ id: id || '(no Id)', code: ff.ErrorCode ?? 'Unknown', message: ff.ErrorMessage ?? '' });
      }
    }
    result.retried += retry.length;
    pending = retry;
  }
  result.imported = imported.size;
  result.archived = [...imported].filter((id) => archivedIds.has(id)).length;
  result.workflowNew = [...imported].filter((id) => workflowIds.has(id)).length;
  return result;
}
