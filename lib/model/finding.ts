import type { CheckId } from '#lib/checks/catalogue.ts';

export type Status = 'PASS' | 'FAIL' | 'WARN' | 'ERROR';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'informational';

export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'informational'];
export const STATUSES: readonly Status[] = ['FAIL', 'ERROR', 'WARN', 'PASS'];

/** Higher is worse; used to sort and to compare against a threshold. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(severity);
}

/** One step lower, used for conditional grants; informational is the floor. */
export function lowerSeverity(severity: Severity): Severity {
  const next = SEVERITIES[SEVERITIES.indexOf(severity) + 1];
  return next ?? 'informational';
}

export interface Finding {
  /** `<accountId>#<checkId>#<resource>`: stable across runs and statuses. */
  id: string;
  accountId: string;
  checkId: CheckId;
  /** An ARN, or an ARN plus `#<key slot>`; check-wide ERRORs use a wildcard ARN for their scope. */
  resource: string;
  status: Status;
  severity: Severity;
  /** One line that says what is wrong (or right) about this resource. */
  title: string;
  /** Structured facts behind the title (paths, ages, conditions, the failed call). */
  details: Record<string, unknown>;
}

export function findingId(accountId: string, checkId: CheckId, resource: string): string {
  return `${accountId}#${checkId}#${resource}`;
}

/** Builds a finding with its identity derived from account, check and resource. */
export function makeFinding(
  inventory: { accountId: string },
  checkId: CheckId,
  fields: Omit<Finding, 'id' | 'accountId' | 'checkId'>,
): Finding {
  return {
    id: findingId(inventory.accountId, checkId, fields.resource),
    accountId: inventory.accountId,
    checkId,
    ...fields,
  };
}

/**
 * The ERROR finding for a scope a check could not evaluate: it names the call (or file) that
 * failed and why, so the reader knows which permission or export is missing.
 */
export function errorFinding(
  inventory: { accountId: string },
  check: { id: CheckId; severity: Severity },
  resource: string,
  source: { call: string; reason: string; code?: string },
  what = 'could not be evaluated',
): Finding {
  return makeFinding(inventory, check.id, {
    resource,
    status: 'ERROR',
    severity: check.severity,
    title: `${what}: ${source.call} failed${source.code ? ` (${source.code})` : ''}`,
    details: { call: source.call, reason: source.reason, ...(source.code ? { code: source.code } : {}) },
  });
}
