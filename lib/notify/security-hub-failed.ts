import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { ReconciledRun } from '#lib/reconcile/types.ts';
import type { SecurityHubSyncResult } from '#lib/securityhub/sync.ts';
import { type Alert, numberAttribute, snsAlert, stringAttribute } from './alert.ts';
import { clip, fitSubject, subjectPrefix } from './format.ts';
import { plural } from './select.ts';

/** The `default` part of the alert sent when some of a saved run's findings did not reach Security Hub. */
export interface SecurityHubFailedSummary {
  source: 'account-auditor';
  schemaVersion: 1;
  kind: 'security-hub-failed';
  accountId: string;
  runId: string;
  collectedAt: string;
  /** The run itself is saved and its findings alert was published before the import. */
  stateSaved: true;
  productArn: string;
  selected: number;
  imported: number;
  failedCount: number;
  failed: { id: string; code: string; message: string }[];
  moreFailed: number;
  repair: string[];
}

const SHOWN = 20;
const TEXT_MAX = 300;

/**
 * The alert for a saved run whose Security Hub import left findings out: which ones, with
 * Security Hub's error code, and how to catch up. The next run sends every open finding again.
 */
export function buildSecurityHubFailedAlert(run: ReconciledRun, sync: SecurityHubSyncResult): Alert<SecurityHubFailedSummary> {
  const record = run.run;
  const summary: SecurityHubFailedSummary = {
    source: 'account-auditor',
    schemaVersion: 1,
    kind: 'security-hub-failed',
    accountId: record.accountId,
    runId: record.runId,
    collectedAt: record.collectedAt,
    stateSaved: true,
    productArn: sync.productArn,
    selected: sync.selected,
    imported: sync.imported,
    failedCount: sync.failed.length,
    failed: sync.failed
      .slice(0, SHOWN)
      .map((f) => ({ id: clip(f.id, TEXT_MAX), code: clip(f.code, 100), message: clip(f.message, TEXT_MAX) })),
    moreFailed: Math.max(0, sync.failed.length - SHOWN),
    repair: [
      'The run is saved and its findings alert went out; only the Security Hub copy is behind.',
      'Fix the cause above (securityhub:BatchImportFindings on the default product, Security Hub enabled in this region, or the finding the validator named).',
      'The next run sends every open finding again; a resolved finding that failed stays ACTIVE in Security Hub until you archive it there.',
    ],
  };
  const lines = [
    `account-auditor: account ${summary.accountId}`,
    `Run ${summary.runId}, observed ${summary.collectedAt}: saved and alerted.`,
    '',
    `SECURITY HUB: ${plural(summary.failedCount, 'finding')} of ${summary.selected} not imported into ${summary.productArn} (${summary.imported} imported).`,
    ...summary.failed.map((f) => `  - ${f.id}: ${f.code}${f.message ? `: ${f.message}` : ''}`),
    ...(summary.moreFailed > 0 ? [`  … and ${summary.moreFailed} more`] : []),
    '',
    ...summary.repair,
  ];
  const email = lines.join('\n');
  const attributes: Record<string, MessageAttributeValue> = {
    alertType: stringAttribute('security-hub-failed'),
    accountId: stringAttribute(summary.accountId || 'unknown'),
    highestSeverity: stringAttribute('high'),
    failedCount: numberAttribute(summary.failedCount),
  };
  return snsAlert({
    subject: fitSubject(subjectPrefix(summary.accountId), [
      `${summary.failedCount} findings NOT imported into Security Hub`,
      'Security Hub import failed',
    ]),
    attributes,
    email,
    summary,
  });
}
