import { describe, expect, it } from 'vitest';
import { rootAccessKey } from '#test/checks.ts';
import { activeKey, denied, inventory, key, reportRow, settings, daysAgo, ACCOUNT } from '#test/build-inventory.ts';

const evaluate = (inv: ReturnType<typeof inventory>) => {
  const findings = rootAccessKey.evaluate(inv, settings());
  expect(findings).toHaveLength(1); // one finding per account, always
  expect(findings[0]!.resource).toBe(`arn:aws:iam::${ACCOUNT}:root`);
  return findings[0]!;
};

describe('root-access-key', () => {
  it('PASS when neither source shows a root key', () => {
    const f = evaluate(inventory({ summary: { keysPresent: 0 }, rows: [reportRow('<root_account>')] }));
    expect(f.status).toBe('PASS');
  });

  it('FAIL critical for an active root key, with its age and last use in the details', () => {
    const f = evaluate(
      inventory({
        summary: { keysPresent: 1 },
        rows: [
          reportRow('<root_account>', {
            access_key_1: activeKey('access_key_1', 400, { lastUsedDate: daysAgo(3), lastUsedService: 's3' }),
          }),
        ],
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.title).toContain('active access key');
    expect(f.details.keys).toEqual([
      expect.objectContaining({ slot: 'access_key_1', ageDays: 400, lastUsedService: 's3', lastUsed: daysAgo(3) }),
    ]);
  });

  it('FAIL high for an inactive root key: CIS says delete, not deactivate', () => {
    const f = evaluate(
      inventory({
        summary: { keysPresent: 1 },
        rows: [reportRow('<root_account>', { access_key_2: key('access_key_2', { active: false, lastRotated: daysAgo(50) }) })],
      }),
    );
    expect(f).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(f.title).toContain('inactive');
    expect(f.details.keys).toEqual([expect.objectContaining({ slot: 'access_key_2', active: false, lastUsed: 'never used' })]);
  });

  it('the real-time summary wins: a key created after the report is FAIL critical and the disagreement is explained', () => {
    const f = evaluate(inventory({ summary: { keysPresent: 1 }, rows: [reportRow('<root_account>')] }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(String(f.details.disagreement)).toMatch(/created since/);
  });

  it('the real-time summary wins: a key deleted since the report is PASS and the disagreement is explained', () => {
    const f = evaluate(
      inventory({ summary: { keysPresent: 0 }, rows: [reportRow('<root_account>', { access_key_1: activeKey('access_key_1', 10) })] }),
    );
    expect(f.status).toBe('PASS');
    expect(String(f.details.disagreement)).toMatch(/deleted since/);
  });

  it('ERROR when neither source could be read, naming both calls', () => {
    const f = evaluate(inventory({ summary: denied('iam:GetAccountSummary'), report: denied('iam:GetCredentialReport') }));
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('iam:GetAccountSummary');
    expect(f.title).toContain('iam:GetCredentialReport');
  });

  it('summary alone: a present key of unknown state is treated as active (FAIL critical), never PASS', () => {
    const f = evaluate(inventory({ summary: { keysPresent: 1 }, report: denied('iam:GetCredentialReport') }));
    expect(f).toMatchObject({ status: 'FAIL', severity: 'critical' });
    expect(f.details.reportUnread).toMatchObject({ call: 'iam:GetCredentialReport', code: 'AccessDenied' });
  });

  it('report alone still decides, and says the summary was not read', () => {
    const fail = evaluate(
      inventory({
        summary: denied('iam:GetAccountSummary'),
        rows: [reportRow('<root_account>', { access_key_1: activeKey('access_key_1', 5) })],
      }),
    );
    expect(fail).toMatchObject({ status: 'FAIL', severity: 'critical' });
    const inactive = evaluate(
      inventory({
        summary: denied('iam:GetAccountSummary'),
        rows: [reportRow('<root_account>', { access_key_1: key('access_key_1', { lastRotated: daysAgo(9) }) })],
      }),
    );
    expect(inactive).toMatchObject({ status: 'FAIL', severity: 'high' });
  });

  it('report alone showing no key is ERROR, not PASS: a key created since the report cannot be ruled out', () => {
    const f = evaluate(inventory({ summary: denied('iam:GetAccountSummary'), rows: [reportRow('<root_account>')] }));
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('iam:GetAccountSummary failed (AccessDenied)');
    expect(f.details.summaryUnread).toMatchObject({ call: 'iam:GetAccountSummary' });
  });

  it('a report without its root row is no evidence: with the summary unread too, ERROR, not PASS', () => {
    const f = evaluate(inventory({ summary: denied('iam:GetAccountSummary'), rows: [reportRow('alice')] }));
    expect(f.status).toBe('ERROR');
    expect(f.title).toContain('iam:GetAccountSummary failed (AccessDenied) and the credential report has no root row');
    expect(f.details.reportUnread).toMatchObject({ reason: 'the credential report has no <root_account> row' });
  });

  it('summary alone showing no key is PASS: it is real-time', () => {
    const f = evaluate(inventory({ summary: { keysPresent: 0 }, report: denied('iam:GetCredentialReport') }));
    expect(f.status).toBe('PASS');
  });
});
