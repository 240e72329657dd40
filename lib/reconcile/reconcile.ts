import type { AuditResult } from '#lib/model/run.ts';
import type { Finding, Status } from '#lib/model/finding.ts';
import type { MuteEntry } from '#lib/settings.ts';
import { findMute } from './mutes.ts';
import type { Scope } from './scope.ts';
import { coveredScopes, scopeOf } from './scope.ts';
import type { Change, ReconciledFinding, ReconciledRun, StoredFinding } from './types.ts';
import { isOpen } from './types.ts';

const ALERTABLE: ReadonlySet<Status> = new Set(['FAIL', 'ERROR']);

/**
 * Whether a run observed at `at` is older than what the completed runs know of a finding: one
 * observed it later (its stored lastSeen, or resolvedAt for a finding resolved by absence, is
 * later), or covered its scope later (`observed`, FindingsStore.loadObserved) and so saw it, or
 * saw it gone. Decided here only: reconcile calls such a finding unchanged, and the store, holding
 * the lease this state was read under, leaves it as it is (re-auditing an old export, or an
 * on-demand run overlapping the nightly).
 */
export function isStale(
  finding: Pick<Finding, 'checkId' | 'resource'>,
  previous: StoredFinding | undefined,
  observed: ReadonlyMap<Scope, number>,
  at: string,
): boolean {
  if (previous !== undefined && (previous.lastSeen > at || (previous.resolvedAt !== null && previous.resolvedAt > at))) return true;
  return (observed.get(scopeOf(finding)) ?? Number.NEGATIVE_INFINITY) > Date.parse(at);
}

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
  const reconciled: ReconciledFinding[] = [];
  const seen = new Set<string>();

  for (const finding of result.findings) {
    seen.add(finding.id);
    const prev = previous.get(finding.id);
    const mute = findMute(finding, mutes, at);
    // Also for a stored finding: a newer run that covered its scope saw it (or saw it gone) later,
    // even when it had nothing to rewrite (already resolved).
    const stale = isStale(finding, prev, observed, at);
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
    reconciled.push({ finding, change, previousStatus: prev?.status ?? null, previousSeverity: prev?.severity ?? null, state, stale });
  }

  const covered = coveredScopes(run);
  const inScope = (f: Finding): boolean => covered.has(scopeOf(f));
  let openOutOfScope = 0;
  for (const prev of previous.values()) {
    if (seen.has(prev.id) || prev.resolvedAt !== null || isStale(prev, prev, observed, at)) continue;
    if (!inScope(prev)) {
      if (isOpen(prev)) openOutOfScope += 1;
      continue;
    }
    // Gone from a run that would have seen it (key deleted, user removed, cluster gone).
    const wasOpen = isOpen(prev);
    reconciled.push({
      finding: null,
      change: wasOpen ? 'resolved' : 'unchanged',
      previousStatus: prev.status,
      previousSeverity: prev.severity,
      state: { ...prev, resolvedAt: at, lastChanged: wasOpen ? at : prev.lastChanged, runId: run.runId },
      stale: false,
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
