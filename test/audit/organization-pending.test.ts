/**
 * The late digests of organization runs that never reported (publishPendingDigests), over the
 * real store (dynalite) and SNS mocked at the SDK boundary: a run stopped before it reported, a
 * run whose publish failed, a run whose summarize step never ran (its discover step's record),
 * and what is not pending (published, no topic, per-account mode, the caller's own run).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_RUNS_LOOKED_AT, publishPendingDigests, reportOrganizationRun, reportWithPending } from '#lib/audit/organization-report.ts';
import { buildAlert } from '#lib/notify/alert.ts';
import { type DigestSummary, sectionFromAlert } from '#lib/notify/digest.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import type { AccountOutcome } from '#lib/organization/contract.ts';
import { summarizeOrganizationRun } from '#lib/organization/summary.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { OrganizationContextStore } from '#lib/store/organization-context.ts';
import { pendingOrganizationRun } from '#lib/store/organization-runs.ts';
import { FindingsStore, type OrganizationRunRecord } from '#lib/store/store.ts';
import { freshTable } from '#test/dynalite.ts';
import { ACCOUNT, NEW, typicalRun } from '#test/notify.ts';

const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
const QUIET = '222222222222';
const DISCOVERY = { listed: 2, active: 2, filteredOut: 0, missing: [] };
const ACCOUNTS = [
  { id: ACCOUNT, name: 'payments-prod' },
  { id: QUIET, name: 'quiet' },
];
let local: LocalStore;
let store: FindingsStore;
/** Set to make the next Publish fail as SNS would. */
let failNext = false;
const topic = () => snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC);

beforeEach(async () => {
  sns.reset();
  let n = 0;
  failNext = false;
  sns.on(PublishCommand).callsFake(() => {
    if (failNext) {
      failNext = false;
      throw Object.assign(new Error('SNS is down'), { name: 'InternalErrorException' });
    }
    return { MessageId: `msg-${++n}` };
  });
  local = await freshTable();
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 30 });
});
afterEach(async () => {
  await local.close();
});

function publishedDigests() {
  return sns.commandCalls(PublishCommand).map((c) => {
    const input = c.args[0].input;
    const message = JSON.parse(input.Message!) as { default: string; email: string };
    return { subject: input.Subject!, digest: JSON.parse(message.default) as DigestSummary, email: message.email };
  });
}

/** The first account's section, as its pipeline stores it before its run is saved. */
async function storeSection(organizationRunId: string): Promise<void> {
  await store.putAccountSection(organizationRunId, sectionFromAlert(ACCOUNTS[0]!, buildAlert(typicalRun(), NEW))!);
}

function pending(organizationRunId: string, startedAt: string, overrides: Partial<OrganizationRunRecord['alert']> = {}) {
  const record = pendingOrganizationRun(
    { organizationRunId, startedAt, accounts: ACCOUNTS, discovery: DISCOVERY, alerts: 'digest' },
    startedAt,
  );
  return { ...record, alert: { ...record.alert, ...overrides } };
}

function summaryOf(organizationRunId: string, startedAt: string) {
  const counts = { total: 6, byStatus: { PASS: 1, FAIL: 4, WARN: 0, ERROR: 1 } };
  const outcomes: AccountOutcome[] = [
    { outcome: 'audited', account: ACCOUNTS[0]!, run: { runId: `${organizationRunId}-a`, complete: false, counts } },
    {
      outcome: 'audited',
      account: ACCOUNTS[1]!,
      run: { runId: `${organizationRunId}-b`, complete: true, counts: { total: 1, byStatus: { PASS: 1, FAIL: 0, WARN: 0, ERROR: 0 } } },
    },
  ];
  return summarizeOrganizationRun({ organizationRunId, startedAt, discovery: { ...DISCOVERY, calls: {} }, accounts: outcomes });
}

