import { randomBytes } from 'node:crypto';
import type { Inventory } from '#lib/inventory/types.ts';
import { sourceEntries } from '#lib/inventory/registry.ts';
import type { Settings } from '#lib/settings.ts';
import { loadChecks, type Check } from '#lib/checks/registry.ts';
import { inputsOf } from '#lib/checks/catalogue.ts';
import { type ClassifiedSource, deniedPermissions } from '#lib/checks/inputs.ts';
import type { Finding, Severity, Status } from '#lib/model/finding.ts';
import { makeFinding, SEVERITIES, severityRank, STATUSES } from '#lib/model/finding.ts';
import { rootArn } from '#lib/model/arn.ts';
import type { AuditResult, CheckOutcome, SourceReport, Trigger } from '#lib/model/run.ts';

function zeroByStatus(): Record<Status, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
}

/**
 * Runs the checks on an inventory. A check that throws is a bug, but it must not silence the
 * others nor pass for compliant: it becomes one ERROR finding naming the exception.
 */
export function evaluateChecks(
  inventory: Inventory,
  settings: Settings,
  checks: readonly Check[],
): { findings: Finding[]; outcomes: CheckOutcome[] } {
  const findings: Finding[] = [];
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    let produced: Finding[];
    try {
      produced = check.evaluate(inventory, settings);
    } catch (error) {
      produced = [
        makeFinding(inventory, check.id, {
          resource: rootArn(inventory),
          status: 'ERROR',
          severity: check.severity,
          title: `the check failed unexpectedly: ${(error as Error).message}`,
          details: { exception: String((error as Error).stack ?? error) },
        }),
      ];
    }
    const byStatus = zeroByStatus();
    for (const f of produced) byStatus[f.status] += 1;
    outcomes.push({
      checkId: check.id,
      findings: produced.length,
      byStatus,
      errors: produced.filter((f) => f.status === 'ERROR').map((f) => `${f.resource}: ${f.title}`),
    });
    findings.push(...produced);
  }
  return { findings, outcomes };
}

/** Every Source of the inventory (the registry's order), with the kind of each failure as the collector classified it. */
function classifiedSources(inventory: Inventory): ClassifiedSource[] {
  return sourceEntries(inventory).map(({ name: source, input, source: s }): ClassifiedSource => {
    if (s.state === 'read') return { source, input, state: 'read' };
    if (s.state === 'skipped') return { source, input, state: 'skipped', call: s.call, reason: s.reason };
    return { source, input, state: 'unread', call: s.call, reason: s.reason, ...(s.code ? { code: s.code } : {}), kind: s.kind };
  });
}

/** The run record's form of a source: the kind stays in memory, where the permissions are derived from it. */
function reported({ kind: _kind, ...report }: ClassifiedSource): SourceReport {
  return report;
}

/** Every Source of the inventory, flattened, to tell the reader what was and was not read. */
export function describeSources(inventory: Inventory): SourceReport[] {
  return classifiedSources(inventory).map(reported);
}

/** Sortable and unique: time first, so runs list in order; random suffix, so overlapping runs differ. */
export function newRunId(at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

export interface RunAuditOptions {
  /** Produces the inventory: live APIs, exported files or the demo account. */
  collect: () => Promise<Inventory>;
  settings: Settings;
  trigger: Trigger;
  now?: () => Date;
}

/** The whole audit: collect, evaluate, summarize. Handlers and the command line are shells around it. */
export async function runAudit(options: RunAuditOptions): Promise<AuditResult> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const inventory = await options.collect();
  const checks = await loadChecks(options.settings.checks);
  const { findings, outcomes } = evaluateChecks(inventory, options.settings, checks);
  const ended = now();

  const byStatus = zeroByStatus();
  const failBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) {
    byStatus[f.status] += 1;
    if (f.status === 'FAIL') failBySeverity[f.severity] += 1;
  }
  // Only the sources the selected checks read count: an unrelated failure does not make a narrowed run incomplete.
  const needed = inputsOf(checks.map((c) => c.id));
  const classified = classifiedSources(inventory).filter((src) => needed.has(src.input));
  const sources = classified.map(reported);
  const checksInError = outcomes
    .filter((o) => o.errors.length > 0)
    .map((o) => ({ checkId: o.checkId, reasons: o.errors, missingPermissions: deniedPermissions(classified, o.checkId) }));
  return {
    run: {
      runId: newRunId(started),
      accountId: inventory.accountId,
      partition: inventory.partition,
      trigger: options.trigger,
      origin: inventory.origin,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      collectedAt: inventory.collectedAt,
      complete: checksInError.length === 0 && sources.every((src) => src.state === 'read'),
      checks: checks.map((c) => c.id),
      regions: inventory.regions.map((r) => r.region),
      counts: { total: findings.length, byStatus, failBySeverity },
      checksInError,
      sources,
      missingPermissions: deniedPermissions(classified),
    },
    findings,
    outcomes,
  };
}

/**
 * 2 when the audit is incomplete (an ERROR finding, or a source that could not be read even if
 * no status depended on it), 1 on a FAIL at or above the threshold, else 0.
 */
export function exitCodeFor(result: Pick<AuditResult, 'findings' | 'run'>, failOn: Severity | 'none'): 0 | 1 | 2 {
  const { findings, run } = result;
  if (!run.complete || findings.some((f) => f.status === 'ERROR')) return 2;
  if (failOn === 'none') return 0;
  const threshold = severityRank(failOn);
  return findings.some((f) => f.status === 'FAIL' && severityRank(f.severity) >= threshold) ? 1 : 0;
}
