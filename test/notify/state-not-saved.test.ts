/**
 * The alert sent when a run's state could not be saved: same structure as the findings alert
 * (subject under 100 characters on one line, JSON message with `email` text and a `default`
 * summary, filterable attributes), saying that the state was NOT saved, why, what it means for the
 * next run, and how to repair.
 */
import { describe, expect, it } from 'vitest';
import { SNS_MAX_BYTES } from '#lib/notify/alert.ts';
import { buildStateNotSavedAlert, type StateNotSavedSummary } from '#lib/notify/state-not-saved.ts';
import { StoreBusyError, StoreError } from '#lib/store/errors.ts';
import { ACCOUNT, RUN_ID, TABLE, finding, night, reconciledRun } from '#test/notify.ts';

const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

function parse(message: string): { default: StateNotSavedSummary; email: string } {
  const outer = JSON.parse(message) as Record<string, unknown>;
  expect(Object.keys(outer).sort()).toEqual(['default', 'email']);
  return { default: JSON.parse(outer.default as string) as StateNotSavedSummary, email: outer.email as string };
}

describe('buildStateNotSavedAlert', () => {
  it('has the findings alert structure: a one-line subject under 100 characters, JSON default and email, attributes', () => {
    const error = new StoreError('2 items were not written after 8 attempts: finding a; finding b', ['finding a', 'finding b']);
    const alert = buildStateNotSavedAlert(night(), error, { tableName: TABLE });

    expect(alert.messageStructure).toBe('json');
    const { default: summary, email } = parse(alert.message);
    expect(summary).toEqual(alert.summary);
    expect(email).toBe(alert.email);

    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: run state NOT saved, next run repeats 3 new`);
    expect(alert.subject.length).toBeLessThan(100);
    expect(alert.subject).not.toMatch(/[\r\n]/);

    expect(Object.keys(alert.attributes).length).toBeLessThanOrEqual(10);
    expect(alert.attributes).toMatchObject({
      alertType: { DataType: 'String', StringValue: 'state-not-saved' },
      accountId: { DataType: 'String', StringValue: ACCOUNT },
      stateSaved: { DataType: 'String', StringValue: 'false' },
      highestSeverity: { DataType: 'String', StringValue: 'high' },
      newCount: { DataType: 'Number', StringValue: '3' },
      resolvedCount: { DataType: 'Number', StringValue: '1' },
    });
    for (const value of Object.values(alert.attributes)) expect(value.StringValue).toBeTruthy();

    expect(summary).toMatchObject({
      source: 'account-auditor',
      schemaVersion: 1,
      kind: 'state-not-saved',
      accountId: ACCOUNT,
      runId: RUN_ID,
      stateSaved: false,
      nothingWritten: false,
      error: {
        name: 'StoreError',
        message: expect.stringContaining('2 items were not written'),
        failedItems: ['finding a', 'finding b'],
        moreFailedItems: 0,
      },
      counts: { new: 2, regressed: 1, resolved: 1 },
      table: TABLE,
    });
    expect(summary.repair).toHaveLength(3);
  });

  it('says the state was NOT saved, why, what it means for the next run, and how to repair', () => {
    const error = new StoreError('2 items were not written after 8 attempts: finding a; finding b', ['finding a', 'finding b']);
    const { email } = buildStateNotSavedAlert(night(), error, { tableName: TABLE });

    expect(email).toContain(`account-auditor: account ${ACCOUNT}`);
    expect(email).toContain(`Run ${RUN_ID}`);
    expect(email).toContain('STATE NOT SAVED: StoreError: 2 items were not written after 8 attempts');
    expect(email).toContain('Not written (2): finding a; finding b');
    expect(email).toContain(
      'What this means: The next run compares with the state saved before this one, so it may report its 3 new or regressed findings as new again (and alert them again), and its 1 resolved finding as resolved again.',
    );
    expect(email).toContain('Nothing stored before was lost');
    expect(email).toContain('To repair:');
    expect(email).toContain(`  1. Fix the cause above (for example the role's write permissions on DynamoDB table ${TABLE}`);
    expect(email).toContain('  2. Run the audit again');
    expect(email).toContain('  3. Check with `account-auditor runs`');
  });

  it('another run holding the lease: nothing was written, so waiting and running again is the repair', () => {
    const alert = buildStateNotSavedAlert(night(), new StoreBusyError(ACCOUNT, 'run-other', '2025-03-01T02:05:00.000Z'));
    expect(alert.summary.nothingWritten).toBe(true);
    expect(alert.email).toContain(`STATE NOT SAVED: StoreBusyError: account ${ACCOUNT} is being saved by run run-other`);
    expect(alert.email).toContain('Nothing was written: the stored state is exactly as before this run.');
    expect(alert.email).toContain('  1. Wait for the other run to finish');
    expect(alert.summary.table).toBeNull();
    expect(alert.email).not.toContain('DynamoDB table');
  });

  it('takes any thrown value, and a run with nothing new does not promise repeats', () => {
    const quiet = reconciledRun([
      finding({ change: 'open', status: 'FAIL', severity: 'low', checkId: 'access-key-age', resource: `${user('erin')}#access_key_1` }),
    ]);
    const alert = buildStateNotSavedAlert(quiet, 'connect ECONNREFUSED 127.0.0.1:8000');
    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: run state NOT saved`);
    expect(alert.summary.error).toEqual({
      name: 'Error',
      message: 'connect ECONNREFUSED 127.0.0.1:8000',
      failedItems: [],
      moreFailedItems: 0,
    });
    expect(alert.email).toContain('What this means: The next run compares with the state saved before this one.');
    expect(alert.email).not.toContain('Not written');
  });

  it('stays short with a huge message and thousands of failed items, and keeps the subject ASCII', () => {
    const items = Array.from({ length: 5000 }, (_, i) => `finding ${ACCOUNT}#user-full-access#${user(`u${i}`)}`);
    const error = new StoreError(`boom ${'x'.repeat(100_000)}\nstack`, items);
    const run = night();
    run.run.accountId = `${ACCOUNT}\n\u0007-an-alias-that-is-much-too-long-for-any-subject-${'y'.repeat(200)}`;
    const alert = buildStateNotSavedAlert(run, error);

    expect(alert.summary.error.message.length).toBeLessThanOrEqual(1000);
    expect(alert.summary.error.failedItems).toHaveLength(10);
    expect(alert.summary.error.moreFailedItems).toBe(4990);
    expect(alert.email).toContain('Not written (5000): ');
    expect(alert.email).toContain('; and 4990 more');
    expect(Buffer.byteLength(alert.message)).toBeLessThan(16_000);
    expect(Buffer.byteLength(alert.message)).toBeLessThan(SNS_MAX_BYTES);
    expect(alert.subject.length).toBeLessThan(100);
    expect(alert.subject).toMatch(/^[\x20-\x7e]+$/);
  });
});
