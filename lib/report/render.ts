import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { AuditResult } from '#lib/model/run.ts';
import { deniedPermissions, missingPermission } from '#lib/checks/inputs.ts';
import type { PipelineResult } from '#lib/audit/pipeline.ts';
import type { HistoryEntry, ReconciledFinding, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import type { OrganizationRunRecord } from '#lib/store/organization-runs.ts';
import type { Finding, Status } from '#lib/model/finding.ts';
import { severityRank, STATUSES } from '#lib/model/finding.ts';
import { CHECKS, type CheckMetadata } from '#lib/checks/catalogue.ts';

const STATUS_ORDER: Record<Status, number> = Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<Status, number>;

/** Worst first: ERROR and FAIL before WARN and PASS, then by severity, then by resource. */
function compareFindings(a: Finding, b: Finding): number {
  return (
    STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
    severityRank(b.severity) - severityRank(a.severity) ||
    a.resource.localeCompare(b.resource)
  );
}

/** Worst first (compareFindings). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(compareFindings);
}

function references(check: CheckMetadata): string {
  const parts = [
    ...Object.entries(check.references.cis).map(([version, control]) => `CIS ${version} ${control}`),
    ...check.references.securityHub.map((c) => `Security Hub ${c}`),
    ...check.references.awsConfig.map((r) => `Config ${r}`),
  ];
  return parts.join(' · ');
}

export interface TableOptions {
  /** Show every PASS row; otherwise PASS rows past the first few per check are counted, not listed. */
  all?: boolean;
  width?: number;
}

const PASS_ROWS_SHOWN = 10;

/** The human report: one section per check, worst findings first, with the fix for what failed. */
export function renderTable(result: AuditResult, options: TableOptions = {}): string {
  const width = Math.max(100, Math.min(options.width ?? 160, 220));
  const out: string[] = [];
  const { run } = result;
  out.push(`account-auditor · account ${run.accountId} · ${run.origin} · collected ${run.collectedAt}`, '');

  for (const check of CHECKS.filter((c) => run.checks.includes(c.id))) {
    const findings = sortFindings(result.findings.filter((f) => f.checkId === check.id));
    const worst = findings[0]?.status ?? 'PASS';
    out.push(`== ${check.id} · ${check.title} [${worst}]`);
    const refs = references(check);
    if (refs) out.push(`   ${refs}`);
    if (findings.length === 0) {
      out.push('   no findings (nothing in scope: e.g. no active access keys)', '');
      continue;
    }
    const passes = findings.filter((f) => f.status === 'PASS');
    const hidden = options.all ? 0 : Math.max(0, passes.length - PASS_ROWS_SHOWN);
    const shown = hidden > 0 ? findings.slice(0, findings.length - hidden) : findings;
    const resourceWidth = Math.floor((width - 25) * 0.42);
    const table = new Table({
      head: ['Status', 'Severity', 'Resource', 'Finding'],
      colWidths: [8, 10, resourceWidth, width - 25 - resourceWidth],
      wordWrap: true,
      style: { head: [], border: [], compact: true },
    });
    for (const f of shown) table.push([f.status, f.status === 'PASS' ? '-' : f.severity, f.resource, f.title]);
    out.push(table.toString());
    if (hidden > 0) out.push(`   … and ${hidden} more PASS (use --all to list them)`);
    if (findings.some((f) => f.status === 'FAIL' || f.status === 'WARN')) {
      out.push(`   fix: ${check.remediation.text}`, `        ${check.remediation.command}`);
    }
    out.push('');
  }

  const s = run.counts.byStatus;
  out.push(
    `${run.counts.total} findings: ${s.FAIL} FAIL, ${s.WARN} WARN, ${s.ERROR} ERROR, ${s.PASS} PASS` +
      ` · FAIL by severity: ${
        Object.entries(run.counts.failBySeverity)
          .filter(([, n]) => n > 0)
          .map(([sev, n]) => `${n} ${sev}`)
          .join(', ') || 'none'
      }`,
  );
  const unread = run.sources.filter((src) => src.state === 'unread');
  if (unread.length > 0) {
    out.push('not read (the checks that need these report ERROR):');
    for (const u of unread) {
      const permission = missingPermission(u.call ?? '', u.code, u.reason ?? '');
      out.push(
        `  - ${u.source}: ${u.call}${u.code ? ` (${u.code})` : ''}: ${u.reason}${permission ? ` [missing permission: ${permission}]` : ''}`,
      );
    }
  }
  if (run.checksInError.length > 0) out.push(`checks in ERROR: ${run.checksInError.map((c) => c.checkId).join(', ')}`);
  const missing = run.missingPermissions ?? deniedPermissions(run.sources);
  if (missing.length > 0) out.push(`missing permissions: ${missing.join(', ')} (allow them for the auditor's role, then run again)`);
  return out.join('\n');
}

