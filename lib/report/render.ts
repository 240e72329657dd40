import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { AuditResult } from '#lib/audit/run.ts';
import type { Check, Finding, Status } from '#lib/checks/types.ts';
import { severityRank, STATUSES } from '#lib/checks/types.ts';
import { ALL_CHECKS } from '#lib/checks/index.ts';

const STATUS_ORDER: Record<Status, number> = Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<Status, number>;

/** Worst first: ERROR and FAIL before WARN and PASS, then by severity, then by resource. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      severityRank(b.severity) - severityRank(a.severity) ||
      a.resource.localeCompare(b.resource),
  );
}

function references(check: Check): string {
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

  for (const check of ALL_CHECKS.filter((c) => run.checks.includes(c.id))) {
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
      ` · FAIL by severity: ${Object.entries(run.counts.failBySeverity)
        .filter(([, n]) => n > 0)
        .map(([sev, n]) => `${n} ${sev}`)
        .join(', ') || 'none'}`,
  );
  const unread = run.sources.filter((src) => src.state === 'unread');
  if (unread.length > 0) {
    out.push('not read (the checks that need these report ERROR):');
    for (const u of unread) out.push(`  - ${u.source}: ${u.call}${u.code ? ` (${u.code})` : ''}: ${u.reason}`);
  }
  if (run.checksInError.length > 0) out.push(`checks in ERROR: ${run.checksInError.map((c) => c.checkId).join(', ')}`);
  return out.join('\n');
}

/** `--format json`: the run and every finding, nothing else, so it pipes into jq. */
export function renderJson(result: AuditResult): string {
  return JSON.stringify({ run: result.run, findings: sortFindings(result.findings) }, null, 2);
}

const CSV_COLUMNS = ['id', 'accountId', 'checkId', 'status', 'severity', 'resource', 'title', 'details'] as const;

/** `--format csv`: one row per finding, details as a JSON cell. */
export function renderCsv(result: AuditResult): string {
  const rows = sortFindings(result.findings).map((f) => [f.id, f.accountId, f.checkId, f.status, f.severity, f.resource, f.title, JSON.stringify(f.details)]);
  return stringify([[...CSV_COLUMNS], ...rows]);
}
