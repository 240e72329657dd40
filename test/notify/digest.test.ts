import { describe, expect, it } from 'vitest';
import { buildAlert } from '#lib/notify/alert.ts';
import { buildStateNotSavedAlert } from '#lib/notify/state-not-saved.ts';
import {
  buildDigest,
  buildFailedAccountsAlert,
  failedSection,
  jsonBytes,
  mergeSections,
  parseSection,
  SECTION_MAX_BYTES,
  sectionFromAlert,
  sectionFromRun,
  shouldPublishDigest,
} from '#lib/notify/digest.ts';
import type { AlertSettings } from '#lib/notify/select.ts';
import type { ReconciledRun } from '#lib/reconcile/types.ts';
import { section, snsBytes } from '#test/digest.ts';
import { ACCOUNT, finding, fiveThousandNew, NEW, reconciledRun, typicalRun } from '#test/notify.ts';

const ACCOUNT_REF = { id: ACCOUNT, name: 'payments-prod' };
/** What sectionFromRun reads of a PipelineResult: the reconciled run and the alert built for it. */
const result = (reconciled: ReconciledRun, settings: AlertSettings = NEW) => ({
  reconciled,
  alert: { alert: buildAlert(reconciled, settings) },
});
const run = { organizationRunId: 'org-20261102', startedAt: '2026-11-02T03:00:00.000Z' };

describe('sectionFromRun', () => {
  it('the account alert selection: new, regressed, resolved, and under alertOn new only the still-open ERROR', () => {
    const s = sectionFromRun(ACCOUNT_REF, result(typicalRun()));
    expect(s).toMatchObject({
      account: ACCOUNT_REF,
      state: 'incomplete',
      alert: true,
      highestSeverity: 'critical',
      checksInError: ['dax-service-role'],
      totals: { new: 2, regressed: 0, stillOpen: 1, resolved: 1 },
      omitted: { new: 0, regressed: 0, stillOpen: 0, resolved: 0 },
    });
    expect(s.reason).toMatch(/^checks in ERROR: dax-service-role: .*AccessDeniedException/);
    expect(s.changes.new.map((i) => i.severity)).toEqual(['critical', 'high']);
    expect(s.changes.stillOpen.map((i) => i.status)).toEqual(['ERROR']);
    expect(s.newlyFailingBySeverity).toMatchObject({ critical: 1, high: 1 });
  });

  it('under alertOn open, a FAIL still open is listed too', () => {
    const s = sectionFromRun(ACCOUNT_REF, result(typicalRun(), { alertOn: 'open', minAlertSeverity: 'low' }));
    expect(s.changes.stillOpen.map((i) => i.status)).toEqual(['ERROR', 'FAIL']);
  });

  it('a complete run with nothing new: complete, no alert of its own', () => {
    const quiet = reconciledRun([finding({ change: 'open', status: 'FAIL', severity: 'high' })]);
    const s = sectionFromRun(ACCOUNT_REF, result(quiet));
    expect(s).toMatchObject({ state: 'complete', reason: null, alert: false, totals: { new: 0, regressed: 0, stillOpen: 0, resolved: 0 } });
    expect(shouldPublishDigest([s])).toBe(false);
  });

  it('an account the audit could not enter (the organization check in ERROR) is failed, not incomplete, with its reason; alike from the alert', () => {
    const why = 'sts:AssumeRole into arn:aws:iam::123456789012:role/AccountAuditorMemberRole failed (AccessDenied)';
    const entered = reconciledRun(
      [finding({ change: 'new', status: 'ERROR', severity: 'high', checkId: 'organization', resource: `arn:aws:iam::${ACCOUNT}:root` })],
      { checksInError: [{ checkId: 'organization', reasons: [why] }] },
    );
    const s = sectionFromRun(ACCOUNT_REF, result(entered));
    expect(s).toMatchObject({ state: 'failed', reason: why, alert: true });
    expect(sectionFromAlert(ACCOUNT_REF, buildAlert(entered, NEW))).toMatchObject({ state: 'failed', reason: why });
    // Another check in ERROR is an audited account that could not read everything.
    expect(sectionFromRun(ACCOUNT_REF, result(typicalRun())).state).toBe('incomplete');
  });

  it('an account with 5,000 new findings is cut under 64 KB, the cut counted', () => {
    const s = sectionFromRun(ACCOUNT_REF, result(fiveThousandNew()));
    expect(jsonBytes(s)).toBeLessThanOrEqual(SECTION_MAX_BYTES);
    expect(s.changes.new.length).toBeGreaterThan(10);
    expect(s.changes.new.length + s.omitted.new).toBe(5000);
    expect(s.totals.new).toBe(5000);
  });
});

