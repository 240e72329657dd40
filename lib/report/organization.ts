import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import type { PipelineResult } from '#lib/audit/pipeline.ts';
import type { Alert } from '#lib/notify/alert.ts';
import type { AccountState } from '#lib/organization/summary.ts';
import { CSV_COLUMNS, csvRows, jsonDocument } from './render.ts';

/** One account of an organization run, as the command line reports it. */
export interface AccountRun {
  account: { id: string; name: string; roleArn?: string | null };
  /** complete: audited, no ERROR; incomplete: audited with ERROR findings or unread sources; failed: not audited. */
  state: AccountState;
  /** The account's run; null when its audit ended before a run existed (an unexpected error). */
  pipeline: PipelineResult | null;
  /** Why the account is in ERROR; null when complete. */
  reason: string | null;
}

const STATE_ORDER: Record<AccountState, number> = { failed: 0, incomplete: 1, complete: 2 };

/** Accounts in ERROR first (not audited, then incomplete), otherwise in the order they were listed. */
export function inErrorFirst(runs: readonly AccountRun[]): AccountRun[] {
  return runs
    .map((run, index) => ({ run, index }))
    .sort((a, b) => STATE_ORDER[a.run.state] - STATE_ORDER[b.run.state] || a.index - b.index)
    .map(({ run }) => run);
}

function countsOf(run: AccountRun) {
  const p = run.pipeline;
  if (!p) return null;
  const { byStatus, new: created, regressed, resolved } = p.reconciled.run.counts;
  return { ...byStatus, new: created + regressed, resolved };
}

/** The name column: as wide as the longest name, within what the terminal leaves. */
function nameWidth(runs: readonly AccountRun[], width: number): number {
  const longest = Math.max(4, ...runs.map((r) => r.account.name.length));
  return Math.max(12, Math.min(longest + 2, width - 90, 52));
}

export interface OrganizationTableOptions {
  organizationRunId: string;
  /** Said to the user: which table or folder holds the state; null with --no-store. */
  where: string | null;
  width?: number;
}

const REASONS_SHOWN = 50;

/**
 * The organization run for a terminal: one row per account (accounts in ERROR first) with its
 * counts by status and what changed since its last run, then why each account in ERROR is.
 */
export function renderOrganizationTable(runs: readonly AccountRun[], options: OrganizationTableOptions): string {
  const count = (state: AccountState) => runs.filter((r) => r.state === state).length;
  const out = [
    `organization run ${options.organizationRunId} · ${runs.length} account${runs.length === 1 ? '' : 's'}: ${count('complete')} complete, ${count('incomplete')} incomplete, ${count('failed')} failed (not audited)`,
    '',
  ];
  const table = new Table({
    head: ['Account', 'Name', 'State', 'PASS', 'FAIL', 'WARN', 'ERROR', 'New', 'Resolved'],
    style: { head: [], border: [], compact: true },
    wordWrap: true,
    colWidths: [14, nameWidth(runs, options.width ?? 160), 12, 6, 6, 6, 7, 5, 10],
  });
  const ordered = inErrorFirst(runs);
  for (const run of ordered) {
    const c = countsOf(run);
    const cell = (n: number | undefined) => (n === undefined ? '-' : String(n));
    table.push([
      run.account.id,
      run.account.name,
      run.state,
      cell(c?.PASS),
      cell(c?.FAIL),
      cell(c?.WARN),
      cell(c?.ERROR),
      cell(c?.new),
      cell(c?.resolved),
    ]);
  }
  out.push(table.toString());
  const inError = ordered.filter((r) => r.state !== 'complete');
  if (inError.length > 0) {
    out.push('', `accounts in ERROR (${inError.length}):`);
    for (const r of inError.slice(0, REASONS_SHOWN)) out.push(`  ${r.account.id} ${r.account.name}: ${r.reason ?? r.state}`);
    if (inError.length > REASONS_SHOWN) out.push(`  … and ${inError.length - REASONS_SHOWN} more accounts in ERROR`);
  }
  out.push(
    '',
    options.where === null
      ? 'state not kept (--no-store): every open finding counts as new'
      : `state in ${options.where}: each account's run is saved with its own state (account-auditor findings --account <id>)`,
  );
  return out.join('\n');
}

/** `--format json`: the organization run and, per account, what `run --format json` prints for one account. */
export function renderOrganizationJson(organizationRunId: string, runs: readonly AccountRun[]): string {
  return JSON.stringify(
    {
      organizationRunId,
      accounts: runs.map((r) => ({
        account: { id: r.account.id, name: r.account.name },
        state: r.state,
        reason: r.reason,
        ...(r.pipeline ? jsonDocument(r.pipeline) : { run: null, findings: [], resolved: [] }),
      })),
    },
    null,
    2,
  );
}

/** `--format csv`: every account's findings under one header; each row names its account. */
export function renderOrganizationCsv(runs: readonly AccountRun[]): string {
  return stringify([[...CSV_COLUMNS], ...runs.flatMap((r) => (r.pipeline ? csvRows(r.pipeline) : []))]);
}

/** The digest as it would be (or was) published, for the terminal. */
export function renderDigest(
  digest: { wanted: boolean; reason: string; alert: Pick<Alert<unknown>, 'subject' | 'email'> },
  outcome: { topic: string | null; messageId: string | null; error?: string },
): string {
  const head = outcome.messageId
    ? `digest published to ${outcome.topic} (SNS message ${outcome.messageId}): ${digest.reason}`
    : outcome.error
      ? `digest NOT published to ${outcome.topic} (${outcome.error}): ${digest.reason}`
      : digest.wanted
        ? `digest that would be published (no --topic): ${digest.reason}`
        : `no digest: ${digest.reason}`;
  if (!digest.wanted) return head;
  return [head, `Subject: ${digest.alert.subject}`, '', digest.alert.email].join('\n');
}
