import type { Finding, Status } from '#lib/model/finding.ts';
import type { RunSummary } from '#lib/model/run.ts';

/**
 * What a run means for one finding, against the state stored by earlier runs:
 * - `new`: never seen before, and not PASS;
 * - `regressed`: seen before and not open (PASS, or resolved) and now open, or WARN before and
 *   now FAIL or ERROR (a key that crossed the age limit);
 * - `open`: open before (FAIL, WARN or ERROR, not resolved) and still open;
 * - `resolved`: open before, and now PASS or absent from a complete run;
 * - `unchanged`: PASS before and now, a new PASS, or gone while PASS.
 */
export type Change = 'new' | 'regressed' | 'open' | 'resolved' | 'unchanged';

export interface Mute {
  reason: string;
  /** ISO date; after it the mute stops muting. */
  expires: string | null;
  /** The mute entry's patterns, to say which entry matched. */
  check: string;
  resource: string;
}

/** The state of one finding as stored between runs (one item per finding in the table). */
export interface StoredFinding extends Finding {
  /** Observation time (the inventory's collectedAt) of the first run that saw it. */
  firstSeen: string;
  /** Observation time of the latest run that saw it; an older run never overwrites newer state. */
  lastSeen: string;
  /** Observation time of the latest change of status (or of resolution). */
  lastChanged: string;
  /** When it was resolved (null while open, or for a PASS never open). */
  resolvedAt: string | null;
  /** The run that wrote this state. */
  runId: string;
  /** Non-null when a mute entry matched at the last run. */
  mute: Mute | null;
}

/** Open = needs attention: FAIL, WARN or ERROR, and not resolved. */
export function isOpen(state: Pick<StoredFinding, 'status' | 'resolvedAt'>): boolean {
  return state.status !== 'PASS' && state.resolvedAt === null;
}

/** One finding after a run: what the run observed, what that changes, and the state to store. */
export interface ReconciledFinding {
  /** The finding as this run produced it; null for a stored one the run could have seen and did not (gone). */
  finding: Finding | null;
  change: Change;
  previousStatus: Status | null;
  /** The severity stored before this run: a finding resolved to PASS is judged by what it was. */
  previousSeverity: Finding['severity'] | null;
  /** The state to store after this run (for a finding resolved by absence: the old one, resolved). */
  state: StoredFinding;
  /**
   * A run that observed the account later already stored this finding, or covered its scope
   * (isStale): this run changes nothing of it (`unchanged`), and the store leaves it as it is.
   */
  stale: boolean;
}

/** The run record as stored and reported: the audit's summary plus what changed. */
export interface RunRecord extends RunSummary {
  counts: RunSummary['counts'] & {
    new: number;
    regressed: number;
    resolved: number;
    /** Open after this run (FAIL, WARN, ERROR), muted included. */
    open: number;
    muted: number;
  };
}

export interface ReconciledRun {
  run: RunRecord;
  findings: ReconciledFinding[];
}

/** One item per finding per change of status, kept `historyTtlDays`. */
export interface HistoryEntry {
  findingId: string;
  /** Observation time of the run that saw the change. */
  at: string;
  runId: string;
  change: Change;
  status: Status;
  previousStatus: Status | null;
  severity: Finding['severity'];
  title: string;
}