describe('sectionFromAlert (what the pipeline hands its publisher)', () => {
  it('the same section as from the pipeline result, under alertOn new and open', () => {
    for (const settings of [NEW, { alertOn: 'open', minAlertSeverity: 'low' } as const]) {
      const reconciled = typicalRun();
      const alert = buildAlert(reconciled, settings);
      expect(sectionFromAlert(ACCOUNT_REF, alert)).toEqual(sectionFromRun(ACCOUNT_REF, { reconciled, alert: { alert } }));
    }
  });

  it('5,000 new findings: cut under 64 KB, every one shown or counted', () => {
    const s = sectionFromAlert(ACCOUNT_REF, buildAlert(fiveThousandNew(), NEW))!;
    expect(jsonBytes(s)).toBeLessThanOrEqual(SECTION_MAX_BYTES);
    expect(s.changes.new.length + s.omitted.new).toBe(5000);
  });

  it('any other kind of alert is no section: it is published as it is', () => {
    expect(sectionFromAlert(ACCOUNT_REF, buildStateNotSavedAlert(typicalRun(), new Error('throttled')))).toBeNull();
  });
});

describe('shouldPublishDigest', () => {
  it('nothing to say and no account in ERROR: no digest; one account in ERROR or with news: a digest', () => {
    expect(shouldPublishDigest([])).toBe(false);
    expect(shouldPublishDigest([section('111111111111'), section('222222222222')])).toBe(false);
    expect(shouldPublishDigest([section('111111111111'), section('222222222222', { state: 'failed' })])).toBe(true);
    expect(shouldPublishDigest([section('111111111111'), section('222222222222', { state: 'incomplete' })])).toBe(true);
    expect(shouldPublishDigest([section('111111111111', { items: { new: 1 } })])).toBe(true);
    // Resolved alone is no news under `new`, as for one account.
    expect(shouldPublishDigest([section('111111111111', { items: { resolved: 1 }, alert: false })])).toBe(false);
  });
});

describe('mergeSections', () => {
  const line = (id: string, state: 'complete' | 'incomplete' | 'failed', reason: string | null = null) => ({
    id,
    name: `name-${id}`,
    state,
    runId: state === 'failed' ? null : `run-${id}`,
    counts: state === 'failed' ? null : { total: 1, PASS: 1, FAIL: 0, WARN: 0, ERROR: 0 },
    reason,
  });

  it('a failed invocation without a section is a failed section with its error; with one, it keeps the changes', () => {
    const stored = [section('222222222222', { items: { new: 2 } })];
    const merged = mergeSections(stored, [
      line('111111111111', 'failed', 'States.Timeout: Task timed out'),
      line('222222222222', 'failed', 'Lambda.Unknown'),
    ]);
    expect(merged[0]).toMatchObject({ state: 'failed', reason: 'States.Timeout: Task timed out', runId: null, alert: true });
    expect(merged[1]).toMatchObject({ state: 'failed', totals: { new: 2 } });
    expect(merged[1]!.reason).toMatch(/^Lambda\.Unknown; the changes listed were found before it failed/);
  });

  it('a complete account without a section had nothing to say; an incomplete one stays in ERROR, saying why', () => {
    const [quiet, incomplete] = mergeSections(
      [],
      [line('333333333333', 'complete'), line('444444444444', 'incomplete', '2 findings in ERROR')],
    );
    expect(quiet).toMatchObject({ state: 'complete', runId: 'run-333333333333', alert: false, reason: null });
    expect(shouldPublishDigest([quiet!])).toBe(false);
    expect(incomplete).toMatchObject({ state: 'incomplete', runId: 'run-444444444444', alert: true });
    expect(incomplete!.reason).toMatch(/^2 findings in ERROR; no digest section was stored for run run-444444444444/);
  });
});

