import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { z } from 'zod';
import type { Severity } from '#lib/model/finding.ts';
import { SEVERITIES, severityRank } from '#lib/model/finding.ts';
import type { ReconciledFinding, ReconciledRun, RunRecord } from '#lib/reconcile/types.ts';
import { OUTCOME_CAUSE_CHARS } from '#lib/organization/contract.ts';
import type { AccountLine, AccountState } from '#lib/organization/summary.ts';
import { type Alert, attributeBytes, numberAttribute, SNS_MAX_BYTES, snsAlert, stringAttribute } from './alert.ts';
import type { AlertItem, AlertSummary, Limits, ListKey } from './format.ts';
import { asciiSafe, clip, emailLines, FINDINGS_COMMAND, fitSubject, LIST_KEYS, toItem } from './format.ts';
import type { AlertSettings } from './select.ts';
import { countBySeverity, decide, highestSeverity, plural, select } from './select.ts';

/**
 * The organization run's digest (SPEC 8, "Alerting"): each per-account run stores its section
 * (what its own alert would have listed, cut to 64 KB), and the summarize step publishes one
 * message with every account's section, the accounts in ERROR first, cut to SNS's 256 KB with
 * "and N more". Pure: the callers read, write and publish.
 */

/** A section item's limit, well under DynamoDB's 400 KB (one item per account and organization run). */
export const SECTION_MAX_BYTES = 64 * 1024;
/** Room kept for the item's keys and attributes besides the section, and DynamoDB's own accounting. */
const SECTION_MARGIN_BYTES = 2 * 1024;
const SECTION_LIMITS: Limits = { text: 500, reasons: 1, sources: 25 };
const NAME_CHARS = 100;
const TEXT_CHARS = 300;

export const ORGANIZATION_COMMAND = 'account-auditor runs --org';

export type ChangeLists = Record<ListKey, AlertItem[]>;
export type ListCounts = Record<ListKey, number>;

/** One account's part of the digest, as the per-account run stores it and the summarize step reads it. */
export interface AccountSection {
  schemaVersion: 1;
  account: { id: string; name: string };
  /** complete: audited, no ERROR; incomplete: audited with ERROR findings or unread sources; failed: not audited. */
  state: AccountState;
  runId: string | null;
  collectedAt: string | null;
  /** The run's findings by status; null when the account was not audited. */
  counts: AccountLine['counts'];
  /** Why the account is in ERROR; null when complete. */
  reason: string | null;
  /** The account's own alert decision under its settings (decide in select.ts): whether it has something to say. */
  alert: boolean;
  highestSeverity: Severity | 'none';
  /** New plus regressed by severity, whatever the cut left in the lists. */
  newlyFailingBySeverity: Record<Severity, number>;
  checksInError: string[];
  unreadSources: string[];
  /**
   * The account's alert selection (select in select.ts): new, regressed, resolved, and still open
   * (only those in ERROR under alertOn `new`, every one under `open` and `always`), most urgent first.
   */
  changes: ChangeLists;
  /** Each list's full length. */
  totals: ListCounts;
  /** What the cut left out of each list ("and N more"). */
  omitted: ListCounts;
}

/** What sectionFromRun reads of a pipeline result (lib/audit/pipeline.ts PipelineResult has it). */
export interface SectionSource {
  reconciled: ReconciledRun;
  alert: { alert: { summary: Pick<AlertSummary, 'alertOn' | 'minAlertSeverity'> } };
}

const emptyLists = (): ChangeLists => ({ new: [], regressed: [], stillOpen: [], resolved: [] });
const zeroCounts = (): ListCounts => ({ new: 0, regressed: 0, stillOpen: 0, resolved: 0 });
const noSeverities = (): Record<Severity, number> => Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/** Why an audited run is in ERROR: its checks in ERROR (and the first reason), its ERROR findings, or its unread sources. */
function incompleteReason(run: RunRecord): string {
  if (run.checksInError.length > 0) {
    const first = run.checksInError[0]!.reasons[0];
    return clip(`checks in ERROR: ${run.checksInError.map((c) => c.checkId).join(', ')}${first ? `: ${first}` : ''}`, TEXT_CHARS);
  }
  const errors = run.counts.byStatus.ERROR;
  if (errors > 0) return `${plural(errors, 'finding')} in ERROR`;
  const unread = run.sources.filter((s) => s.state === 'unread').map((s) => s.source);
  return unread.length > 0 ? clip(`sources not read: ${unread.join(', ')}`, TEXT_CHARS) : 'the run did not read every source';
}

