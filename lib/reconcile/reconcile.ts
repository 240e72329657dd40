import type { AuditResult } from '#lib/audit/run.ts';
import type { Finding, Status } from '#lib/checks/types.ts';
import type { MuteEntry } from '#lib/settings.ts';
import { findMute } from './mutes.ts';
import type { Change, ReconciledFinding, ReconciledRun, StoredFinding } from './types.ts';
import { isOpen } from './types.ts';

const ALERTABLE: ReadonlySet<Status> = new Set(['FAIL', 'ERROR']);

function changeFor(previous: StoredFinding | undefined, status: Status): Change {
  if (!previous) return status === 'PASS' ? 'unchanged' : 'new';
  const wasOpen = isOpen(previous);
  if (status === 'PASS') return wasOpen ? 'resolved' : 'unchanged';
  if (!wasOpen) return 'regressed';
  return previous.status === 'WARN' && ALERTABLE.has(status) ? 'regressed' : 'open';
}

/** The region of a regional ARN (`arn:aws:dax:eu-west-1:…`), or null for global ones (IAM). */
function regionOf(resource: string): string | null {
  const parts = resource.split(':');
  return parts[0] === 'arn' && parts[3] ? parts[3] : null;
}

/**
 * Compares one run's findings with the state stored by earlier runs of the same account.
 *
 * A stored finding absent from this run is resolved only when this run could have seen it:
 * its check ran, ended without ERROR (a check in ERROR resolves nothing), and, for a regional
 * resource, its region was audited. Anything else keeps its stored state untouched.
 */
export function reconcile(result: AuditResult, previous: ReadonlyMap<string, StoredFinding>, mutes: readonly MuteEntry[]): ReconciledRun {
  const { run } = result;
  const at = run.collectedAt;
  const reconciled: ReconciledFinding[] = [];
  const seen = new Set<string>();

  // State stored by a run that observed the account later than this one: this run is stale for
  // that finding. The store will not overwrite it, and this run must not call it new, resolved
  // or regressed either (re-auditing an old export, or an on-demand run overlapping the nightly).
  const newer = (prev: StoredFinding) => prev.lastSeen > at || (prev.resolvedAt !== null && prev.resolvedAt > at);

  for (const finding of result.findings) {
    seen.add(finding.id);
    const prev = previous.get(finding.id);
    const mute = findMute(finding, mutes, at);
    let change = prev && newer(prev) ? 'unchanged' : changeFor(prev, finding.status);
    // A mute that ended on a still-failing finding: it must alert again, as if it had just appeared.
    if (change === 'open' && prev?.mute && !mute && ALERTABLE.has(finding.status)) change = 'regressed';
    const reopened = prev !== undefined && prev.resolvedAt !== null && finding.status !== 'PASS';
    const statusChanged = !prev || prev.status !== finding.status || reopened || change === 'resolved';
    const state: StoredFinding = {
      ...finding,
      firstSeen: prev?.firstSeen ?? at,
      lastSeen: at,
      lastChanged: statusChanged ? at : prev.lastChanged,
      resolvedAt: finding.status !== 'PASS' ? null : change === 'resolved' ? at : (prev?.resolvedAt ?? null),
      runId: run.runId,
      mute,
    };
    reconciled.push({ change, previousStatus: prev?.status ?? null, previousSeverity: prev?.severity ?? null, state });
  }

  const failedChecks = new Set(run.checksInError.map((c) => c.checkId));
  const inScope = (f: Finding): boolean => {
    const region = regionOf(f.resource);
    return run.checks.includes(f.checkId) && !failedChecks.has(f.checkId) && (region === null || run.regions.includes(region));
  };
  let openOutOfScope = 0;
  for (const prev of previous.values()) {
    if (seen.has(prev.id) || prev.resolvedAt !== null || newer(prev)) continue;
    if (!inScope(prev)) {
      if (isOpen(prev)) openOutOfScope += 1;
      continue;
    }
    // Gone from a run that would have seen it (key deleted, user removed, cluster gone).
    const wasOpen = isOpen(prev);
    reconciled.push({
      change: wasOpen ? 'resolved' : 'unchanged',
      previousStatus: prev.status,
      previousSeverity: prev.severity,
      state: { ...prev, resolvedAt: at, lastChanged: wasOpen ? at : prev.lastChanged, runId: run.runId },
    });
  }

  const count = (change: Change) => reconciled.filter((r) => r.change === change).length;
  const open = reconciled.filter((r) => isOpen(r.state));
  return {
    run: {
      ...run,
      counts: {
        ...run.counts,
        new: count('new'),
        regressed: count('regressed'),
        resolved: count('resolved'),
        open: open.length + openOutOfScope,
        muted: open.filter((r) => r.state.mute !== null).length,
      },
    },
    findings: reconciled,
  };
}
