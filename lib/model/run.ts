import type { CheckId } from '#lib/checks/catalogue.ts';
import type { InventoryInput } from '#lib/inventory/types.ts';
import type { Finding, Severity, Status } from './finding.ts';

export type Trigger = 'schedule' | 'on-demand' | 'local';

export interface SourceReport {
  source: string;
  input: InventoryInput;
  /** `skipped`: no selected check reads it (run records list only the sources their checks read). */
  state: 'read' | 'unread' | 'skipped';
  call?: string;
  reason?: string;
  code?: string;
}

export interface CheckOutcome {
  checkId: CheckId;
  findings: number;
  byStatus: Record<Status, number>;
  /** Reasons of the check's ERROR findings: a check in ERROR resolves nothing downstream. */
  errors: string[];
}

export interface RunSummary {
  runId: string;
  accountId: string;
  partition: string;
  trigger: Trigger;
  origin: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  collectedAt: string;
  /** True when every source the selected checks read was read and no check ended in ERROR. */
  complete: boolean;
  checks: CheckId[];
  /** Regions audited: a regional finding outside them is out of this run's scope, not resolved. */
  regions: string[];
  counts: {
    total: number;
    byStatus: Record<Status, number>;
    /** FAIL findings by severity: what the exit code and alerts are about. */
    failBySeverity: Record<Severity, number>;
  };
  /**
   * `missingPermissions`: the IAM actions denied to the sources this check reads (absent in run
   * records written before it existed). `reasonsOmitted`: reasons left out of a stored run record
   * that had to fit DynamoDB's item size limit.
   */
  checksInError: { checkId: CheckId; reasons: string[]; missingPermissions?: string[]; reasonsOmitted?: number }[];
  sources: SourceReport[];
  /** Sources left out of a stored run record that had to fit DynamoDB's item size limit. */
  sourcesOmitted?: number;
  /**
   * Every IAM action a source was denied (`iam:GetAccountAuthorizationDetails`), sorted: what to
   * allow the auditor's role. Other failures (throttling, a missing file) are not permissions and
   * stay in `sources`. Absent in run records written before it existed.
   */
  missingPermissions?: string[];
}

export interface AuditResult {
  run: RunSummary;
  findings: Finding[];
  outcomes: CheckOutcome[];
}