/**
 * Why the audit could not enter the account, or null: the `organization` check is in ERROR only
 * when the member role could not be assumed, and then the account was not audited at all (the
 * digest's "failed", as the command line and the run record say).
 */
function notEntered(checksInError: readonly { checkId: string; reasons: readonly string[] }[]): string | null {
  const entry = checksInError.find((c) => c.checkId === 'organization');
  return entry ? clip(entry.reasons[0] ?? 'the member role could not be assumed', TEXT_CHARS) : null;
}

/**
 * One account's section from its single-account pipeline result: its alert selection under the
 * settings its alert was built with, cut (most urgent kept) to SECTION_MAX_BYTES with what was
 * left out counted.
 */
export function sectionFromRun(account: { id: string; name: string }, source: SectionSource): AccountSection {
  const run = source.reconciled;
  const { alertOn, minAlertSeverity } = source.alert.alert.summary;
  const settings = { alertOn, minAlertSeverity } as AlertSettings;
  const selection = select(run, settings);
  const lists: Record<ListKey, ReconciledFinding[]> = {
    new: selection.new,
    regressed: selection.regressed,
    // Under `new`, a FAIL still open is old news; an ERROR still open is an auditor not auditing.
    stillOpen: alertOn === 'new' ? selection.stillOpen.filter((f) => f.state.status === 'ERROR') : selection.stillOpen,
    resolved: selection.resolved,
  };
  const { PASS, FAIL, WARN, ERROR } = run.run.counts.byStatus;
  const complete = run.run.complete && ERROR === 0;
  const entry = notEntered(run.run.checksInError);
  const section: AccountSection = {
    schemaVersion: 1,
    account: { id: account.id, name: clip(account.name, NAME_CHARS) },
    state: entry ? 'failed' : complete ? 'complete' : 'incomplete',
    runId: run.run.runId,
    collectedAt: run.run.collectedAt,
    counts: { total: run.run.counts.total, PASS, FAIL, WARN, ERROR },
    reason: entry ?? (complete ? null : incompleteReason(run.run)),
    alert: decide(run, selection, settings).alert,
    highestSeverity: highestSeverity(run, selection, settings),
    newlyFailingBySeverity: countBySeverity([...selection.new, ...selection.regressed]),
    checksInError: run.run.checksInError.map((c) => c.checkId),
    unreadSources: selection.unreadSources.slice(0, SECTION_LIMITS.sources).map((s) => clip(s.source, NAME_CHARS)),
    changes: emptyLists(),
    totals: {
      new: lists.new.length,
      regressed: lists.regressed.length,
      stillOpen: lists.stillOpen.length,
      resolved: lists.resolved.length,
    },
    omitted: zeroCounts(),
  };
  return fill(section, lists, (f) => toItem(f, SECTION_LIMITS));
}

/**
 * The section's lists filled in order of urgency while they fit SECTION_MAX_BYTES, each item made
 * only when it is kept (a 60,000-finding account pays for the few hundred kept); `omitted` counts
 * the rest of each list's total.
 */
function fill<T>(section: AccountSection, lists: Record<ListKey, readonly T[]>, item: (t: T) => AlertItem): AccountSection {
  let room = SECTION_MAX_BYTES - SECTION_MARGIN_BYTES - jsonBytes(section);
  let full = false;
  for (const key of LIST_KEYS) {
    for (const f of lists[key]) {
      if (full) break;
      const made = item(f);
      const cost = jsonBytes(made) + 1;
      if (cost > room) {
        full = true;
        break;
      }
      section.changes[key].push(made);
      room -= cost;
    }
    section.omitted[key] = section.totals[key] - section.changes[key].length;
  }
  return section;
}

/**
 * One account's section from the alert its pipeline built (what the pipeline hands its publisher,
 * before the run is saved): the same selection as sectionFromRun, from the alert's lists and
 * counts. Under alertOn `new` the alert's still-open list is kept to its ERROR findings; those the
 * alert itself left out are counted as omitted whatever their status. Null for any other kind of
 * alert (state-not-saved, security-hub-failed): those are published as they are.
 */
