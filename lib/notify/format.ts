import type { CheckId } from '#lib/checks/catalogue.ts';
import type { Severity, Status } from '#lib/model/finding.ts';
import { SEVERITIES } from '#lib/model/finding.ts';
import { CHECKS } from '#lib/checks/catalogue.ts';
import type { SourceReport } from '#lib/model/run.ts';
import { checksReading } from '#lib/checks/catalogue.ts';
import { missingPermission } from '#lib/checks/inputs.ts';
import type { ReconciledFinding } from '#lib/reconcile/types.ts';

export const FINDINGS_COMMAND = 'account-auditor findings';

/** SNS rejects a subject of 100 characters or more ("less than 100 characters long"). */
export const SUBJECT_MAX = 99;

const REMEDIATION = new Map<string, string>(CHECKS.map((c) => [c.id, c.remediation.command]));

/** One finding as machine subscribers receive it. */
export interface AlertItem {
  id: string;
  checkId: CheckId;
  resource: string;
  status: Status;
  severity: Severity;
  title: string;
  /** The fix: the check's CLI command for a FAIL; for an ERROR, what the auditor could not do. */
  remediation: string | null;
  firstSeen: string;
  previousStatus: Status | null;
  /** Set for resolved findings. */
  resolvedAt?: string;
  /** For ERROR findings: the call that failed and why, so the missing permission is named. */
  error?: { call: string; reason: string; code?: string };
}

/** One source the run could not read, as the alert names it. */
export interface UnreadSourceLine {
  source: string;
  call: string;
  reason: string;
  code?: string;
  /** The IAM action to allow when the call was denied; null for any other failure (the reason says what). */
  missingPermission: string | null;
  /** The run's checks that read this source: those in ERROR because of it are in checksInError. */
  checks: CheckId[];
}

export interface AlertSummary {
  source: 'account-auditor';
  schemaVersion: 1;
  /** Which message this is: the run's findings, or `state-not-saved` (state-not-saved.ts). */
  kind: 'findings';
  accountId: string;
  runId: string;
  trigger: string;
  origin: string;
  collectedAt: string;
  complete: boolean;
  alertOn: string;
  minAlertSeverity: Severity;
  /** Whether the run called for an alert under these settings, and why. */
  alert: boolean;
  reason: string;
  highestSeverity: Severity | 'none';
  /** Full counts, whatever the size limit left in the lists below. */
  counts: {
    /** New plus regressed: failing now and not at the previous run (the subject's and `newCount`'s "new"). */
    newlyFailing: number;
    newlyFailingBySeverity: Record<Severity, number>;
    new: number;
    regressed: number;
    stillOpen: number;
    /** Every alertable finding open after this run: new + regressed + still open. */
    open: number;
    resolved: number;
    errorChecks: number;
    unreadSources: number;
    muted: number;
    warnings: number;
    belowThreshold: number;
    byStatus: Record<Status, number>;
    failBySeverity: Record<Severity, number>;
  };
  /** Never seen before (regressed findings are listed apart). */
  new: AlertItem[];
  regressed: AlertItem[];
  stillOpen: AlertItem[];
  resolved: AlertItem[];
  /** The checks that could not run, why, and the IAM actions denied to what they read. */
  checksInError: { checkId: string; reasons: string[]; moreReasons: number; missingPermissions: string[] }[];
  /** Every IAM action a source was denied, sorted: what to allow the auditor's role. */
  missingPermissions: string[];
  unreadSources: UnreadSourceLine[];
  /** How many findings were left out of the lists above to fit SNS's 256 KB limit. */
  truncated: number;
  omitted: { new: number; regressed: number; stillOpen: number; resolved: number; reasons: number; unreadSources: number };
  fullList: { table: string | null; command: string };
}

