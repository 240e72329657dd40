import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PipelineResult } from '#lib/audit/pipeline.ts';
import { SEVERITIES, STATUSES, type Severity, type Status } from '#lib/model/finding.ts';
import { METRIC } from './contract.ts';

/**
 * Findings metrics are one metric name per status and per FAIL severity rather than one name with
 * a status dimension: every metric of a run then shares the single `service` dimension Powertools
 * adds, so an alarm is a metric name and nothing else to get right, and a zero is emitted (not a
 * missing series) when a status has no findings.
 */
export const FINDINGS_METRIC: Record<Status, string> = Object.fromEntries(STATUSES.map((s) => [s, `Findings${s}`])) as Record<
  Status,
  string
>;

/** FAIL findings by severity: `FailFindingsCritical` … `FailFindingsInformational`. */
export const FAIL_SEVERITY_METRIC: Record<Severity, string> = Object.fromEntries(
  SEVERITIES.map((s) => [s, `FailFindings${s[0]!.toUpperCase()}${s.slice(1)}`]),
) as Record<Severity, string>;

/** Sources the selected checks needed and could not read (a denied ListAccessKeys leaves no check in ERROR). */
export const SOURCES_NOT_READ_METRIC = 'SourcesNotRead';

/**
 * A run's metrics. Only a run that saved its state reports findings and RunSucceeded: a dry run
 * may use looser what-if limits, and its counts in the same series as the nightly ones would make
 * alarms fire (or stay quiet) on numbers nobody recorded. Its duration is still real.
 */
export function recordRunMetrics(metrics: Metrics, pipeline: PipelineResult, durationMs: number): void {
  metrics.addMetric(METRIC.durationMs, MetricUnit.Milliseconds, durationMs);
  if (!pipeline.saved) return;

  const { run } = pipeline.reconciled;
  metrics.addMetric(METRIC.runSucceeded, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.checksInError, MetricUnit.Count, run.checksInError.length);
  metrics.addMetric(METRIC.newFindings, MetricUnit.Count, run.counts.new + run.counts.regressed);
  metrics.addMetric(METRIC.resolvedFindings, MetricUnit.Count, run.counts.resolved);
  metrics.addMetric(METRIC.openFindings, MetricUnit.Count, run.counts.open);
  metrics.addMetric(SOURCES_NOT_READ_METRIC, MetricUnit.Count, run.sources.filter((s) => s.state === 'unread').length);
  for (const status of STATUSES) metrics.addMetric(FINDINGS_METRIC[status], MetricUnit.Count, run.counts.byStatus[status]);
  for (const severity of SEVERITIES)
    metrics.addMetric(FAIL_SEVERITY_METRIC[severity], MetricUnit.Count, run.counts.failBySeverity[severity]);
  if (pipeline.securityHub) {
    metrics.addMetric(METRIC.securityHubImported, MetricUnit.Count, pipeline.securityHub.imported);
    metrics.addMetric(METRIC.securityHubFailed, MetricUnit.Count, pipeline.securityHub.failed.length);
  }
}
