import type { Severity, Status } from '#lib/model/finding.ts';
import { SEVERITIES, severityRank } from '#lib/model/finding.ts';
import { CHECKS } from '#lib/checks/catalogue.ts';
import type { SourceReport } from '#lib/model/run.ts';
import type { ReconciledFinding, ReconciledRun } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import type { Settings } from '#lib/settings.ts';

export type AlertSettings = Pick<Settings, 'alertOn' | 'minAlertSeverity'>;

/** What a run has to say, split the way the alert lists it; every list sorted worst first. */
export interface Selection {
  /** Never seen before, FAIL at or above the threshold or ERROR, not muted. */
  new: ReconciledFinding[];
  /** Failing again (was PASS, resolved or WARN), same filter. */
  regressed: ReconciledFinding[];
  /** Open before and still open, same filter. */
  stillOpen: ReconciledFinding[];
  /** Fixed this run: was FAIL (at or above the threshold) or ERROR, not muted. */
  resolved: ReconciledFinding[];
  /** Open and muted: counted so the reader knows they exist, never listed. */
  muted: number;
  /** Open WARN findings: a heads-up, not an alert trigger, counted but not listed. */
  warnings: number;
  /** Open FAIL findings below minAlertSeverity: counted but not listed. */
  belowThreshold: number;
  unreadSources: SourceReport[];
}

const CHECK_ORDER = new Map<string, number>(CHECKS.map((c, i) => [c.id, i]));
const CHECK_SEVERITY = new Map<string, Severity>(CHECKS.map((c) => [c.id, c.severity]));