export function sectionFromAlert(account: { id: string; name: string }, alert: Alert<unknown>): AccountSection | null {
  const summary = alert.summary as AlertSummary | null;
  if (summary?.kind !== 'findings') return null;
  const { counts } = summary;
  const { PASS, FAIL, WARN, ERROR } = counts.byStatus;
  const complete = summary.complete && ERROR === 0;
  const stillOpen = summary.alertOn === 'new' ? summary.stillOpen.filter((i) => i.status === 'ERROR') : summary.stillOpen;
  const lists: Record<ListKey, AlertItem[]> = { new: summary.new, regressed: summary.regressed, stillOpen, resolved: summary.resolved };
  const first = summary.checksInError[0];
  const reason = complete
    ? null
    : first
      ? clip(
          `checks in ERROR: ${summary.checksInError.map((c) => c.checkId).join(', ')}${first.reasons[0] ? `: ${first.reasons[0]}` : ''}`,
          TEXT_CHARS,
        )
      : ERROR > 0
        ? `${plural(ERROR, 'finding')} in ERROR`
        : summary.unreadSources.length > 0
          ? clip(`sources not read: ${summary.unreadSources.map((u) => u.source).join(', ')}`, TEXT_CHARS)
          : 'the run did not read every source';
  const entry = notEntered(summary.checksInError);
  const section: AccountSection = {
    schemaVersion: 1,
    account: { id: account.id, name: clip(account.name, NAME_CHARS) },
    state: entry ? 'failed' : complete ? 'complete' : 'incomplete',
    runId: summary.runId,
    collectedAt: summary.collectedAt,
    counts: { total: PASS + FAIL + WARN + ERROR, PASS, FAIL, WARN, ERROR },
    reason: entry ?? reason,
    alert: summary.alert,
    highestSeverity: summary.highestSeverity,
    newlyFailingBySeverity: { ...counts.newlyFailingBySeverity },
    checksInError: summary.checksInError.map((c) => c.checkId),
    unreadSources: summary.unreadSources.slice(0, SECTION_LIMITS.sources).map((u) => clip(u.source, NAME_CHARS)),
    changes: emptyLists(),
    totals: {
      new: counts.new,
      regressed: counts.regressed,
      stillOpen: stillOpen.length + summary.omitted.stillOpen,
      resolved: counts.resolved,
    },
    omitted: zeroCounts(),
  };
  return fill(section, lists, (i) => i);
}

/** An account that has no section of its own: the map says its invocation failed (Step Functions' error and cause). */
export function failedSection(account: { id: string; name: string }, reason: string): AccountSection {
  return {
    schemaVersion: 1,
    account: { id: account.id, name: clip(account.name, NAME_CHARS) },
    state: 'failed',
    runId: null,
    collectedAt: null,
    counts: null,
    reason: clip(reason, OUTCOME_CAUSE_CHARS),
    alert: true,
    highestSeverity: 'high',
    newlyFailingBySeverity: noSeverities(),
    checksInError: [],
    unreadSources: [],
    changes: emptyLists(),
    totals: zeroCounts(),
    omitted: zeroCounts(),
  };
}

/** A stored section of an account whose invocation then failed: its changes stay (they may be saved as known already). */
function failedOver(section: AccountSection, reason: string): AccountSection {
  return {
    ...section,
    state: 'failed',
    alert: true,
    reason: clip(`${reason}; the changes listed were found before it failed`, OUTCOME_CAUSE_CHARS),
  };
}

/**
 * The accounts of an organization run as the digest lists them: each account's stored section,
 * with the map's outcome over it. A failed invocation is a failed section (its stored section, if
 * it wrote one before failing, keeps its changes: they may be saved as known already). An audited
 * account writes its section where its pipeline would publish its alert, so a complete one
 * without a section had nothing to say; an incomplete one always alerts, so without a section it
 * stays in ERROR, saying its findings are not listed.
 */
