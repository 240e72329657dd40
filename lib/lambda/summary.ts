import type { PipelineResult } from '#lib/audit/pipeline.ts';
import type { CheckId } from '#lib/checks/catalogue.ts';
import type { Severity, Status } from '#lib/model/finding.ts';
import { compareForAlert } from '#lib/notify/select.ts';
import type { RunRecord } from '#lib/reconcile/types.ts';
import type { AuditRequest, LambdaTrigger } from './event.ts';

/**
 * Caps that keep the summary readable in a terminal after `aws lambda invoke`, and far below
 * Lambda's 6 MB response limit whatever the account's size: the full lists are in the table.
 */
export const SUMMARY_LIMITS = { newFindings: 20, reasonsPerCheck: 3, sources: 20, text: 300 } as const;

export interface AuditSummary {
  runId: string;
  accountId: string;
  trigger: LambdaTrigger;
  /** False when a check ended in ERROR or a source the checks read could not be read. */
  complete: boolean;
  startedAt: string;
  durationMs: number;
  checks: CheckId[];
  regions: string[];
  counts: RunRecord['counts'];
  checksInError: { checkId: CheckId; reasons: string[]; moreReasons: number; missingPermissions: string[] }[];
  /** IAM actions the role was denied: what to add to make the run complete. */
  missingPermissions: string[];
  sourcesNotRead: { source: string; call?: string; code?: string; reason?: string }[];
  moreSourcesNotRead: number;
  /** New and regressed findings, worst first (at most SUMMARY_LIMITS.newFindings). */
  newFindings: {
    change: 'new' | 'regressed';
    status: Status;
    severity: Severity;
    checkId: CheckId;
    resource: string;
    title: string;
    muted: boolean;
  }[];
  moreNewFindings: number;
  dryRun: boolean;
  notify: boolean;
  /** null on a dry run: nothing was written. */
  saved: { written: number; skippedStale: number; history: number; compliantNotStored: number } | null;
  /** The Security Hub import (securityHub setting on, run saved); null otherwise. */
  securityHub: {
    productArn: string;
    selected: number;
    imported: number;
    archived: number;
    workflowNew: number;
    failedCount: number;
    /** The findings not imported, with Security Hub's (or the validator's) code, at most SUMMARY_LIMITS.newFindings. */
    failed: { id: string; code: string; message: string }[];
    /** Whether the alert naming them was published. */
    alertPublished: boolean;
  } | null;
  alert: {
    /** Whether the run called for an alert under alertOn/minAlertSeverity, and why. */
    wanted: boolean;
    reason: string;
    published: boolean;
    messageId: string | null;
    /** Why a wanted alert was not published. */
    skipped: 'dry run' | 'notify: false' | null;
    subject: string;
  };
  /** Organization mode: the run and account of the map item, and how the account's audit went. */
  organization?: {
    organizationRunId: string;
    accountName: string;
    state: 'complete' | 'incomplete' | 'failed';
    alerts: 'digest' | 'per-account';
  };
}

function clip(text: string): string {
  return text.length > SUMMARY_LIMITS.text ? `${text.slice(0, SUMMARY_LIMITS.text - 1)}…` : text;
}

/** What the invocation returns: the run, what changed and where it went; never the per-finding list. */
export function summarize(pipeline: PipelineResult, request: AuditRequest, durationMs: number): AuditSummary {
  const { run } = pipeline.reconciled;
  const changed = pipeline.reconciled.findings.filter((f) => f.change === 'new' || f.change === 'regressed').sort(compareForAlert);
  const unread = run.sources.filter((s) => s.state === 'unread');
  const { wanted, reason, messageId, alert } = pipeline.alert;
  return {
    runId: run.runId,
    accountId: run.accountId,
    trigger: request.trigger,
    complete: run.complete,
    startedAt: run.startedAt,
    durationMs,
    checks: run.checks,
    regions: run.regions,
    counts: run.counts,
    checksInError: run.checksInError.map((c) => ({
      checkId: c.checkId,
      reasons: c.reasons.slice(0, SUMMARY_LIMITS.reasonsPerCheck).map(clip),
      moreReasons: Math.max(0, c.reasons.length - SUMMARY_LIMITS.reasonsPerCheck),
      missingPermissions: c.missingPermissions ?? [],
    })),
    missingPermissions: run.missingPermissions ?? [],
    sourcesNotRead: unread.slice(0, SUMMARY_LIMITS.sources).map((s) => ({
      source: s.source,
      ...(s.call ? { call: s.call } : {}),
      ...(s.code ? { code: s.code } : {}),
      ...(s.reason ? { reason: clip(s.reason) } : {}),
    })),
    moreSourcesNotRead: Math.max(0, unread.length - SUMMARY_LIMITS.sources),
    newFindings: changed.slice(0, SUMMARY_LIMITS.newFindings).map((f) => ({
      change: f.change as 'new' | 'regressed',
      status: f.state.status,
      severity: f.state.severity,
      checkId: f.state.checkId,
      resource: f.state.resource,
      title: clip(f.state.title),
      muted: f.state.mute !== null,
    })),
    moreNewFindings: Math.max(0, changed.length - SUMMARY_LIMITS.newFindings),
    dryRun: request.dryRun,
    notify: request.notify,
    saved: pipeline.saved
      ? {
          written: pipeline.saved.written,
          skippedStale: pipeline.saved.skippedStale.length,
          history: pipeline.saved.history,
          compliantNotStored: pipeline.saved.compliantNotStored,
        }
      : null,
    securityHub: pipeline.securityHub
      ? {
          productArn: pipeline.securityHub.productArn,
          selected: pipeline.securityHub.selected,
          imported: pipeline.securityHub.imported,
          archived: pipeline.securityHub.archived,
          workflowNew: pipeline.securityHub.workflowNew,
          failedCount: pipeline.securityHub.failed.length,
          failed: pipeline.securityHub.failed
            .slice(0, SUMMARY_LIMITS.newFindings)
            .map((f) => ({ id: clip(f.id), code: clip(f.code), message: clip(f.message) })),
          alertPublished: pipeline.securityHub.alertMessageId !== null,
        }
      : null,
    alert: {
      wanted,
      reason,
      published: messageId !== null,
      messageId,
      skipped: wanted && messageId === null ? (request.dryRun ? 'dry run' : 'notify: false') : null,
      subject: alert.subject,
    },
  };
}
