import type { CheckId } from '#lib/checks/catalogue.ts';
import type { Severity, Status } from '#lib/model/finding.ts';
import { SEVERITIES, STATUSES, findingId } from '#lib/model/finding.ts';
import type { SourceReport } from '#lib/model/run.ts';
import type { Settings } from '#lib/settings.ts';
import type { Change, Mute, ReconciledFinding, ReconciledRun, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import { ACCOUNT } from './account.ts';

export { ACCOUNT };
export const RUN_ID = '20250301T020000000Z-abcd1234';
export const AT = '2025-03-01T02:00:00.000Z';
const EARLIER = '2025-02-01T02:00:00.000Z';

export interface FindingSpec {
  change: Change;
  status: Status;
  severity?: Severity;
  checkId?: CheckId;
  resource?: string;
  title?: string;
  previousStatus?: Status | null;
  previousSeverity?: Severity | null;
  details?: Record<string, unknown>;
  mute?: Mute | null;
}

/** A reconciled finding as `reconcile()` would produce it for the given change. */
export function finding(spec: FindingSpec): ReconciledFinding {
  const checkId = spec.checkId ?? 'user-full-access';
  const resource = spec.resource ?? `arn:aws:iam::${ACCOUNT}:user/alice`;
  const resolved = spec.change === 'resolved';
  const previousStatus =
    spec.previousStatus !== undefined
      ? spec.previousStatus
      : spec.change === 'new'
        ? null
        : spec.change === 'regressed'
          ? 'PASS'
          : resolved
            ? 'FAIL'
            : spec.status;
  const state: StoredFinding = {
    id: findingId(ACCOUNT, checkId, resource),
    accountId: ACCOUNT,
    checkId,
    resource,
    status: spec.status,
    severity: spec.severity ?? 'high',
    title: spec.title ?? `${checkId} finding for ${resource}`,
    details: spec.details ?? {},
    firstSeen: spec.change === 'new' ? AT : EARLIER,
    lastSeen: AT,
    lastChanged: AT,
    resolvedAt: resolved ? AT : null,
    runId: RUN_ID,
    mute: spec.mute ?? null,
  };
  return {
    finding: state,
    change: spec.change,
    previousStatus,
    previousSeverity:
      spec.previousSeverity !== undefined ? spec.previousSeverity : previousStatus === null ? null : (spec.severity ?? 'high'),
    state,
    stale: false,
  };
}

export const MUTE: Mute = { reason: 'break-glass user, reviewed quarterly', expires: null, check: 'user-full-access', resource: '*' };

/** A run record whose counts agree with its findings, as the reconciler computes them. */
export function reconciledRun(findings: ReconciledFinding[], overrides: Partial<RunRecord> = {}): ReconciledRun {
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  const failBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const current = findings.filter((f) => f.change !== 'resolved');
  for (const f of current) {
    byStatus[f.state.status] += 1;
    if (f.state.status === 'FAIL') failBySeverity[f.state.severity] += 1;
  }
  const open = findings.filter((f) => isOpen(f.state));
  const count = (c: Change) => findings.filter((f) => f.change === c).length;
  const checksInError = overrides.checksInError ?? [];
  const sources: SourceReport[] = overrides.sources ?? [
    { source: 'account summary', input: 'accountSummary', state: 'read' },
    { source: 'credential report', input: 'credentialReport', state: 'read' },
    { source: 'authorization details', input: 'authorizationDetails', state: 'read' },
  ];
  const run: RunRecord = {
    runId: RUN_ID,
    accountId: ACCOUNT,
    partition: 'aws',
    trigger: 'schedule',
    origin: 'live',
    startedAt: AT,
    endedAt: AT,
    durationMs: 1200,
    collectedAt: AT,
    complete: checksInError.length === 0 && sources.every((s) => s.state === 'read'),
    checks: ['root-access-key', 'access-key-age', 'user-full-access', 'elasticache-service-linked-role', 'dax-service-role'],
    regions: ['eu-west-1'],
    counts: {
      total: current.length,
      byStatus,
      failBySeverity,
      new: count('new'),
      regressed: count('regressed'),
      resolved: count('resolved'),
      open: open.length,
      muted: open.filter((f) => f.state.mute !== null).length,
    },
    checksInError,
    sources,
    ...overrides,
  };
  return { run, findings };
}

export const TABLE = 'account-auditor-findings';
export const NEW: Pick<Settings, 'alertOn' | 'minAlertSeverity'> = { alertOn: 'new', minAlertSeverity: 'low' };

const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

/** A typical night: two new FAILs, one regressed, one still open, one fixed, one check in ERROR. */
export function typicalRun() {
  return reconciledRun(
    [
      finding({
        change: 'new',
        status: 'FAIL',
        severity: 'high',
        checkId: 'user-full-access',
        resource: user('bob'),
        title: 'full access through policy AdministratorAccess',
      }),
      finding({
        change: 'new',
        status: 'FAIL',
        severity: 'critical',
        checkId: 'root-access-key',
        resource: ROOT,
        title: 'the root user has an active access key',
      }),
      finding({
        change: 'open',
        status: 'FAIL',
        severity: 'medium',
        checkId: 'access-key-age',
        resource: `${user('carol')}#access_key_1`,
        title: 'access key is 200 days old',
      }),
      finding({
        change: 'open',
        status: 'ERROR',
        severity: 'high',
        checkId: 'dax-service-role',
        resource: `arn:aws:dax:eu-west-1:${ACCOUNT}:cache/*`,
        title: 'could not be evaluated: dax:DescribeClusters failed (AccessDeniedException)',
        details: {
          call: 'dax:DescribeClusters',
          reason: 'User is not authorized to perform dax:DescribeClusters',
          code: 'AccessDeniedException',
        },
      }),
      finding({
        change: 'resolved',
        status: 'PASS',
        severity: 'high',
        checkId: 'user-full-access',
        resource: user('dave'),
        previousStatus: 'FAIL',
        title: 'no full-access grant',
      }),
      finding({ change: 'unchanged', status: 'PASS', severity: 'critical', checkId: 'user-full-access', resource: user('erin') }),
    ],
    {
      checksInError: [
        {
          checkId: 'dax-service-role',
          reasons: [
            `arn:aws:dax:eu-west-1:${ACCOUNT}:cache/*: could not be evaluated: dax:DescribeClusters failed (AccessDeniedException)`,
          ],
        },
      ],
    },
  );
}

/** 5,000 new critical FAILs with long titles: far more than one SNS message holds. */
export function fiveThousandNew(): ReconciledRun {
  const findings = Array.from({ length: 5000 }, (_, i) =>
    finding({
      change: 'new',
      status: 'FAIL',
      severity: 'critical',
      checkId: 'user-full-access',
      resource: user(`service-account-${String(i).padStart(5, '0')}`),
      title: `full access through policy AdministratorAccess attached via group Admins-${i}; ${'the user can grant itself any permission; '.repeat(6)}`,
    }),
  );
  return reconciledRun(findings);
}

/** The state-not-saved night: two new FAILs, one regressed, one resolved. */
export function night() {
  return reconciledRun([
    finding({ change: 'new', status: 'FAIL', severity: 'critical', checkId: 'user-full-access', resource: user('alice') }),
    finding({ change: 'new', status: 'FAIL', severity: 'medium', checkId: 'access-key-age', resource: `${user('bob')}#access_key_1` }),
    finding({
      change: 'regressed',
      status: 'FAIL',
      severity: 'high',
      checkId: 'user-full-access',
      resource: user('carol'),
      previousStatus: 'PASS',
    }),
    finding({
      change: 'resolved',
      status: 'PASS',
      severity: 'high',
      checkId: 'user-full-access',
      resource: user('dave'),
      previousStatus: 'FAIL',
    }),
  ]);
}