/** Each finding of this run with what the run means for it (new, open, resolved…), worst first. */
function findingsWithChanges(p: PipelineResult) {
  return p.reconciled.findings
    .flatMap((r) => (r.finding ? [{ finding: r.finding, r }] : []))
    .sort((a, b) => compareFindings(a.finding, b.finding))
    .map(({ finding, r }) => ({ ...finding, change: r.change, firstSeen: r.state.firstSeen, mute: r.state.mute }));
}

/** Findings resolved because they are gone from this run (a deleted key, a removed user). */
function resolvedByAbsence(p: PipelineResult): ReconciledFinding[] {
  return p.reconciled.findings.filter((r) => r.change === 'resolved' && r.finding === null);
}

/**
 * `--format json`: the run record (run ID; counts with new, resolved, open), this run's findings
 * each with its change, and the findings resolved by absence. Nothing else goes to stdout.
 */
export function renderJson(p: PipelineResult): string {
  return JSON.stringify(jsonDocument(p), null, 2);
}

/** The object `--format json` prints for one run (renderJson); organization mode prints one per account. */
export function jsonDocument(p: PipelineResult) {
  const resolved = resolvedByAbsence(p).map((r) => ({
    id: r.state.id,
    checkId: r.state.checkId,
    resource: r.state.resource,
    status: r.state.status,
    title: r.state.title,
    resolvedAt: r.state.resolvedAt,
  }));
  const notSaved = p.notSaved ? { stateNotSaved: { name: p.notSaved.name, message: p.notSaved.message } } : {};
  const securityHub = p.securityHub ? { securityHub: p.securityHub } : {};
  return { run: p.reconciled.run, findings: findingsWithChanges(p), resolved, ...notSaved, ...securityHub };
}

export const CSV_COLUMNS = ['id', 'accountId', 'checkId', 'status', 'severity', 'change', 'resource', 'title', 'details'] as const;

/** `--format csv`: one row per finding of this run, details as a JSON cell. */
export function renderCsv(p: PipelineResult): string {
  return stringify([[...CSV_COLUMNS], ...csvRows(p)]);
}

/** The rows of renderCsv, without the header (organization mode writes one header for every account). */
export function csvRows(p: PipelineResult): string[][] {
  return findingsWithChanges(p).map((f) => [
    f.id,
    f.accountId,
    f.checkId,
    f.status,
    f.severity,
    f.change,
    f.resource,
    f.title,
    JSON.stringify(f.details),
  ]);
}

const CHANGE_LINES_SHOWN = 20;

/** What changed since the last run: the part of the report a nightly reader looks at first. */
export function renderChanges(p: PipelineResult, where: string | null): string {
  const c = p.reconciled.run.counts;
  if (where === null) return 'state not kept (--no-store): every open finding counts as new';
  const out = [
    `since the last run (state in ${where}): ${c.new} new, ${c.regressed} regressed, ${c.resolved} resolved · ${c.open} open${c.muted ? ` (${c.muted} muted)` : ''}`,
  ];
  const line = (label: string, r: ReconciledFinding) =>
    `  ${label.padEnd(9)} ${r.state.status.padEnd(5)} ${r.state.status === 'PASS' ? '' : `${r.state.severity} `}${r.state.checkId}: ${r.state.title}${r.state.mute ? ` [muted: ${r.state.mute.reason}]` : ''}`;
  for (const change of ['new', 'regressed', 'resolved'] as const) {
    const list = p.reconciled.findings.filter((r) => r.change === change);
    for (const r of list.slice(0, CHANGE_LINES_SHOWN)) out.push(line(change, r));
    if (list.length > CHANGE_LINES_SHOWN) out.push(`  … and ${list.length - CHANGE_LINES_SHOWN} more ${change}`);
  }
  if (p.notSaved) out.push(`  state NOT saved (${p.notSaved.name}): the next run reports these findings as new again`);
  if (p.saved && p.saved.skippedStale.length > 0) {
    out.push(`  ${p.saved.skippedStale.length} finding(s) not saved: a newer run already stored them`);
  }
  return out.join('\n');
}

/** The alert as it would be (or was) published, for the terminal. */
export function renderAlert(p: PipelineResult): string {
  const { alert } = p;
  const head = alert.messageId
    ? `alert published (SNS message ${alert.messageId}): ${alert.reason}`
    : alert.wanted
      ? `alert that would be published (no --topic): ${alert.reason}`
      : `no alert: ${alert.reason}`;
  if (!alert.wanted) return head;
  return [head, `Subject: ${alert.alert.subject}`, '', alert.alert.email].join('\n');
}