describe('publishPendingDigests', () => {
  it('a run stopped before it reported: its digest from its stored sections, named late, then its record says published; once', async () => {
    await store.putOrganizationRun(pending('org-killed', '2026-11-01T03:00:00.000Z'));
    await storeSection('org-killed');

    const late = await publishPendingDigests({ store, publisher: topic(), exclude: 'org-now', tableName: local.tableName });
    expect(late).toEqual([expect.objectContaining({ organizationRunId: 'org-killed', messageId: 'msg-1' })]);
    const [message] = publishedDigests();
    expect(message!.subject).toMatch(/^account-auditor organization, late digest of the run of 2026-11-01T03:00Z: 2 new/);
    expect(message!.subject.length).toBeLessThanOrEqual(100);
    expect(message!.email).toContain('organization run org-killed, started 2026-11-01T03:00:00.000Z');
    expect(message!.email).toContain(
      'LATE DIGEST: organization run org-killed, started 2026-11-01T03:00:00.000Z, stopped before it reported',
    );
    expect(message!.digest.late).toContain('stopped before it reported');
    // The account that stored its section: its new findings; the one that did not: in ERROR, saying why.
    const byId = new Map(message!.digest.accounts.map((s) => [s.account.id, s]));
    expect(byId.get(ACCOUNT)).toMatchObject({ state: 'incomplete', totals: { new: 2 } });
    expect(byId.get(ACCOUNT)!.changes.new.map((i) => i.checkId)).toContain('user-full-access');
    expect(byId.get(QUIET)).toMatchObject({ state: 'failed' });
    expect(byId.get(QUIET)!.reason).toContain('the run stopped before this account was audited, or it had nothing to report');

    const [record] = await store.listOrganizationRuns({ limit: 1 });
    expect(record!.alert).toMatchObject({ mode: 'digest', messageId: 'msg-1' });
    expect(record!.alert.reason).toContain('published late, at ');
    expect(record!.alert.reason).toContain('by organization run org-now');

    expect(await publishPendingDigests({ store, publisher: topic() })).toEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('a run without a topic that stopped before it reported: it reported nowhere, so its digest is due', async () => {
    await store.putOrganizationRun(pending('org-killed', '2026-11-01T03:00:00.000Z', { noTopic: true }));
    expect((await publishPendingDigests({ store, publisher: topic() })).map((l) => l.organizationRunId)).toEqual(['org-killed']);
  });

  it('a publish that fails leaves the run pending, and the next call publishes it', async () => {
    await store.putOrganizationRun(pending('org-killed', '2026-11-01T03:00:00.000Z'));
    failNext = true;
    const first = await publishPendingDigests({ store, publisher: topic() });
    expect(first).toEqual([
      expect.objectContaining({ organizationRunId: 'org-killed', messageId: null, error: expect.stringContaining('SNS is down') }),
    ]);
    expect((await store.listOrganizationRuns({ limit: 1 }))[0]!.alert.messageId).toBeNull();
    const second = await publishPendingDigests({ store, publisher: topic() });
    expect(second).toEqual([expect.objectContaining({ organizationRunId: 'org-killed', messageId: expect.any(String) })]);
    expect(second[0]!.error).toBeUndefined();
  });

  it('not pending: a published digest, a finished run without a topic, per-account mode, one not wanted, the caller’s own run', async () => {
    await store.putOrganizationRun(pending('org-published', '2026-11-01T03:00:00.000Z', { messageId: 'old-msg' }));
    const { finished: _unfinished, ...reported } = pending('org-no-topic', '2026-11-02T03:00:00.000Z', { noTopic: true });
    await store.putOrganizationRun(reported);
    await store.putOrganizationRun(pending('org-per-account', '2026-11-03T03:00:00.000Z', { mode: 'per-account' }));
    await store.putOrganizationRun(pending('org-quiet', '2026-11-04T03:00:00.000Z', { wanted: false }));
    await store.putOrganizationRun(pending('org-now', '2026-11-05T03:00:00.000Z'));
    expect(await publishPendingDigests({ store, publisher: topic(), exclude: 'org-now' })).toEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('bounded: only the latest runs are looked at, the oldest pending one published first', async () => {
    expect(PENDING_RUNS_LOOKED_AT).toBe(10);
    for (let day = 1; day <= 4; day++) await store.putOrganizationRun(pending(`org-${day}`, `2026-11-0${day}T03:00:00.000Z`));
    const late = await publishPendingDigests({ store, publisher: topic(), limit: 2 });
    expect(late.map((l) => l.organizationRunId)).toEqual(['org-3', 'org-4']);
  });

  it('a run whose summarize step never ran: the discover step’s record finds it, with its sections', async () => {
    const context = new OrganizationContextStore({ client: local.client, tableName: local.tableName, historyTtlDays: 30 });
    const run = { startedAt: '2026-11-01T03:00:00.000Z', accounts: ACCOUNTS.map((a) => ({ ...a, roleArn: null })), discovery: DISCOVERY };
    const organization = {
      organizationRunId: 'org-sfn',
      organizationId: 'o-abc',
      managementAccountId: QUIET,
      accountIds: [ACCOUNT, QUIET],
    };
    await context.writeContext(organization, new Map(), { ...run, alerts: 'digest' });
    await storeSection('org-sfn');
    expect((await store.listOrganizationRuns({ limit: 1 }))[0]).toMatchObject({
      organizationRunId: 'org-sfn',
      finished: false,
      accounts: 2,
    });

    const late = await publishPendingDigests({ store, publisher: topic() });
    expect(late.map((l) => l.organizationRunId)).toEqual(['org-sfn']);
    expect(publishedDigests()[0]!.digest.accounts.find((s) => s.account.id === ACCOUNT)).toMatchObject({ totals: { new: 2 } });
  });

  it('a retried discover step never replaces the record its summarize step wrote', async () => {
    const context = new OrganizationContextStore({ client: local.client, tableName: local.tableName, historyTtlDays: 30 });
    const startedAt = '2026-11-01T03:00:00.000Z';
    const organization = {
      organizationRunId: 'org-sfn',
      organizationId: 'o-abc',
      managementAccountId: QUIET,
      accountIds: [ACCOUNT, QUIET],
    };
    const run = { startedAt, accounts: ACCOUNTS.map((a) => ({ ...a, roleArn: null })), discovery: DISCOVERY, alerts: 'digest' as const };
    await context.writeContext(organization, new Map(), run);
    await reportOrganizationRun({ summary: summaryOf('org-sfn', startedAt), mode: 'digest', store, publisher: topic() });
    await context.writeContext(organization, new Map(), run);
    const record = await store.getOrganizationRun(startedAt, 'org-sfn');
    expect(record!.finished).toBeUndefined();
    expect(record!.alert.messageId).toBe('msg-1');
  });
});

describe('the summarize step (reportWithPending)', () => {
  it('last night’s summarize failed to publish; tonight’s publishes that digest late, then its own', async () => {
    const lastNight = '2026-11-01T03:00:00.000Z';
    await storeSection('org-last-night');
    failNext = true;
    await expect(
      reportOrganizationRun({ summary: summaryOf('org-last-night', lastNight), mode: 'digest', store, publisher: topic() }),
    ).rejects.toThrow('SNS is down');

    const tonight = '2026-11-02T03:00:00.000Z';
    await storeSection('org-tonight');
    const report = await reportWithPending({
      summary: summaryOf('org-tonight', tonight),
      mode: 'digest',
      store,
      publisher: topic(),
      tableName: local.tableName,
    });
    expect(report.pending).toEqual([expect.objectContaining({ organizationRunId: 'org-last-night', messageId: 'msg-1' })]);
    expect(report.record.alert.messageId).toBe('msg-2');
    // The first call is last night's publish, which failed.
    const [, late, own] = publishedDigests();
    expect(late!.digest).toMatchObject({ organizationRunId: 'org-last-night', counts: { accounts: 2, new: 2 } });
    expect(late!.digest.late).toContain('was not published (the message could not be published: InternalErrorException: SNS is down)');
    expect(own!.digest.organizationRunId).toBe('org-tonight');
    expect(own!.digest.late).toBeUndefined();
    expect(own!.subject).toMatch(/^account-auditor organization: /);
    expect((await store.getOrganizationRun(lastNight, 'org-last-night'))!.alert.messageId).toBe('msg-1');
  });

  it('the records cannot be listed: tonight’s digest still goes out', async () => {
    const broken = Object.assign(Object.create(store) as FindingsStore, {
      listOrganizationRuns: async () => Promise.reject(new Error('Query refused')),
    });
    const report = await reportWithPending({
      summary: summaryOf('org-tonight', '2026-11-02T03:00:00.000Z'),
      mode: 'digest',
      store: broken,
      publisher: topic(),
    });
    expect(report.pendingError).toContain('Query refused');
    expect(report.record.alert.messageId).toBe('msg-1');
  });
});