export function mergeSections(stored: readonly AccountSection[], lines: readonly AccountLine[]): AccountSection[] {
  const byId = new Map(stored.map((s) => [s.account.id, s]));
  const out: AccountSection[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    if (seen.has(line.id)) continue;
    seen.add(line.id);
    const section = byId.get(line.id);
    if (line.state === 'failed') {
      const reason = line.reason ?? 'the invocation failed';
      // A section that says why the account was not entered says it best; any other was cut short by the failure.
      out.push(
        section
          ? section.state === 'failed'
            ? section
            : failedOver(section, reason)
          : failedSection({ id: line.id, name: line.name }, reason),
      );
    } else if (section) {
      out.push(section);
    } else if (line.state === 'complete') {
      // The per-account run writes its section where it would publish its alert: none means it had nothing to say.
      out.push({
        ...failedSection({ id: line.id, name: line.name }, ''),
        state: 'complete',
        runId: line.runId,
        counts: line.counts,
        reason: null,
        alert: false,
        highestSeverity: 'none',
      });
    } else {
      out.push({
        ...failedSection({ id: line.id, name: line.name }, ''),
        state: 'incomplete',
        runId: line.runId,
        counts: line.counts,
        reason: clip(
          `${line.reason ? `${line.reason}; ` : ''}no digest section was stored for run ${line.runId ?? '(unknown)'}: its findings are not listed here (\`${FINDINGS_COMMAND} --account ${line.id}\`)`,
          TEXT_CHARS,
        ),
      });
    }
  }
  // A section of an account the map did not run (never expected) is still reported, not dropped.
  for (const section of stored) if (!seen.has(section.account.id)) out.push(section);
  return out;
}

const itemSchema = z.looseObject({
  id: z.string(),
  checkId: z.string(),
  resource: z.string(),
  status: z.enum(['PASS', 'FAIL', 'WARN', 'ERROR']),
  severity: z.enum(['critical', 'high', 'medium', 'low', 'informational']),
  title: z.string(),
  remediation: z.string().nullable(),
  firstSeen: z.string(),
  previousStatus: z.enum(['PASS', 'FAIL', 'WARN', 'ERROR']).nullable(),
});
const listsSchema = z.object({
  new: z.array(itemSchema),
  regressed: z.array(itemSchema),
  stillOpen: z.array(itemSchema),
  resolved: z.array(itemSchema),
});
const countsSchema = z.object({
  new: z.number().int().min(0),
  regressed: z.number().int().min(0),
  stillOpen: z.number().int().min(0),
  resolved: z.number().int().min(0),
});
const sectionSchema = z.looseObject({
  schemaVersion: z.literal(1),
  account: z.looseObject({ id: z.string(), name: z.string() }),
  state: z.enum(['complete', 'incomplete', 'failed']),
  runId: z.string().nullable(),
  collectedAt: z.string().nullable(),
  counts: z.object({ total: z.number(), PASS: z.number(), FAIL: z.number(), WARN: z.number(), ERROR: z.number() }).nullable(),
  reason: z.string().nullable(),
  alert: z.boolean(),
  highestSeverity: z.enum(['critical', 'high', 'medium', 'low', 'informational', 'none']),
  newlyFailingBySeverity: z.record(z.string(), z.number()),
  checksInError: z.array(z.string()),
  unreadSources: z.array(z.string()),
  changes: listsSchema,
  totals: countsSchema,
  omitted: countsSchema,
});

/**
 * A stored section read back, or, when it cannot be read, a failed section naming why: an
 * unreadable section is an account in ERROR, never a quiet one.
 */
export function parseSection(raw: unknown, accountId: string): AccountSection {
  const parsed = sectionSchema.safeParse(raw);
  if (parsed.success && parsed.data.account.id === accountId) return parsed.data as unknown as AccountSection;
  const name = (raw as { account?: { name?: unknown } } | null)?.account?.name;
  const problem = parsed.success
    ? `it names account ${parsed.data.account.id}`
    : (() => {
        const issue = parsed.error.issues[0];
        return issue ? `${issue.path.join('.') || '(section)'}: ${issue.message}` : 'invalid';
      })();
  return failedSection(
    { id: accountId, name: typeof name === 'string' ? name : accountId },
    `the stored digest section cannot be read (${problem}): \`${FINDINGS_COMMAND} --account ${accountId}\` lists its open findings`,
  );
}

/** In ERROR: not audited, or audited with ERROR findings or unread sources. */
export const inError = (s: AccountSection): boolean => s.state !== 'complete';

