import type { AuditResult } from '#lib/model/run.ts';
import type { Finding, Status } from '#lib/model/finding.ts';
import type { MuteEntry } from '#lib/settings.ts';
import { findMute } from './mutes.ts';
import type { Scope } from './scope.ts';
import { coveredScopes, scopeOf } from './scope.ts';
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

/**
 * Compares one run's findings with the state stored by earlier runs of the same account.
 *
 * A stored finding absent from this run is resolved only when this run could have seen it:
 * its check ran, ended without ERROR (a check in ERROR resolves nothing), and, for a regional
 * resource, its region was audited. Anything else keeps its stored state untouched.
 *
 * `observed` is, per scope, the latest observation time (epoch ms) of a stored run that covered
 * it (FindingsStore.loadObserved): a finding with no stored state in a scope a newer run covered
 * was compliant or absent then, so this run is stale for it.
 */
export function reconcile(
  result: AuditResult,
  previous: ReadonlyMap<string, StoredFinding>,
  mutes: readonly MuteEntry[],
  observed: ReadonlyMap<Scope, number> = new Map(),
): ReconciledRun {
  const { run } = result;
  const at = run.collectedAt;
  const atMs = Date.parse(at);
  const reconciled: ReconciledFinding[] = [];
  const seen = new Set<string>();

  // State stored by a run that observed the account later than this one: this run is stale for
  // that finding. The store will not overwrite it, and this run must not call it new, resolved
  // or regressed either (re-auditing an old export, or an on-demand run overlapping the nightly).
  const newer = (prev: StoredFinding) => prev.lastSeen > at || (prev.resolvedAt !== null && prev.resolvedAt > at);
  const seenLater = (f: Finding) => (observed.get(scopeOf(f)) ?? Number.NEGATIVE_INFINITY) > atMs;

  for (const finding of result.findings) {
    seen.add(finding.id);
    const prev = previous.get(finding.id);
    const mute = findMute(finding, mutes, at);
    // Also for a stored finding: a newer run that covered its scope saw it (or saw it gone) later,
    // even when it had nothing to rewrite (already resolved).
    const stale = (prev !== undefined && newer(prev)) || seenLater(finding);
    let change = stale ? 'unchanged' : changeFor(prev, finding.status);
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

  const covered = coveredScopes(run);
  const inScope = (f: Finding): boolean => covered.has(scopeOf(f));
  let openOutOfScope = 0;
  for (const prev of previous.values()) {
    if (seen.has(prev.id) || prev.resolvedAt !== null || newer(prev) || seenLater(prev)) continue;
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
