import { AuditorError } from '#lib/model/errors.ts';
import { accountOutcomeSchema, OUTCOME_CAUSE_CHARS, type SummarizeInput } from './contract.ts';

export type AccountState = 'complete' | 'incomplete' | 'failed';

/** One account's line in the organization summary. */
export interface AccountLine {
  id: string;
  name: string;
  /** complete: audited, no ERROR; incomplete: audited with ERROR findings or unread sources; failed: not audited. */
  state: AccountState;
  runId: string | null;
  counts: { total: number; PASS: number; FAIL: number; WARN: number; ERROR: number } | null;
  /** Why the account is in ERROR; null when complete. */
  reason: string | null;
}

export interface OrganizationSummary {
  organizationRunId: string;
  startedAt: string;
  discovery: SummarizeInput['discovery'];
  /** Accounts the map ran, and how each ended. */
  accounts: number;
  complete: number;
  incomplete: number;
  failed: number;
  /** Findings of the audited accounts, added up. */
  totals: { total: number; PASS: number; FAIL: number; WARN: number; ERROR: number };
  /** Every account, in map order. */
  perAccount: AccountLine[];
  /** The accounts in ERROR (failed or incomplete), failed first, then by ID. */
  inError: AccountLine[];
}

/** How many accounts in ERROR the function's returned summary names; the log line has them all. */
export const RETURNED_IN_ERROR = 50;

const clip = (text: string, chars: number) => (text.length > chars ? `${text.slice(0, chars - 1)}…` : text);

function lineOf(raw: unknown, index: number): AccountLine {
  const parsed = accountOutcomeSchema.safeParse(raw);
  if (!parsed.success) {
    const account = (raw as { account?: { id?: unknown; name?: unknown } } | null)?.account;
    const id = typeof account?.id === 'string' ? account.id : `(item ${index})`;
    const name = typeof account?.name === 'string' ? account.name : id;
    const problem = parsed.error.issues[0];
    return {
      id,
      name,
      state: 'failed',
      runId: null,
      counts: null,
      reason: clip(
        `unreadable map result: ${problem ? `${problem.path.join('.') || '(item)'}: ${problem.message}` : 'invalid'}`,
        OUTCOME_CAUSE_CHARS,
      ),
    };
  }
  const outcome = parsed.data;
  if (outcome.outcome === 'failed') {
    const reason = outcome.cause ? `${outcome.error}: ${outcome.cause}` : outcome.error;
    return {
      id: outcome.account.id,
      name: outcome.account.name,
      state: 'failed',
      runId: null,
      counts: null,
      reason: clip(reason, OUTCOME_CAUSE_CHARS),
    };
  }
  const { runId, complete, counts, accountState } = outcome.run;
  const { PASS, FAIL, WARN, ERROR } = counts.byStatus;
  const line = { id: outcome.account.id, name: outcome.account.name, runId, counts: { total: counts.total, PASS, FAIL, WARN, ERROR } };
  if (accountState === 'failed')
    return { ...line, state: 'failed', reason: 'not audited: the member role could not be assumed (its organization finding says why)' };
  if (complete && ERROR === 0) return { ...line, state: 'complete', reason: null };
  return {
    ...line,
    state: 'incomplete',
    reason: ERROR > 0 ? `${ERROR} finding${ERROR === 1 ? '' : 's'} in ERROR` : 'the run did not read every source',
  };
}

/**
 * The organization run in one object: how every account ended, the findings added up, and the
 * accounts in ERROR (not audited at all, or audited with ERROR findings). A map result this code
 * cannot read counts as a failed account, never as a clean one.
 */
export function summarizeOrganizationRun(input: SummarizeInput): OrganizationSummary {
  return summaryOfLines(input, input.accounts.map(lineOf));
}

/** The organization summary of accounts' lines: the totals, the counts by state, the accounts in ERROR (failed first, then by ID). */
export function summaryOfLines<D>(
  run: { organizationRunId: string; startedAt: string; discovery: D },
  perAccount: AccountLine[],
): Omit<OrganizationSummary, 'discovery'> & { discovery: D } {
  const totals = { total: 0, PASS: 0, FAIL: 0, WARN: 0, ERROR: 0 };
  for (const line of perAccount) {
    if (!line.counts) continue;
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += line.counts[key];
  }
  const count = (state: AccountState) => perAccount.filter((l) => l.state === state).length;
  const inError = perAccount
    .filter((l) => l.state !== 'complete')
    .sort((a, b) => (a.state === b.state ? a.id.localeCompare(b.id) : a.state === 'failed' ? -1 : 1));
  return {
    organizationRunId: run.organizationRunId,
    startedAt: run.startedAt,
    discovery: run.discovery,
    accounts: perAccount.length,
    complete: count('complete'),
    incomplete: count('incomplete'),
    failed: count('failed'),
    totals,
    perAccount,
    inError,
  };
}

/** What the summarize function returns into the execution's state: no per-account list, at most RETURNED_IN_ERROR accounts in ERROR. */
export function compactSummary(summary: OrganizationSummary): Omit<OrganizationSummary, 'perAccount'> & { moreInError: number } {
  const { perAccount: _perAccount, inError, ...rest } = summary;
  return { ...rest, inError: inError.slice(0, RETURNED_IN_ERROR), moreInError: Math.max(0, inError.length - RETURNED_IN_ERROR) };
}

/** No account of the run was audited: the run failed as a whole, whatever the map tolerated. */
export class OrganizationRunError extends AuditorError {}

/**
 * Fails the organization run when the map ran accounts and none returned a run summary: the map
 * tolerates every item's failure, so this is what keeps a broken per-account function from ending
 * in a successful execution (and silencing the "no successful organization run" alarm).
 */
export function assertAudited(summary: OrganizationSummary): void {
  if (summary.accounts > 0 && summary.failed === summary.accounts) {
    const first = summary.inError[0];
    throw new OrganizationRunError(
      `no account was audited: all ${summary.accounts} failed${first ? ` (first: ${first.id}: ${first.reason})` : ''}`,
    );
  }
}