describe('parseSection', () => {
  it('a damaged section reads as a failed account naming why, never as a clean one', () => {
    expect(parseSection(section('111111111111'), '111111111111').state).toBe('complete');
    const damaged = parseSection({ ...section('111111111111'), totals: null }, '111111111111');
    expect(damaged).toMatchObject({ state: 'failed', account: { id: '111111111111', name: 'name-111111111111' } });
    expect(damaged.reason).toMatch(/cannot be read \(totals/);
    expect(parseSection(section('222222222222'), '111111111111').reason).toContain('it names account 222222222222');
  });
});

describe('buildDigest', () => {
  it('accounts in ERROR first (not audited, then incomplete), then those with changes; quiet ones counted', () => {
    const digest = buildDigest({
      ...run,
      sections: [
        section('444444444444', { items: { new: 1 }, severity: 'critical' }),
        section('555555555555'),
        section('333333333333', { state: 'incomplete' }),
        section('666666666666', { items: { new: 2, resolved: 1 }, severity: 'medium' }),
      ],
      failedAccounts: [{ id: '111111111111', name: 'sandbox', reason: 'States.Timeout: Task timed out after 900 s' }],
      tableName: 'findings',
    });
    const { summary } = digest;
    expect(summary.accounts.map((s) => s.account.id)).toEqual(['111111111111', '333333333333', '444444444444', '666666666666']);
    expect(summary.counts).toMatchObject({
      accounts: 5,
      complete: 3,
      incomplete: 1,
      failed: 1,
      inError: 2,
      listed: 4,
      quiet: 1,
      new: 3,
      resolved: 1,
    });
    expect(summary.omitted).toEqual({ accounts: 0, accountsInError: 0, findings: 0 });
    expect(digest.subject).toBe('account-auditor organization: 3 new (1 critical, 2 medium), 1 resolved, accounts in ERROR: 2');
    expect(digest.email.indexOf('ACCOUNTS IN ERROR (2)')).toBeLessThan(digest.email.indexOf('ACCOUNTS WITH CHANGES (2)'));
    expect(digest.email).toContain('== 111111111111 (sandbox): NOT AUDITED: States.Timeout: Task timed out after 900 s');
    expect(digest.email).toContain('Not listed: 1 account with nothing to report.');
    // Both kinds of subscriber: the JSON summary in `default`, the text in `email`, and filter attributes.
    const message = JSON.parse(digest.message) as { default: string; email: string };
    expect(JSON.parse(message.default)).toEqual(summary);
    expect(message.email).toBe(digest.email);
    expect(Object.keys(digest.attributes).length).toBeLessThanOrEqual(10);
    expect(digest.attributes).toMatchObject({
      alertType: { StringValue: 'organization-digest' },
      highestSeverity: { StringValue: 'critical' },
      newCount: { StringValue: '3' },
      accountsInError: { StringValue: '2' },
      complete: { StringValue: 'false' },
    });
  });

  it('a late digest names the run and why it is late in its subject and first lines; an on-time one does not', () => {
    const sections = [section('111111111111', { items: { new: 2 } }), section('222222222222', { state: 'failed' })];
    const late = buildDigest({ ...run, sections, late: 'organization run org-20261102 stopped before it reported' });
    expect(late.subject).toMatch(/^account-auditor organization, late digest of the run of 2026-11-02T03:00Z: 2 new/);
    expect(late.subject.length).toBeLessThanOrEqual(100);
    expect(late.email.split('\n').slice(0, 2)).toEqual([
      'account-auditor: organization run org-20261102, started 2026-11-02T03:00:00.000Z',
      'LATE DIGEST: organization run org-20261102 stopped before it reported',
    ]);
    expect(late.summary.late).toBe('organization run org-20261102 stopped before it reported');
    const onTime = buildDigest({ ...run, sections });
    expect(onTime.subject).toMatch(/^account-auditor organization: 2 new/);
    expect(onTime.email).not.toContain('LATE DIGEST');
    expect('late' in onTime.summary).toBe(false);
  });

  it('deterministic: the same accounts in any order give the same message', () => {
    const sections = ['9', '1', '5', '3', '7'].map((d, i) =>
      section(d.repeat(12), { items: { new: i }, state: i === 2 ? 'failed' : 'complete' }),
    );
    const a = buildDigest({ ...run, sections });
    const b = buildDigest({ ...run, sections: [...sections].reverse() });
    expect(b.message).toBe(a.message);
    expect(b.subject).toBe(a.subject);
  });

  it('3,000 accounts with 200 findings each: under 256 KB, accounts and findings cut with "and N more"', () => {
    const sections = Array.from({ length: 3000 }, (_, i) =>
      section(String(100000000000 + i), { items: { new: 200 }, state: i % 100 === 0 ? 'incomplete' : 'complete' }),
    );
    const digest = buildDigest({ ...run, sections });
    expect(snsBytes(digest)).toBeLessThanOrEqual(256 * 1024);
    const { summary } = digest;
    expect(summary.accounts.length).toBeGreaterThan(0);
    expect(summary.accounts.length + summary.omitted.accounts + summary.counts.quiet).toBe(3000);
    // The 30 accounts in ERROR come first.
    expect(summary.accounts.slice(0, 30).every((s) => s.state === 'incomplete')).toBe(true);
    expect(digest.email).toMatch(/… and \d+ more accounts: `account-auditor runs --org`/);
    expect(digest.email).toMatch(/… and \d+ more findings not listed here/);
    expect(digest.subject.length).toBeLessThan(100);
  });

  it('one account with many findings does not crowd out the others', () => {
    const big = sectionFromRun({ id: '111111111111', name: 'big' }, result(fiveThousandNew()));
    const digest = buildDigest({ ...run, sections: [big, section('222222222222', { items: { new: 3 } })], maxBytes: 20_000 });
    const shown = Object.fromEntries(digest.summary.accounts.map((s) => [s.account.id, s.changes.new.length]));
    expect(shown['222222222222']).toBe(3);
    expect(shown['111111111111']).toBeGreaterThan(0);
    expect(snsBytes(digest)).toBeLessThanOrEqual(20_000);
  });
});

describe('buildFailedAccountsAlert (per-account mode)', () => {
  it('lists only the accounts whose invocation failed', () => {
    const alert = buildFailedAccountsAlert({
      ...run,
      sections: [section('222222222222', { items: { new: 1 } })],
      failedAccounts: [{ id: '111111111111', name: 'sandbox', reason: 'Lambda.TooManyRequestsException' }],
    });
    expect(alert.summary.kind).toBe('organization-failed-accounts');
    expect(alert.summary.accounts.map((s) => s.account.id)).toEqual(['111111111111']);
    expect(alert.subject).toBe('account-auditor organization: 1 account could not be audited');
    expect(alert.email).toContain('Lambda.TooManyRequestsException');
    expect(alert.email).not.toContain('222222222222');
  });

  it('failedSection names the account and why', () => {
    expect(failedSection({ id: '111111111111', name: 'x' }, 'y')).toMatchObject({ state: 'failed', reason: 'y', counts: null });
  });
});
