import { describe, expect, it } from 'vitest';
import { type OrganizationRunStore, reportOrganizationRun } from '#lib/audit/organization-report.ts';
import type { Alert } from '#lib/notify/alert.ts';
import type { DigestSummary } from '#lib/notify/digest.ts';
import type { AccountOutcome } from '#lib/organization/contract.ts';
import { summarizeOrganizationRun } from '#lib/organization/summary.ts';
import type { OrganizationRunRecord, StoredSection } from '#lib/store/organization-runs.ts';
import { section } from '#test/digest.ts';

/** The store's organization items in memory; `failPuts` record writes fail first (a crash before the record). */
function memoryStore(sections: StoredSection[], failPuts = 0) {
  const records = new Map<string, OrganizationRunRecord>();
  let failures = failPuts;
  const calls = { querySections: 0 };
  const store: OrganizationRunStore = {
    async querySections() {
      calls.querySections += 1;
      return sections;
    },
    async getOrganizationRun(startedAt, id) {
      return records.get(`${startedAt}#${id}`) ?? null;
    },
    async putOrganizationRun(record) {
      if (failures > 0) {
        failures -= 1;
        throw new Error('killed before the record was written');
      }
      records.set(`${record.startedAt}#${record.organizationRunId}`, structuredClone(record));
    },
  };
  return { store, records, calls };
}

function publisher(fail = 0) {
  const published: Alert<DigestSummary>[] = [];
  let failures = fail;
  return {
    published,
    publish: async (alert: Alert<unknown>) => {
      if (failures > 0) {
        failures -= 1;
        throw Object.assign(new Error('SNS is down'), { name: 'InternalErrorException' });
      }
      published.push(alert as Alert<DigestSummary>);
      return { messageId: `msg-${published.length}` };
    },
  };
}

const counts = { total: 3, byStatus: { PASS: 2, FAIL: 1, WARN: 0, ERROR: 0 } };
const audited = (id: string): AccountOutcome => ({
  outcome: 'audited',
  account: { id, name: `name-${id}` },
  run: { runId: `run-${id}`, complete: true, counts },
});
const failed = (id: string): AccountOutcome => ({
  outcome: 'failed',
  account: { id, name: `name-${id}` },
  error: 'States.Timeout',
  cause: 'Task timed out',
});
const summaryOf = (accounts: AccountOutcome[]) =>
  summarizeOrganizationRun({
    organizationRunId: 'org-1',
    startedAt: '2026-11-02T03:00:00.000Z',
    discovery: {
      listed: accounts.length,
      active: accounts.length,
      filteredOut: 0,
      missing: [],
      calls: { 'organizations:ListAccounts': 1 },
    },
    accounts,
  });
const stored = (s: ReturnType<typeof section>): StoredSection => ({ accountId: s.account.id, section: s });
const now = () => new Date('2026-11-02T03:20:00.000Z');