/** Keeps one pathological string (a huge policy name in a title) from eating the whole message. */
export function clip(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

function detailString(details: Record<string, unknown>, key: string): string | undefined {
  const value = details[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `iam:GetCredentialReport` when the call was denied; null for throttling, missing files and the like. */
export { missingPermission };

/** `arn:aws:iam::123456789012:user/path/bob#access_key_1` -> `bob`: IAM commands take the bare name. */
function userName(resource: string): string | null {
  const match = /^arn:[^:]+:iam::\d*:user\/(?:.*\/)?([^/#*]+)(?:#.*)?$/.exec(resource);
  return match?.[1] ?? null;
}

/** The check's command, with the user filled in when the finding is about one, ready to paste. */
export function remediationFor(checkId: string, resource: string): string | null {
  const command = REMEDIATION.get(checkId);
  if (!command) return null;
  const user = userName(resource);
  return user ? command.replaceAll('<user>', user) : command;
}

/**
 * A check that knows the exact fix puts it in the finding (user-full-access: one command per
 * granting path, e.g. remove-user-from-group); it beats the check's generic command.
 */
function findingCommand(details: Record<string, unknown>): string | null {
  const commands = Array.isArray(details.commands) ? details.commands.filter((c): c is string => typeof c === 'string') : [];
  if (commands.length > 0) return commands.join(' && ');
  return typeof details.command === 'string' ? details.command : null;
}

export interface Limits {
  text: number;
  reasons: number;
  sources: number;
}

export function toItem(f: ReconciledFinding, limits: Limits): AlertItem {
  const s = f.state;
  const item: AlertItem = {
    id: clip(s.id, limits.text),
    checkId: s.checkId,
    resource: clip(s.resource, limits.text),
    status: s.status,
    severity: s.severity,
    title: clip(s.title, limits.text),
    // A resolved finding needs no fix; the command would only add bytes.
    remediation: f.change === 'resolved' ? null : (findingCommand(s.details) ?? remediationFor(s.checkId, s.resource)),
    firstSeen: s.firstSeen,
    previousStatus: f.previousStatus,
  };
  if (f.change === 'resolved' && s.resolvedAt) item.resolvedAt = s.resolvedAt;
  if (s.status === 'ERROR' && f.change !== 'resolved') {
    const call = detailString(s.details, 'call');
    const reason = detailString(s.details, 'reason') ?? detailString(s.details, 'exception');
    if (call || reason) {
      const code = detailString(s.details, 'code');
      item.error = { call: clip(call ?? 'unknown', limits.text), reason: clip(reason ?? '', limits.text), ...(code ? { code } : {}) };
      const permission = call ? missingPermission(call, code, reason ?? '') : null;
      item.remediation = permission
        ? `allow ${permission} for the auditor's role, then run the audit again`
        : `fix the failing call${call ? ` (${item.error.call})` : ''}, then run the audit again`;
    }
  }
  return item;
}

/** An item's email lines, rendered once and reused while the size limit is searched. */
export function emailLines(item: AlertItem, kind: ListKey): string {
  const head = `- ${item.severity.toUpperCase()} ${kind === 'resolved' ? `was ${item.previousStatus ?? 'open'}` : item.status} ${item.checkId} ${item.resource}`;
  const lines = [head, `    ${item.title}`];
  if (kind === 'resolved') {
    lines.push(`    resolved${item.resolvedAt ? ` ${item.resolvedAt}` : ''}, open since ${item.firstSeen}`);
    return lines.join('\n');
  }
  if (kind === 'regressed') lines.push(`    was ${item.previousStatus ?? 'unknown'}, first seen ${item.firstSeen}`);
  if (kind === 'stillOpen') lines.push(`    open since ${item.firstSeen}`);
  if (item.error)
    lines.push(
      `    failed: ${item.error.call}${item.error.code ? ` (${item.error.code})` : ''}${item.error.reason ? `: ${item.error.reason}` : ''}`,
    );
  if (item.remediation) lines.push(`    fix: ${item.remediation}`);
  return lines.join('\n');
}

export function fullListPointer(table: string | null, accountId: string): string {
  const command = `\`${FINDINGS_COMMAND}\``;
  return table
    ? `the full list is in DynamoDB table ${table} (or run ${command} for account ${accountId})`
    : `the full list: run ${command} for account ${accountId}`;
}

function whereToLook(table: string | null, accountId: string): string {
  const command = `run \`${FINDINGS_COMMAND}\` for account ${accountId}`;
  return table ? `DynamoDB table ${table}, or ${command}` : command;
}

export function sourceLine(s: SourceReport, limits: Limits, runChecks: readonly CheckId[]): UnreadSourceLine {
  const permission = missingPermission(s.call ?? '', s.code, s.reason ?? '');
  return {
    source: clip(s.source, limits.text),
    call: clip(s.call ?? 'unknown', limits.text),
    reason: clip(s.reason ?? '', limits.text),
    ...(s.code ? { code: clip(s.code, limits.text) } : {}),
    missingPermission: permission === null ? null : clip(permission, limits.text),
    checks: checksReading(s.input, runChecks),
  };
}

const SECTION_TITLES = {
  new: 'NEW',
  regressed: 'REGRESSED (failing again)',
  stillOpen: 'STILL OPEN',
  resolved: 'RESOLVED',
} as const;

export type ListKey = keyof typeof SECTION_TITLES;
export const LIST_KEYS: readonly ListKey[] = ['new', 'regressed', 'stillOpen', 'resolved'];

/** The readable text for email subscribers: what happened, then each list with its fix. */
export function renderEmail(summary: AlertSummary, lines: Record<ListKey, readonly string[]>): string {
  const { counts } = summary;
  const out: string[] = [];
  out.push(`account-auditor: account ${summary.accountId}`);
  out.push(`Run ${summary.runId} (${summary.trigger}, ${summary.origin}), observed ${summary.collectedAt}`);
  out.push(`Why this message: ${summary.reason}`);
  const totals = [
    `${counts.new} new`,
    `${counts.regressed} regressed`,
    `${counts.stillOpen} still open`,
    `${counts.resolved} resolved`,
    `${counts.errorChecks} ${counts.errorChecks === 1 ? 'check' : 'checks'} in ERROR`,
  ];
  if (counts.unreadSources > 0) totals.push(`${counts.unreadSources} ${counts.unreadSources === 1 ? 'source' : 'sources'} not read`);
  out.push(`Summary: ${totals.join(', ')}.`);
  if (summary.missingPermissions.length > 0) {
    out.push(`Missing permissions: ${summary.missingPermissions.join(', ')}: allow them for the auditor's role, then run the audit again.`);
  }
  const unlisted: string[] = [];
  if (counts.muted > 0) unlisted.push(`${counts.muted} muted`);
  if (counts.belowThreshold > 0) unlisted.push(`${counts.belowThreshold} FAIL below ${summary.minAlertSeverity}`);
  if (counts.warnings > 0) unlisted.push(`${counts.warnings} WARN (close to a limit, not failing yet)`);
  if (unlisted.length) out.push(`Not listed: ${unlisted.join(', ')}.`);
  out.push('');

  out.push(`CHECKS IN ERROR (${counts.errorChecks})`);
  if (summary.checksInError.length === 0) out.push('  none: every check ran');
  else {
    out.push('  These checks could not be evaluated: their findings are neither PASS nor resolved until they run again.');
    for (const c of summary.checksInError) {
      out.push(`- ${c.checkId}${c.missingPermissions.length > 0 ? ` (missing permission: ${c.missingPermissions.join(', ')})` : ''}`);
      for (const r of c.reasons) out.push(`    ${r}`);
      if (c.moreReasons > 0) out.push(`    … and ${c.moreReasons} more`);
    }
  }
  out.push('');

  if (summary.unreadSources.length > 0 || counts.unreadSources > 0) {
    out.push(`NOT READ (${counts.unreadSources}): the audit is incomplete until the auditor can read these`);
    for (const s of summary.unreadSources) {
      out.push(`- ${s.source}: ${s.call} failed${s.code ? ` (${s.code})` : ''}${s.reason ? `: ${s.reason}` : ''}`);
      if (s.missingPermission) out.push(`    missing permission: ${s.missingPermission}`);
      if (s.checks.length > 0) out.push(`    read by: ${s.checks.join(', ')}`);
    }
    if (summary.omitted.unreadSources > 0) out.push(`  … and ${summary.omitted.unreadSources} more`);
    out.push('');
  }

  const total: Record<ListKey, number> = {
    new: counts.new,
    regressed: counts.regressed,
    stillOpen: counts.stillOpen,
    resolved: counts.resolved,
  };
  const pointer = fullListPointer(summary.fullList.table, summary.accountId);
  for (const key of LIST_KEYS) {
    out.push(`${SECTION_TITLES[key]} (${total[key]})`);
    const shown = lines[key];
    if (total[key] === 0) out.push('  none');
    for (const line of shown) out.push(line);
    const more = summary.omitted[key];
    if (more > 0 && shown.length === 0) out.push(`  not listed here (${more}): ${pointer}`);
    else if (more > 0) out.push(`  … and ${more} more: ${pointer}`);
    out.push('');
  }
  out.push(`Full list and history: ${whereToLook(summary.fullList.table, summary.accountId)}.`);
  return out.join('\n');
}

const SHORT: Record<Severity, string> = { critical: 'crit', high: 'high', medium: 'med', low: 'low', informational: 'info' };

/** Printable ASCII only: SNS rejects control characters and line breaks in a subject. */
export function asciiSafe(value: string): string {
  return value
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * `account-auditor <account>: 2 new (1 critical, 1 high), 1 resolved, checks in ERROR: 1`.
 * When too long, the least urgent parts go first (open, resolved), then the severity names are
 * shortened, then dropped; ERROR and unread sources stay to the end, being the worst news.
 */
/** `account-auditor <account>: `; an account ID is 12 digits, anything longer (a test name, an alias) must not crowd out the rest. */
export function subjectPrefix(accountId: string): string {
  const account = asciiSafe(accountId);
  return `account-auditor ${account.length > 24 ? `${account.slice(0, 21)}...` : account}: `;
}

/** The first of the variants (most to least detailed) that fits SNS's subject limit, else the last one cut. */
export function fitSubject(prefix: string, variants: readonly string[]): string {
  for (const rest of variants) {
    const subject = asciiSafe(prefix + rest);
    if (subject.length <= SUBJECT_MAX) return subject;
  }
  const last = asciiSafe(prefix + (variants.at(-1) ?? ''));
  return `${last.slice(0, SUBJECT_MAX - 3).trimEnd()}...`;
}

export function renderSubject(summary: AlertSummary): string {
  const { counts } = summary;
  const prefix = subjectPrefix(summary.accountId);
  const bySeverity = (names: Record<Severity, string> | null): string => {
    const parts = SEVERITIES.filter((s) => counts.newlyFailingBySeverity[s] > 0).map(
      (s) => `${counts.newlyFailingBySeverity[s]} ${names ? names[s] : s}`,
    );
    return parts.length ? ` (${parts.join(', ')})` : '';
  };
  const full = Object.fromEntries(SEVERITIES.map((s) => [s, s])) as Record<Severity, string>;
  const optional = {
    open: summary.alertOn !== 'new' && counts.open > 0 ? `${counts.open} open` : null,
    resolved: counts.resolved > 0 ? `${counts.resolved} resolved` : null,
  };
  const essential = [
    counts.errorChecks > 0 ? `checks in ERROR: ${counts.errorChecks}` : null,
    counts.unreadSources > 0 ? `sources not read: ${counts.unreadSources}` : null,
  ];
  const attempts: string[][] = [
    [`${counts.newlyFailing} new${bySeverity(full)}`, optional.open, optional.resolved, ...essential].filter(
      (p): p is string => p !== null,
    ),
    [`${counts.newlyFailing} new${bySeverity(full)}`, optional.open, ...essential].filter((p): p is string => p !== null),
    [`${counts.newlyFailing} new${bySeverity(full)}`, ...essential].filter((p): p is string => p !== null),
    [`${counts.newlyFailing} new${bySeverity(SHORT)}`, ...essential].filter((p): p is string => p !== null),
    [`${counts.newlyFailing} new`, ...essential].filter((p): p is string => p !== null),
  ];
  return fitSubject(
    prefix,
    attempts.map((parts) => parts.join(', ')),
  );
}
