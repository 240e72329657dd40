import type { Finding } from '#lib/model/finding.ts';
import type { RunSummary } from '#lib/model/run.ts';

/**
 * A scope is what one run can vouch for: a check over the global resources (IAM), or a check in
 * one region. A run that ran a check without ERROR saw every resource of the check's scopes, so
 * a resource missing from it is gone (or compliant), and an older run must not contradict it.
 */
export type Scope = string;

/** The region of a regional ARN (`arn:aws:dax:eu-west-1:…`), or null for global ones (IAM). */
function regionOf(resource: string): string | null {
  const parts = resource.split(':');
  return parts[0] === 'arn' && parts[3] ? parts[3] : null;
}

export function scopeOf(finding: Pick<Finding, 'checkId' | 'resource'>): Scope {
  const region = regionOf(finding.resource);
  return region === null ? finding.checkId : `${finding.checkId}@${region}`;
}

/**
 * The scopes a run covered: each check that ended without ERROR, globally and in each audited
 * region (a regional check also has account-level findings, on global ARNs).
 */
export function coveredScopes(run: Pick<RunSummary, 'checks' | 'checksInError' | 'regions'>): Set<Scope> {
  const failed = new Set(run.checksInError.map((c) => c.checkId));
  const scopes = new Set<Scope>();
  for (const checkId of run.checks) {
    if (failed.has(checkId)) continue;
    scopes.add(checkId);
    for (const region of run.regions) scopes.add(`${checkId}@${region}`);
  }
  return scopes;
}