const hasChanges = (s: AccountSection): boolean => LIST_KEYS.some((k) => s.totals[k] > 0);

/**
 * Whether the organization run is worth a digest: as for one account, an account in ERROR always
 * is, and otherwise an account whose own alert rule says it has something to say (new or
 * regressed under `new`, an open FAIL under `open`, every run under `always`).
 */
export function shouldPublishDigest(sections: readonly AccountSection[]): boolean {
  return sections.some((s) => inError(s) || s.alert);
}

const STATE_ORDER: Record<AccountState, number> = { failed: 0, incomplete: 1, complete: 2 };
const rankOf = (s: Severity | 'none'): number => (s === 'none' ? 0 : severityRank(s));

/** Failed, then incomplete, then the rest; within each, the worst news first, then by account ID. */
export function compareSections(a: AccountSection, b: AccountSection): number {
  return (
    STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
    rankOf(b.highestSeverity) - rankOf(a.highestSeverity) ||
    (a.account.id < b.account.id ? -1 : a.account.id > b.account.id ? 1 : 0) ||
    (a.account.name < b.account.name ? -1 : a.account.name > b.account.name ? 1 : 0)
  );
}

export type DigestKind = 'organization-digest' | 'organization-failed-accounts';

/** The `default` part of the digest, for machine subscribers. */
export interface DigestSummary {
  source: 'account-auditor';
  schemaVersion: 1;
  kind: DigestKind;
  organizationRunId: string;
  startedAt: string;
  /** Why this message was sent. */
  reason: string;
  /** Set on a digest published by a later run for a run that stopped before it reported: why it is late. */
  late?: string;
  highestSeverity: Severity | 'none';
  /** Full counts over every account, whatever the size limit left in `accounts`. */
  counts: {
    accounts: number;
    complete: number;
    incomplete: number;
    failed: number;
    inError: number;
    /** Accounts with something to list (in ERROR, changes, or an alert of their own). */
    listed: number;
    /** Accounts with nothing to report: counted, never listed. */
    quiet: number;
    newlyFailing: number;
    newlyFailingBySeverity: Record<Severity, number>;
    new: number;
    regressed: number;
    stillOpen: number;
    resolved: number;
    errorChecks: number;
  };
  /** The accounts shown, in ERROR first; each one's lists cut further when the message needs it. */
  accounts: AccountSection[];
  /** What the 256 KB limit left out: listed accounts not shown (of which in ERROR), and findings not shown. */
  omitted: { accounts: number; accountsInError: number; findings: number };
  fullList: { table: string | null; findings: string; runs: string };
}

export interface DigestInput {
  organizationRunId: string;
  startedAt: string;
  /** Every account of the run (mergeSections). */
  sections: readonly AccountSection[];
  /**
   * Accounts whose invocation failed outright, from the map's outcomes: merged over `sections` by
   * account ID (a section of the same account keeps its changes, and becomes failed).
   */
  failedAccounts?: readonly { id: string; name: string; reason: string }[];
  /** Named as where the full lists are. */
  tableName?: string;
  /** The limit to fit under; SNS's 256 KiB by default. */
  maxBytes?: number;
  /**
   * A digest published after the fact, by a later run (publishPendingDigests): why this run's own
   * digest was not published. The subject and the first lines name the run and its start.
   */
  late?: string;
}

/** `failedAccounts` over `sections`: a section of a failed account keeps its changes and becomes failed. */
function withFailed(input: DigestInput): AccountSection[] {
  const failed = new Map((input.failedAccounts ?? []).map((f) => [f.id, f]));
  const out = input.sections.map((s) => {
    const f = failed.get(s.account.id);
    if (!f) return s;
    failed.delete(s.account.id);
    return failedOver(s, f.reason);
  });
  for (const f of failed.values()) out.push(failedSection(f, f.reason));
  return out;
}

const SHORT: Record<Severity, string> = { critical: 'crit', high: 'high', medium: 'med', low: 'low', informational: 'info' };

