import type { Inventory } from '#lib/inventory/types.ts';
import type { Finding } from '#lib/model/finding.ts';
import { makeFinding } from '#lib/model/finding.ts';
import { rootArn } from '#lib/model/arn.ts';
import { describeKey, slotHoldsKey } from '../support/key-facts.ts';

const ID = 'root-access-key' as const;

/**
 * Two sources, and neither is enough alone: the credential report tells active from inactive
 * but can be 4 hours old; GetAccountSummary is real-time but only says "a key exists". The
 * summary wins on presence, the report tells activity.
 */
export function evaluate(inventory: Inventory): Finding[] {
  const { accountSummary: summary, credentialReport: report } = inventory;
  const resource = rootArn(inventory);
  const finding = (fields: Omit<Finding, 'id' | 'accountId' | 'checkId' | 'resource'>) =>
    makeFinding(inventory, ID, { resource, ...fields });

  if (summary.state !== 'read' && report.state !== 'read') {
    return [
      finding({
        status: 'ERROR',
        severity: 'critical',
        title: `could not be evaluated: ${summary.call} and ${report.call} both failed`,
        details: {
          failures: [
            { call: summary.call, reason: summary.reason, code: summary.code },
            { call: report.call, reason: report.reason, code: report.code },
          ],
        },
      }),
    ];
  }

  const rootRow = report.state === 'read' ? report.data.rows.find((r) => r.isRoot) : undefined;
  const reportKeys = rootRow ? rootRow.keys.filter(slotHoldsKey) : null;
  const activeInReport = reportKeys?.filter((k) => k.active) ?? [];
  const presentNow = summary.state === 'read' ? summary.data.accountAccessKeysPresent > 0 : null;

  const details: Record<string, unknown> = {
    keys: (reportKeys ?? []).map((k) => describeKey(k, inventory.collectedAt)),
    accountAccessKeysPresent: summary.state === 'read' ? summary.data.accountAccessKeysPresent : null,
    reportGeneratedAt: report.state === 'read' ? report.data.generatedAt : null,
  };
  if (summary.state !== 'read') details.summaryUnread = { call: summary.call, reason: summary.reason, code: summary.code };
  if (report.state !== 'read') details.reportUnread = { call: report.call, reason: report.reason, code: report.code };
  else if (!rootRow) details.reportUnread = { reason: 'the credential report has no <root_account> row' };

  // Report unusable: only the summary speaks. A present key of unknown state is treated as active.
  if (reportKeys === null) {
    // Neither source says anything about root keys: a report without its root row is no evidence.
    if (summary.state !== 'read') {
      return [
        finding({
          status: 'ERROR',
          severity: 'critical',
          title: `could not be evaluated: ${summary.call} failed${summary.code ? ` (${summary.code})` : ''} and the credential report has no root row`,
          details,
        }),
      ];
    }
    if (presentNow) {
      return [
        finding({
          status: 'FAIL',
          severity: 'critical',
          title: 'the root user has an access key (its state is unknown: the credential report could not be read)',
          details,
        }),
      ];
    }
    return [finding({ status: 'PASS', severity: 'informational', title: 'the root user has no access key', details })];
  }

  // The summary says no key but the report shows one: deleted since the report was generated.
  if (presentNow === false) {
    if (reportKeys.length > 0) {
      details.disagreement = `the credential report (generated ${details.reportGeneratedAt ?? 'at an unknown time'}) still lists ${reportKeys.length} root key(s); the real-time account summary shows none, so they were deleted since`;
    }
    return [finding({ status: 'PASS', severity: 'informational', title: 'the root user has no access key', details })];
  }

  if (activeInReport.length > 0) {
    return [
      finding({
        status: 'FAIL',
        severity: 'critical',
        title: `the root user has ${activeInReport.length === 1 ? 'an active access key' : `${activeInReport.length} active access keys`}`,
        details,
      }),
    ];
  }

  if (reportKeys.length > 0) {
    return [
      finding({
        status: 'FAIL',
        severity: 'high',
        title: 'the root user has an inactive access key: delete it, deactivating is not enough',
        details,
      }),
    ];
  }

  // The summary says a key exists but the report shows none: created after the report. New keys start active.
  if (presentNow === true) {
    details.disagreement = `the real-time account summary shows a root access key that the credential report (generated ${details.reportGeneratedAt ?? 'at an unknown time'}) does not list: it was created since, and new keys are active`;
    return [
      finding({
        status: 'FAIL',
        severity: 'critical',
        title: 'the root user has an access key created after the last credential report',
        details,
      }),
    ];
  }

  // The report alone can be 4 hours old: it cannot rule out a key created since, so no PASS on it.
  if (summary.state !== 'read') {
    return [
      finding({
        status: 'ERROR',
        severity: 'critical',
        title: `the credential report shows no root key, but ${summary.call} failed${summary.code ? ` (${summary.code})` : ''}, so a key created since the report cannot be ruled out`,
        details,
      }),
    ];
  }
  return [finding({ status: 'PASS', severity: 'informational', title: 'the root user has no access key', details })];
}
