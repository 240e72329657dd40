import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { ReconciledRun } from '#lib/reconcile/types.ts';
import { type Alert, numberAttribute, snsAlert, stringAttribute } from './alert.ts';
import { clip, FINDINGS_COMMAND, fitSubject, subjectPrefix } from './format.ts';
import { plural } from './select.ts';

/** The `default` part of the alert sent when a run's state could not be saved. */
export interface StateNotSavedSummary {
  source: 'account-auditor';
  schemaVersion: 1;
  kind: 'state-not-saved';
  accountId: string;
  runId: string;
  trigger: string;
  origin: string;
  collectedAt: string;
  stateSaved: false;
  /** Why: the error's name and message, and the items the store named as not written. */
  error: { name: string; message: string; failedItems: string[]; moreFailedItems: number };
  /** Nothing was written at all (another run held the account's write lease). */
  nothingWritten: boolean;
  /** This run's counts, which the next run will count again. */
  counts: { new: number; regressed: number; resolved: number; open: number; errorChecks: number };
  meaning: string;
  repair: string[];
  table: string | null;
}

export interface StateNotSavedOptions {
  /** The findings table, named in the repair steps. */
  tableName?: string;
  /** The caller knows nothing was written (the lease was never taken); otherwise judged from the error. */
  nothingWritten?: boolean;
}

const MESSAGE_MAX = 1000;
const ITEM_MAX = 200;
const ITEMS_SHOWN = 10;

function errorParts(reason: unknown): { name: string; message: string; failedItems: string[] } {
  if (reason instanceof Error) {
    const items = (reason as { failedItems?: unknown }).failedItems;
    return {
      name: reason.name || 'Error',
      message: reason.message || String(reason),
      failedItems: Array.isArray(items) ? items.filter((i): i is string => typeof i === 'string') : [],
    };
  }
  return { name: 'Error', message: typeof reason === 'string' ? reason : String(reason), failedItems: [] };
}

/**
 * The alert for a run whose findings were evaluated (and alerted) but whose state could not be
 * written: what failed, what it means for the next run, and how to repair. Pure: the caller
 * publishes it (its AlertPublisher) after the save has failed for good.
 */
export function buildStateNotSavedAlert(
  run: ReconciledRun,
  reason: unknown,
  options: StateNotSavedOptions = {},
): Alert<StateNotSavedSummary> {
  const record = run.run;
  const error = errorParts(reason);
  // StoreBusyError: the lease was never taken, so not one item was written.
  const nothingWritten = options.nothingWritten ?? error.name === 'StoreBusyError';
  const table = options.tableName ?? null;
  const counts = {
    new: record.counts.new,
    regressed: record.counts.regressed,
    resolved: record.counts.resolved,
    open: record.counts.open,
    errorChecks: record.checksInError.length,
  };
  const repeated = counts.new + counts.regressed;

  const again: string[] = [];
  if (repeated > 0) again.push(`its ${plural(repeated, 'new or regressed finding')} as new again (and alert them again)`);
  if (counts.resolved > 0) again.push(`its ${plural(counts.resolved, 'resolved finding')} as resolved again`);
  const meaning = [
    `The next run compares with the state saved before this one${again.length > 0 ? `, so it may report ${again.join(', and ')}` : ''}.`,
    nothingWritten
      ? 'Nothing was written: the stored state is exactly as before this run.'
      : "Nothing stored before was lost: each write is whole and idempotent and never overwrites a newer observation (some of this run's findings may have been written before the failure).",
  ].join(' ');
  const where = table ? `DynamoDB table ${table}` : 'the state store';
  const repair = [
    nothingWritten
      ? 'Wait for the other run to finish (its lease ends within minutes); nothing needs fixing.'
      : `Fix the cause above (for example the role's write permissions on ${where}, throttling, or the table missing).`,
    'Run the audit again (account-auditor run, or invoke the function with {}): a successful save brings the state up to date.',
    `Check with \`account-auditor runs\`: the newest run listed is the last one saved (\`${FINDINGS_COMMAND}\` shows the stored findings).`,
  ];

  const summary: StateNotSavedSummary = {
    source: 'account-auditor',
    schemaVersion: 1,
    kind: 'state-not-saved',
    accountId: record.accountId,
    runId: record.runId,
    trigger: record.trigger,
    origin: clip(record.origin, ITEM_MAX),
    collectedAt: record.collectedAt,
    stateSaved: false,
    error: {
      name: clip(error.name, ITEM_MAX),
      message: clip(error.message, MESSAGE_MAX),
      failedItems: error.failedItems.slice(0, ITEMS_SHOWN).map((i) => clip(i, ITEM_MAX)),
      moreFailedItems: Math.max(0, error.failedItems.length - ITEMS_SHOWN),
    },
    nothingWritten,
    counts,
    meaning,
    repair,
    table,
  };

  const lines = [
    `account-auditor: account ${summary.accountId}`,
    `Run ${summary.runId} (${summary.trigger}, ${summary.origin}), observed ${summary.collectedAt}`,
    '',
    `STATE NOT SAVED: ${summary.error.name}: ${summary.error.message}`,
  ];
  if (summary.error.failedItems.length > 0) {
    lines.push(
      `Not written (${error.failedItems.length}): ${summary.error.failedItems.join('; ')}${summary.error.moreFailedItems > 0 ? `; and ${summary.error.moreFailedItems} more` : ''}`,
    );
  }
  lines.push(
    `This run: ${counts.new} new, ${counts.regressed} regressed, ${counts.resolved} resolved, ${counts.open} open, ${plural(counts.errorChecks, 'check')} in ERROR.`,
    '',
    `What this means: ${meaning}`,
    '',
    'To repair:',
    ...repair.map((step, i) => `  ${i + 1}. ${step}`),
  );
  const email = lines.join('\n');

  const subject = fitSubject(
    subjectPrefix(summary.accountId),
    repeated > 0 ? [`run state NOT saved, next run repeats ${repeated} new`, 'run state NOT saved'] : ['run state NOT saved'],
  );

  const attributes: Record<string, MessageAttributeValue> = {
    alertType: stringAttribute('state-not-saved'),
    accountId: stringAttribute(summary.accountId || 'unknown'),
    // An operational failure that will repeat alerts: high, so a filter keeping high alerts keeps it.
    highestSeverity: stringAttribute('high'),
    stateSaved: stringAttribute('false'),
    newCount: numberAttribute(counts.new + counts.regressed),
    regressedCount: numberAttribute(counts.regressed),
    openCount: numberAttribute(counts.open),
    resolvedCount: numberAttribute(counts.resolved),
    errorChecks: numberAttribute(counts.errorChecks),
    complete: stringAttribute(String(record.complete)),
  };

  return snsAlert({ subject, attributes, email, summary });
}