describe('reportOrganizationRun, digest mode', () => {
  it('one digest of the stored sections and the failed invocations, then the record naming its message', async () => {
    const { store, records } = memoryStore([stored(section('111111111111', { items: { new: 2 } })), stored(section('222222222222'))]);
    const sns = publisher();
    const summary = summaryOf([audited('111111111111'), audited('222222222222'), failed('333333333333')]);
    const report = await reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, tableName: 'findings', now });
    expect(sns.published).toHaveLength(1);
    const digest = sns.published[0]!.summary;
    expect(digest.accounts.map((s) => [s.account.id, s.state])).toEqual([
      ['333333333333', 'failed'],
      ['111111111111', 'complete'],
    ]);
    expect(digest.counts).toMatchObject({ accounts: 3, quiet: 1, new: 2 });
    const record = records.get('2026-11-02T03:00:00.000Z#org-1')!;
    expect(record).toEqual(report.record);
    expect(record).toMatchObject({
      organizationRunId: 'org-1',
      summarizedAt: '2026-11-02T03:20:00.000Z',
      accounts: 3,
      complete: 2,
      failed: 1,
      inError: [{ id: '333333333333', state: 'failed', reason: 'States.Timeout: Task timed out' }],
      alert: { mode: 'digest', wanted: true, messageId: 'msg-1' },
    });
    expect(record.perAccount).toHaveLength(3);
  });

  it('a retried summarize after the record was written publishes nothing again', async () => {
    const { store } = memoryStore([stored(section('111111111111', { items: { new: 1 } }))]);
    const sns = publisher();
    const summary = summaryOf([audited('111111111111')]);
    await reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now });
    const again = await reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now });
    expect(again.repeated).toBe(true);
    expect(sns.published).toHaveLength(1);
  });

  it('a crash after the publish and before the record: the retry publishes again (a duplicate, never a lost digest)', async () => {
    const { store, records } = memoryStore([stored(section('111111111111', { items: { new: 1 } }))], 1);
    const sns = publisher();
    const summary = summaryOf([audited('111111111111')]);
    await expect(reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now })).rejects.toThrow(/killed/);
    expect(records.size).toBe(0);
    await reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now });
    expect(sns.published).toHaveLength(2);
    expect(records.get('2026-11-02T03:00:00.000Z#org-1')!.alert.messageId).toBe('msg-2');
  });

  it('a failed publish is recorded as not published and fails the step; the retry publishes', async () => {
    const { store, records } = memoryStore([stored(section('111111111111', { state: 'incomplete' }))]);
    const sns = publisher(1);
    const summary = summaryOf([audited('111111111111')]);
    await expect(reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now })).rejects.toThrow('SNS is down');
    expect(records.get('2026-11-02T03:00:00.000Z#org-1')!.alert).toMatchObject({
      wanted: true,
      messageId: null,
      reason: 'the message could not be published: InternalErrorException: SNS is down',
    });
    const retry = await reportOrganizationRun({ summary, mode: 'digest', store, publisher: sns, now });
    expect(retry.record.alert.messageId).toBe('msg-1');
  });

  it('nothing new and no account in ERROR: no digest, the record says why', async () => {
    const { store } = memoryStore([stored(section('111111111111')), stored(section('222222222222'))]);
    const sns = publisher();
    const report = await reportOrganizationRun({
      summary: summaryOf([audited('111111111111'), audited('222222222222')]),
      mode: 'digest',
      store,
      publisher: sns,
      now,
    });
    expect(sns.published).toHaveLength(0);
    expect(report.record.alert).toMatchObject({ wanted: false, messageId: null, reason: expect.stringMatching(/^nothing to report/) });
  });

  it('a damaged section, or an incomplete account without one, is an account in ERROR in the digest', async () => {
    const { store } = memoryStore([{ accountId: '111111111111', section: '{not json' }]);
    const sns = publisher();
    const incomplete: AccountOutcome = {
      ...audited('222222222222'),
      run: { runId: 'run-222222222222', complete: false, counts },
    } as AccountOutcome;
    await reportOrganizationRun({
      summary: summaryOf([audited('111111111111'), incomplete, audited('333333333333')]),
      mode: 'digest',
      store,
      publisher: sns,
      now,
    });
    const accounts = sns.published[0]!.summary.accounts;
    expect(accounts.map((s) => [s.account.id, s.state])).toEqual([
      ['111111111111', 'failed'],
      ['222222222222', 'incomplete'],
    ]);
    expect(accounts[0]!.reason).toMatch(/stored digest section cannot be read/);
    expect(accounts[1]!.reason).toMatch(/no digest section was stored for run run-222222222222/);
    // A complete account without a section had nothing to say: counted, not listed.
    expect(sns.published[0]!.summary.counts).toMatchObject({ accounts: 3, quiet: 1 });
  });
});

describe('reportOrganizationRun, per-account mode', () => {
  it('publishes only the accounts whose invocation failed, and reads no section', async () => {
    const { store, calls } = memoryStore([]);
    const sns = publisher();
    await reportOrganizationRun({
      summary: summaryOf([audited('111111111111'), failed('222222222222')]),
      mode: 'per-account',
      store,
      publisher: sns,
      now,
    });
    expect(calls.querySections).toBe(0);
    expect(sns.published).toHaveLength(1);
    expect(sns.published[0]!.summary).toMatchObject({ kind: 'organization-failed-accounts', counts: { failed: 1, accounts: 1 } });
    expect(sns.published[0]!.subject).toBe('account-auditor organization: 1 account could not be audited');
  });

  it('no account failed outright: nothing published, the run recorded', async () => {
    const { store, records } = memoryStore([]);
    const sns = publisher();
    await reportOrganizationRun({ summary: summaryOf([audited('111111111111')]), mode: 'per-account', store, publisher: sns, now });
    expect(sns.published).toHaveLength(0);
    expect(records.get('2026-11-02T03:00:00.000Z#org-1')!.alert).toMatchObject({ mode: 'per-account', wanted: false });
  });
});