function simpleTable(head: string[], rows: string[][], width: number, colWidths = fitColumns(head.length, width)): string {
  const table = new Table({
    head,
    style: { head: [], border: [], compact: true },
    wordWrap: true,
    colWidths,
  });
  for (const r of rows) table.push(r);
  return table.toString();
}

/** Even columns with the last one widest: titles are the long part. */
function fitColumns(n: number, width: number): number[] {
  const w = Math.max(100, Math.min(width, 220)) - n - 1;
  const small = Math.floor((w * 0.45) / (n - 1));
  return [...Array.from({ length: n - 1 }, () => small), w - small * (n - 1)];
}

/** `account-auditor findings`: the open findings, most severe first, as the store lists them. */
export function renderOpenFindings(findings: StoredFinding[], width = 160): string {
  if (findings.length === 0) return 'no open findings';
  return simpleTable(
    ['Severity', 'Status', 'Check', 'Open since', 'Finding'],
    findings.map((f) => [
      f.severity,
      f.status,
      f.checkId,
      f.lastChanged.slice(0, 10),
      `${f.title}${f.mute ? ` [muted: ${f.mute.reason}]` : ''}\n${f.id}`,
    ]),
    width,
  );
}

/** Why a stored run is incomplete: its checks in ERROR, else its unread sources; and the permissions it lacked. */
function incompleteBecause(r: RunRecord): string {
  const unread = (r.sources ?? []).filter((s) => s.state === 'unread').length;
  const what = r.checksInError.map((c) => c.checkId).join(', ') || `${unread} ${unread === 1 ? 'source' : 'sources'} not read`;
  const missing = r.missingPermissions ?? deniedPermissions(r.sources ?? []);
  return missing.length > 0 ? `${what}; missing ${missing.join(', ')}` : what;
}

/** `account-auditor runs`: the latest runs, newest first. */
export function renderRuns(runs: RunRecord[], width = 160): string {
  if (runs.length === 0) return 'no runs stored yet';
  return simpleTable(
    ['Started', 'Run', 'Origin', 'Complete', 'Changes'],
    runs.map((r) => [
      r.startedAt,
      r.runId,
      `${r.trigger} · ${r.origin}`,
      r.complete ? 'yes' : `no (${incompleteBecause(r)})`,
      `${r.counts.new} new, ${r.counts.regressed} regressed, ${r.counts.resolved} resolved, ${r.counts.open} open · ${r.counts.byStatus.FAIL} FAIL, ${r.counts.byStatus.ERROR} ERROR`,
    ]),
    width,
  );
}

/** The first few account IDs of a list, and how many more (the record itself may hold fewer than it counts). */
function someAccounts(ids: readonly string[], total: number, max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return total > Math.min(ids.length, max) ? `${shown}${shown ? ' ' : ''}and ${total - Math.min(ids.length, max)} more` : shown;
}

/** `account-auditor runs --org`: the latest organization runs, newest first. */
export function renderOrganizationRuns(runs: OrganizationRunRecord[], width = 160): string {
  if (runs.length === 0) return 'no organization runs stored yet';
  // Timestamps and run IDs whole; the accounts in ERROR take the rest.
  const fixed = [26, 32, 10, 14, 30];
  const rest = Math.max(30, Math.max(100, Math.min(width, 220)) - fixed.length - 2 - fixed.reduce((a, b) => a + b, 0));
  return simpleTable(
    ['Started', 'Organization run', 'Accounts', 'Complete / incomplete / failed', 'Alert', 'Accounts in ERROR'],
    runs.map((r) => {
      const inError = r.incomplete + r.failed;
      const alert = r.alert.messageId
        ? `${r.alert.mode}: published (${r.alert.messageId})`
        : `${r.alert.mode}: ${r.alert.wanted ? 'NOT published: ' : ''}${r.alert.reason}`;
      return [
        r.startedAt,
        r.organizationRunId,
        String(r.accounts),
        `${r.complete} / ${r.incomplete} / ${r.failed}`,
        alert,
        inError === 0
          ? 'none'
          : someAccounts(
              r.inError.map((l) => `${l.id} (${l.state})`),
              inError,
            ),
      ];
    }),
    width,
    [...fixed, rest],
  );
}

/** `account-auditor history <id>`: every change of status, oldest first. */
export function renderHistory(entries: HistoryEntry[], width = 160): string {
  if (entries.length === 0) return 'no history for this finding (check the ID with `account-auditor findings`)';
  return simpleTable(
    ['At', 'Change', 'Status', 'Run', 'Title'],
    entries.map((e) => [e.at, e.change, `${e.previousStatus ?? '-'} → ${e.status}`, e.runId, e.title]),
    width,
  );
}