function renderSubject(summary: DigestSummary): string {
  const { counts } = summary;
  const prefix = summary.late
    ? `account-auditor organization, late digest of the run of ${summary.startedAt.slice(0, 16)}Z: `
    : 'account-auditor organization: ';
  if (summary.kind === 'organization-failed-accounts') {
    return fitSubject(prefix, [`${plural(counts.failed, 'account')} could not be audited`, `${counts.failed} accounts failed`]);
  }
  const bySeverity = (names: Record<Severity, string> | null): string => {
    const parts = SEVERITIES.filter((s) => counts.newlyFailingBySeverity[s] > 0).map(
      (s) => `${counts.newlyFailingBySeverity[s]} ${names ? names[s] : s}`,
    );
    return parts.length ? ` (${parts.join(', ')})` : '';
  };
  const full = Object.fromEntries(SEVERITIES.map((s) => [s, s])) as Record<Severity, string>;
  const errors = counts.inError > 0 ? `accounts in ERROR: ${counts.inError}` : null;
  const resolved = counts.resolved > 0 ? `${counts.resolved} resolved` : null;
  const head = (names: Record<Severity, string> | null) => `${counts.newlyFailing} new${names ? bySeverity(names) : ''}`;
  const variants = [
    [head(full), resolved, errors, `${plural(counts.accounts, 'account')}`],
    [head(full), resolved, errors],
    [head(full), errors],
    [head(SHORT), errors],
    [head(null), errors],
  ].map((parts) => parts.filter((p): p is string => p !== null).join(', '));
  return fitSubject(prefix, variants);
}

function sectionHeader(s: AccountSection): string {
  const who = `${asciiSafe(s.account.id)}${s.account.name && s.account.name !== s.account.id ? ` (${s.account.name})` : ''}`;
  const changes = LIST_KEYS.filter((k) => s.totals[k] > 0).map((k) => `${s.totals[k]} ${k === 'stillOpen' ? 'still open' : k}`);
  const state = s.state === 'failed' ? 'NOT AUDITED' : s.state === 'incomplete' ? 'INCOMPLETE' : null;
  const parts = [state ? `${state}: ${s.reason ?? ''}` : null, changes.length > 0 ? changes.join(', ') : null].filter(Boolean);
  return `== ${who}${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`;
}

const LIST_TITLES: Record<ListKey, string> = {
  new: 'NEW',
  regressed: 'REGRESSED (failing again)',
  stillOpen: 'STILL OPEN',
  resolved: 'RESOLVED',
};

/** The readable text: the run, the accounts in ERROR, then the accounts with changes, each with its lists. */
function renderEmail(summary: DigestSummary, lineOf: (item: AlertItem, key: ListKey) => string): string {
  const { counts } = summary;
  const out: string[] = [];
  out.push(`account-auditor: organization run ${summary.organizationRunId}, started ${summary.startedAt}`);
  if (summary.late) out.push(`LATE DIGEST: ${summary.late}`);
  out.push(`Why this message: ${summary.reason}`);
  out.push(
    `Accounts: ${counts.accounts} (${counts.complete} complete, ${counts.incomplete} incomplete, ${counts.failed} not audited). ` +
      `Findings: ${counts.new} new, ${counts.regressed} regressed, ${counts.stillOpen} still open, ${counts.resolved} resolved.`,
  );
  if (counts.quiet > 0) out.push(`Not listed: ${plural(counts.quiet, 'account')} with nothing to report.`);
  out.push('');
  const groups: [string, AccountSection[], number][] = [
    ['ACCOUNTS IN ERROR', summary.accounts.filter(inError), counts.inError],
    ['ACCOUNTS WITH CHANGES', summary.accounts.filter((s) => !inError(s)), counts.listed - counts.inError],
  ];
  for (const [title, shown, total] of groups) {
    if (total === 0 && summary.kind === 'organization-failed-accounts') continue;
    out.push(`${title} (${total})`);
    if (total === 0) out.push('  none');
    for (const s of shown) {
      out.push(sectionHeader(s));
      for (const key of LIST_KEYS) {
        if (s.totals[key] === 0) continue;
        out.push(`  ${LIST_TITLES[key]} (${s.totals[key]})`);
        for (const item of s.changes[key]) out.push(lineOf(item, key));
        if (s.omitted[key] > 0) out.push(`    … and ${s.omitted[key]} more: \`${FINDINGS_COMMAND} --account ${s.account.id}\``);
      }
    }
    out.push('');
  }
  if (summary.omitted.accounts > 0) {
    out.push(
      `… and ${plural(summary.omitted.accounts, 'more account')}${summary.omitted.accountsInError > 0 ? ` (${summary.omitted.accountsInError} in ERROR)` : ''}: \`${ORGANIZATION_COMMAND}\` lists every account of the run`,
    );
  }
  if (summary.omitted.findings > 0) out.push(`… and ${plural(summary.omitted.findings, 'more finding')} not listed here`);
  const where = summary.fullList.table ? `DynamoDB table ${summary.fullList.table}, or ` : '';
  out.push(`Full lists: ${where}\`${FINDINGS_COMMAND} --account <id>\`; every account's state: \`${ORGANIZATION_COMMAND}\`.`);
  return out.join('\n');
}