/** Most severe first, then check (in the reports' order), then resource; the ID keeps it total. */
export function compareForAlert(a: ReconciledFinding, b: ReconciledFinding): number {
  const x = a.state;
  const y = b.state;
  return (
    severityRank(y.severity) - severityRank(x.severity) ||
    (CHECK_ORDER.get(x.checkId) ?? CHECK_ORDER.size) - (CHECK_ORDER.get(y.checkId) ?? CHECK_ORDER.size) ||
    (x.checkId < y.checkId ? -1 : x.checkId > y.checkId ? 1 : 0) ||
    (x.resource < y.resource ? -1 : x.resource > y.resource ? 1 : 0) ||
    (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  );
}

/** FAIL at or above the threshold, or ERROR at any severity: an auditor that cannot audit must say so. */
function alertable(status: Status, severity: Severity, threshold: number): boolean {
  return status === 'ERROR' || (status === 'FAIL' && severityRank(severity) >= threshold);
}

export function select(run: ReconciledRun, settings: AlertSettings): Selection {
  const threshold = severityRank(settings.minAlertSeverity);
  const selection: Selection = {
    new: [],
    regressed: [],
    stillOpen: [],
    resolved: [],
    muted: 0,
    warnings: 0,
    belowThreshold: 0,
    unreadSources: run.run.sources.filter((s) => s.state === 'unread'),
  };
  for (const f of run.findings) {
    const { state } = f;
    if (f.change === 'resolved') {
      // A resolved finding keeps its last open status when it vanished; one fixed to PASS does not.
      const was = f.previousStatus ?? state.status;
      if (state.mute === null && alertable(was, f.previousSeverity ?? state.severity, threshold)) selection.resolved.push(f);
      continue;
    }
    if (f.change === 'unchanged' || !isOpen(state)) continue;
    if (state.mute !== null) {
      selection.muted += 1;
      continue;
    }
    if (state.status === 'WARN') {
      selection.warnings += 1;
      continue;
    }
    if (!alertable(state.status, state.severity, threshold)) {
      selection.belowThreshold += 1;
      continue;
    }
    if (f.change === 'new') selection.new.push(f);
    else if (f.change === 'regressed') selection.regressed.push(f);
    else selection.stillOpen.push(f);
  }
  selection.new.sort(compareForAlert);
  selection.regressed.sort(compareForAlert);
  selection.stillOpen.sort(compareForAlert);
  selection.resolved.sort(compareForAlert);
  return selection;
}

function worst(severities: Iterable<Severity>): Severity | null {
  let best: Severity | null = null;
  for (const s of severities) if (best === null || severityRank(s) > severityRank(best)) best = s;
  return best;
}

/**
 * The severity subscription filter policies match on. It covers the findings that triggered the
 * alert, and always the checks in ERROR, so a filter on `highestSeverity` cannot drop an ERROR
 * alert that persists from night to night (it is `open`, not `new`).
 */
export function highestSeverity(run: ReconciledRun, selection: Selection, settings: AlertSettings): Severity | 'none' {
  const triggering = [...selection.new, ...selection.regressed];
  const stillOpen = settings.alertOn === 'open' ? selection.stillOpen : selection.stillOpen.filter((f) => f.state.status === 'ERROR');
  const fromChecks = run.run.checksInError.map((c) => CHECK_SEVERITY.get(c.checkId)).filter((s): s is Severity => s !== undefined);
  return worst([...triggering, ...stillOpen].map((f) => f.state.severity).concat(fromChecks)) ?? 'none';
}

export function countBySeverity(findings: readonly ReconciledFinding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.state.severity] += 1;
  return counts;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function names(values: readonly string[], max = 5): string {
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown} and ${values.length - max} more` : shown;
}

/**
 * Whether this run is worth a message, and why (the reason goes into the alert and the logs).
 * A check in ERROR, an ERROR finding or a source that could not be read alert in every mode;
 * muted findings never do.
 */
export function decide(run: ReconciledRun, selection: Selection, settings: AlertSettings): { alert: boolean; reason: string } {
  const reasons: string[] = [];
  const { checksInError } = run.run;
  if (checksInError.length > 0) {
    reasons.push(`${plural(checksInError.length, 'check')} in ERROR (${names(checksInError.map((c) => c.checkId))})`);
  } else {
    const errors = [...selection.new, ...selection.regressed, ...selection.stillOpen].filter((f) => f.state.status === 'ERROR');
    if (errors.length > 0) reasons.push(`${plural(errors.length, 'ERROR finding')}`);
  }
  if (selection.unreadSources.length > 0) {
    reasons.push(
      `incomplete run: ${plural(selection.unreadSources.length, 'source')} not read (${names(selection.unreadSources.map((s) => s.source))})`,
    );
  } else if (!run.run.complete && reasons.length === 0) {
    reasons.push('incomplete run');
  }

  const threshold = settings.minAlertSeverity;
  const newOrRegressed = selection.new.length + selection.regressed.length;
  const openFail = [...selection.new, ...selection.regressed, ...selection.stillOpen].filter((f) => f.state.status === 'FAIL').length;
  if (settings.alertOn === 'always') {
    reasons.push('alertOn always: a digest of every run');
  } else if (settings.alertOn === 'open') {
    if (openFail > 0) reasons.push(`${plural(openFail, 'open FAIL finding')} at or above ${threshold}`);
  } else if (newOrRegressed > 0) {
    reasons.push(`${plural(newOrRegressed, 'new or regressed FAIL/ERROR finding')} at or above ${threshold}`);
  }
  if (reasons.length > 0) return { alert: true, reason: reasons.join('; ') };

  const quiet: string[] = [];
  if (selection.stillOpen.length > 0) quiet.push(`${selection.stillOpen.length} still open`);
  if (selection.resolved.length > 0) quiet.push(`${selection.resolved.length} resolved`);
  if (selection.muted > 0) quiet.push(`${selection.muted} muted`);
  if (selection.belowThreshold > 0) quiet.push(`${selection.belowThreshold} FAIL below ${threshold}`);
  if (selection.warnings > 0) quiet.push(`${plural(selection.warnings, 'warning')}`);
  const what = settings.alertOn === 'open' ? `no open FAIL at or above ${threshold}` : `nothing new or regressed at or above ${threshold}`;
  return { alert: false, reason: `alertOn ${settings.alertOn}: ${what}${quiet.length ? ` (${quiet.join(', ')})` : ''}` };
}
