/**
 * The summarize step's report over the real store (dynalite) and SNS mocked at the SDK boundary:
 * sections written as the per-account runs write them, one digest published, the record written,
 * and a retried step publishing nothing again.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reportOrganizationRun, sectionPublisher } from '#lib/audit/organization-report.ts';
import { buildStateNotSavedAlert } from '#lib/notify/state-not-saved.ts';
import { buildAlert } from '#lib/notify/alert.ts';
import { type DigestSummary, sectionFromAlert } from '#lib/notify/digest.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import type { AccountOutcome } from '#lib/organization/contract.ts';
import { summarizeOrganizationRun } from '#lib/organization/summary.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { freshTable } from '#test/dynalite.ts';
import { ACCOUNT, NEW, typicalRun } from '#test/notify.ts';

const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
let local: LocalStore;
let store: FindingsStore;
beforeEach(async () => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'msg-digest' });
  local = await freshTable();
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 30 });
});
afterEach(async () => {
  await local.close();
});

const counts = (ERROR: number) => ({ total: 6, byStatus: { PASS: 1, FAIL: 4, WARN: 0, ERROR } });

describe('reportOrganizationRun over the table and the topic', () => {
  it('the sections the accounts wrote, one digest on the topic, the record for runs --org; a retry publishes nothing', async () => {
    const section = sectionFromAlert({ id: ACCOUNT, name: 'payments-prod' }, buildAlert(typicalRun(), NEW))!;
    await store.putAccountSection('org-7', section);
    const outcomes: AccountOutcome[] = [
      { outcome: 'audited', account: { id: ACCOUNT, name: 'payments-prod' }, run: { runId: 'run-1', complete: false, counts: counts(1) } },
      { outcome: 'audited', account: { id: '222222222222', name: 'quiet' }, run: { runId: 'run-2', complete: true, counts: counts(0) } },
      {
        outcome: 'failed',
        account: { id: '333333333333', name: 'sandbox' },
        error: 'States.Timeout',
        cause: 'Task timed out after 900.00 seconds',
      },
    ];
    const summary = summarizeOrganizationRun({
      organizationRunId: 'org-7',
      startedAt: '2026-11-02T03:00:00.000Z',
      discovery: { listed: 3, active: 3, filteredOut: 0, missing: [], calls: {} },
      accounts: outcomes,
    });
    const options = {
      summary,
      mode: 'digest' as const,
      store,
      publisher: snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC),
      tableName: local.tableName,
    };
    await reportOrganizationRun(options);

    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ TopicArn: TOPIC, MessageStructure: 'json' });
    expect(input.Subject).toBe('account-auditor organization: 2 new (1 critical, 1 high), 1 resolved, accounts in ERROR: 2');
    expect(Object.keys(input.MessageAttributes!).length).toBeLessThanOrEqual(10);
    const digest = JSON.parse((JSON.parse(input.Message!) as { default: string }).default) as DigestSummary;
    expect(digest.accounts.map((s) => [s.account.id, s.state])).toEqual([
      ['333333333333', 'failed'],
      [ACCOUNT, 'incomplete'],
    ]);
    expect(digest.counts).toMatchObject({ accounts: 3, quiet: 1, inError: 2 });

    const [record] = await store.listOrganizationRuns({ limit: 1 });
    expect(record).toMatchObject({
      organizationRunId: 'org-7',
      accounts: 3,
      complete: 1,
      incomplete: 1,
      failed: 1,
      alert: { mode: 'digest', wanted: true, messageId: 'msg-digest' },
    });
    expect(record!.inError.map((l) => l.id)).toEqual(['333333333333', ACCOUNT]);

    const retry = await reportOrganizationRun(options);
    expect(retry.repeated).toBe(true);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('sectionPublisher: a findings alert becomes the account’s section, any other alert goes to the topic', async () => {
    const publish = sectionPublisher(store, snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC));
    const item = { organizationRunId: 'org-8', account: { id: ACCOUNT, name: 'payments-prod' } };
    expect(await publish({ item, alert: buildAlert(typicalRun(), NEW) })).toEqual({ messageId: '' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    const [stored] = await store.querySections('org-8');
    expect(stored).toMatchObject({ accountId: ACCOUNT, section: { state: 'incomplete', totals: { new: 2, resolved: 1 } } });
    expect(await publish({ item, alert: buildStateNotSavedAlert(typicalRun(), new Error('throttled')) })).toEqual({
      messageId: 'msg-digest',
    });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.MessageAttributes!.alertType!.StringValue).toBe('state-not-saved');
  });
});