/** The first `n` items of a section's lists, in order of urgency. */
function cutSection(s: AccountSection, n: number): AccountSection {
  const changes = emptyLists();
  const omitted = { ...s.omitted };
  let left = n;
  for (const key of LIST_KEYS) {
    const keep = Math.min(left, s.changes[key].length);
    changes[key] = s.changes[key].slice(0, keep);
    omitted[key] = s.totals[key] - keep;
    left -= keep;
  }
  return { ...s, changes, omitted };
}

const itemCount = (s: AccountSection): number => LIST_KEYS.reduce((sum, k) => sum + s.changes[k].length, 0);

/** The largest n in [0, max] for which `fits(n)`, given fits(0); fits is monotone (more shown, more bytes). */
function largest(max: number, fits: (n: number) => boolean): number {
  if (fits(max)) return max;
  let low = 0;
  let high = max;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return low;
}

function compose(kind: DigestKind, input: DigestInput, all: readonly AccountSection[]): Alert<DigestSummary> {
  const maxBytes = input.maxBytes ?? SNS_MAX_BYTES;
  // SNS's own accounting of a JSON-structured message is not documented to the byte: keep a margin.
  const budget = maxBytes - Math.min(4096, Math.floor(maxBytes * 0.02));
  const sections = [...all].sort(compareSections);
  const listed = sections.filter((s) => inError(s) || s.alert || hasChanges(s));
  const sum = (pick: (s: AccountSection) => number) => sections.reduce((n, s) => n + pick(s), 0);
  const newlyFailingBySeverity = noSeverities();
  for (const s of sections) for (const sev of SEVERITIES) newlyFailingBySeverity[sev] += s.newlyFailingBySeverity[sev] ?? 0;
  const counts: DigestSummary['counts'] = {
    accounts: sections.length,
    complete: sections.filter((s) => s.state === 'complete').length,
    incomplete: sections.filter((s) => s.state === 'incomplete').length,
    failed: sections.filter((s) => s.state === 'failed').length,
    inError: sections.filter(inError).length,
    listed: listed.length,
    quiet: sections.length - listed.length,
    newlyFailing: sum((s) => s.totals.new + s.totals.regressed),
    newlyFailingBySeverity,
    new: sum((s) => s.totals.new),
    regressed: sum((s) => s.totals.regressed),
    stillOpen: sum((s) => s.totals.stillOpen),
    resolved: sum((s) => s.totals.resolved),
    errorChecks: sum((s) => s.checksInError.length),
  };
  const highest = sections.reduce<Severity | 'none'>(
    (worst, s) => (rankOf(s.highestSeverity) > rankOf(worst) ? s.highestSeverity : worst),
    'none',
  );
  const reasons: string[] = [];
  if (kind === 'organization-failed-accounts') {
    reasons.push(`per-account alerts: ${plural(counts.failed, 'account')} could not be audited, so no alert of its own was sent`);
  } else {
    if (counts.inError > 0)
      reasons.push(`${plural(counts.inError, 'account')} in ERROR (${counts.failed} not audited, ${counts.incomplete} incomplete)`);
    const alerting = sections.filter((s) => !inError(s) && s.alert).length;
    if (alerting > 0) reasons.push(`${plural(alerting, 'account')} with something to report under its alert settings`);
    if (reasons.length === 0) reasons.push('nothing to report');
  }
  const attributes: Record<string, MessageAttributeValue> = {
    alertType: stringAttribute(kind),
    organizationRunId: stringAttribute(input.organizationRunId),
    highestSeverity: stringAttribute(highest),
    newCount: numberAttribute(counts.newlyFailing),
    regressedCount: numberAttribute(counts.regressed),
    openCount: numberAttribute(counts.newlyFailing + counts.stillOpen),
    resolvedCount: numberAttribute(counts.resolved),
    errorChecks: numberAttribute(counts.errorChecks),
    accountsInError: numberAttribute(counts.inError),
    complete: stringAttribute(String(counts.inError === 0)),
  };
  const fixedBytes = attributeBytes(attributes);
  // Rendered when first shown, then reused while the size limit is searched.
  const lines = new Map<AlertItem, string>();
  const lineOf = (item: AlertItem, key: ListKey) => {
    let line = lines.get(item);
    if (line === undefined) {
      line = emailLines(item, key)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n');
      lines.set(item, line);
    }
    return line;
  };

  const build = (accounts: number, shownItems: (index: number) => number): Alert<DigestSummary> => {
    const shown = listed.slice(0, accounts).map((s, i) => cutSection(s, shownItems(i)));
    const omittedFindings = sum((s) => LIST_KEYS.reduce((n, k) => n + s.totals[k], 0)) - shown.reduce((n, s) => n + itemCount(s), 0);
    const summary: DigestSummary = {
      source: 'account-auditor',
      schemaVersion: 1,
      kind,
      organizationRunId: input.organizationRunId,
      startedAt: input.startedAt,
      reason: reasons.join('; '),
      ...(input.late ? { late: input.late } : {}),
      highestSeverity: highest,
      counts,
      accounts: shown,
      omitted: {
        accounts: listed.length - shown.length,
        accountsInError: listed.slice(accounts).filter(inError).length,
        findings: omittedFindings,
      },
      fullList: { table: input.tableName ?? null, findings: `${FINDINGS_COMMAND} --account <id>`, runs: ORGANIZATION_COMMAND },
    };
    const email = renderEmail(summary, lineOf);
    return snsAlert({ subject: renderSubject(summary), attributes, email, summary });
  };
  const size = (alert: Alert<DigestSummary>) => Buffer.byteLength(alert.message) + Buffer.byteLength(alert.subject) + fixedBytes;
  const fits = (alert: Alert<DigestSummary>, within = budget) => size(alert) <= within;

  // First the accounts (in ERROR first), without findings; when they do not all fit, they take at
  // most half the message, so the findings of those shown still have room.
  const none = () => 0;
  let accounts = largest(listed.length, (k) => fits(build(k, none)));
  const totalItems = listed.reduce((n, s) => n + itemCount(s), 0);
  if (accounts < listed.length && totalItems > 0) accounts = largest(accounts, (k) => fits(build(k, none), budget / 2));
  // Then the findings, one per shown account per round, so one account with thousands cannot crowd out the others.
  const order: number[] = [];
  const shownCounts = listed.slice(0, accounts).map(itemCount);
  for (let round = 0; ; round++) {
    let added = false;
    for (let i = 0; i < shownCounts.length; i++) {
      if (shownCounts[i]! > round) {
        order.push(i);
        added = true;
      }
    }
    if (!added) break;
  }
  const allocation = (t: number) => {
    const per = new Array<number>(accounts).fill(0);
    for (let j = 0; j < t; j++) per[order[j]!]! += 1;
    return (i: number) => per[i]!;
  };
  const t = largest(order.length, (n) => fits(build(accounts, allocation(n))));
  return build(accounts, allocation(t));
}

/**
 * The organization run's one message (digest mode): every listed account's section, the accounts
 * in ERROR first, deterministic, always under SNS's limit (accounts and findings cut with "and N
 * more", every account either shown or counted). It builds whatever shouldPublishDigest says; the
 * caller decides whether to publish.
 */
export function buildDigest(input: DigestInput): Alert<DigestSummary> {
  return compose('organization-digest', input, withFailed(input));
}

/**
 * Per-account mode's only organization message: the accounts whose invocation failed outright (no
 * account alert was published for them). The caller publishes it when there is at least one.
 */
export function buildFailedAccountsAlert(input: DigestInput): Alert<DigestSummary> {
  return compose(
    'organization-failed-accounts',
    input,
    withFailed(input).filter((s) => s.state === 'failed'),
  );
}
