import { describe, expect, it } from 'vitest';
import { accessKeyAge } from '#test/checks.ts';
import { activeKey, ACCOUNT, daysAgo, denied, inventory, key, reportRow, settings } from '#test/build-inventory.ts';

const byResource = (findings: ReturnType<typeof accessKeyAge.evaluate>) => new Map(findings.map((f) => [f.resource, f]));
const alice = `arn:aws:iam::${ACCOUNT}:user/alice`;

describe('access-key-age', () => {
  it('one finding per active key: FAIL over the limit, WARN from the warning age, PASS below', () => {
    const findings = accessKeyAge.evaluate(
      inventory({
        rows: [
          reportRow('<root_account>'),
          reportRow('alice', { access_key_1: activeKey('access_key_1', 200), access_key_2: activeKey('access_key_2', 85) }),
          reportRow('bob', { access_key_1: activeKey('access_key_1', 10) }),
        ],
      }),
      settings(),
    );
    const f = byResource(findings);
    expect(findings).toHaveLength(3);
    expect(f.get(`${alice}#access_key_1`)).toMatchObject({
      status: 'FAIL',
      severity: 'medium',
      id: `${ACCOUNT}#access-key-age#${alice}#access_key_1`,
    });
    expect(f.get(`${alice}#access_key_1`)!.title).toContain('200 days old');
    expect(f.get(`${alice}#access_key_2`)).toMatchObject({ status: 'WARN', severity: 'low' });
    expect(f.get(`arn:aws:iam::${ACCOUNT}:user/bob#access_key_1`)?.status).toBe('PASS');
  });

  it('boundaries: exactly maxKeyAgeDays is not yet FAIL, exactly warnKeyAgeDays is WARN', () => {
    const f = accessKeyAge.evaluate(
      inventory({
        rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 90), access_key_2: activeKey('access_key_2', 79) })],
      }),
      settings(),
    );
    expect(f.map((x) => x.status)).toEqual(['WARN', 'PASS']);
  });

  it('thresholds are configurable', () => {
    const [f] = accessKeyAge.evaluate(
      inventory({ rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 40) })] }),
      settings({ maxKeyAgeDays: 30, warnKeyAgeDays: 20 }),
    );
    expect(f!.status).toBe('FAIL');
    expect(f!.details).toMatchObject({ maxKeyAgeDays: 30, ageDays: 40 });
  });

  it('inactive keys are not age-checked, however old', () => {
    const findings = accessKeyAge.evaluate(
      inventory({ rows: [reportRow('alice', { access_key_1: key('access_key_1', { active: false, lastRotated: daysAgo(900) }) })] }),
      settings(),
    );
    expect(findings).toEqual([]);
  });

  it("the root user's active keys are age-checked too", () => {
    const [f] = accessKeyAge.evaluate(
      inventory({ rows: [reportRow('<root_account>', { access_key_2: activeKey('access_key_2', 365) })] }),
      settings(),
    );
    expect(f).toMatchObject({ status: 'FAIL', resource: `arn:aws:iam::${ACCOUNT}:root#access_key_2` });
    expect(f!.title).toContain('the root user');
  });

  it('details carry last use and service, or "never used"', () => {
    const findings = accessKeyAge.evaluate(
      inventory({
        rows: [
          reportRow('alice', {
            access_key_1: activeKey('access_key_1', 120, {
              lastUsedDate: daysAgo(2),
              lastUsedService: 'dynamodb',
              lastUsedRegion: 'eu-west-1',
            }),
            access_key_2: activeKey('access_key_2', 120),
          }),
        ],
      }),
      settings(),
    );
    expect(findings[0]!.details).toMatchObject({ user: 'alice', slot: 'access_key_1', lastUsed: daysAgo(2), lastUsedService: 'dynamodb' });
    expect(findings[1]!.details.lastUsed).toBe('never used');
  });

  it('names the key by its ID when ListAccessKeys confirmed it', () => {
    const created = daysAgo(200);
    const [f] = accessKeyAge.evaluate(
      inventory({
        rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
        accessKeys: { alice: { state: 'read', data: [{ accessKeyId: 'AKIAALICE0000000001', status: 'Active', createDate: created }] } },
      }),
      settings(),
    );
    expect(f).toMatchObject({ status: 'FAIL' });
    expect(f!.details).toMatchObject({ keyId: 'AKIAALICE0000000001', confirmedBy: 'ListAccessKeys' });
    expect(f!.title).toContain('AKIAALICE0000000001');
  });

  it('a key deactivated since the report (real-time status) is no longer FAIL', () => {
    const [f] = accessKeyAge.evaluate(
      inventory({
        rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
        accessKeys: {
          alice: { state: 'read', data: [{ accessKeyId: 'AKIAALICE0000000001', status: 'Inactive', createDate: daysAgo(200) }] },
        },
      }),
      settings(),
    );
    expect(f!.status).toBe('PASS');
    expect(String(f!.details.note)).toContain('deactivated');
  });

  it('a key missing from the real-time list keeps the report status (never a PASS on a guess)', () => {
    const [f] = accessKeyAge.evaluate(
      inventory({
        rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
        accessKeys: { alice: { state: 'read', data: [{ accessKeyId: 'AKIANEW', status: 'Active', createDate: daysAgo(1) }] } },
      }),
      settings(),
    );
    expect(f!.status).toBe('FAIL');
    expect(String(f!.details.note)).toContain('AKIANEW');
  });

  it('a failed key-ID lookup is noted but does not hide the finding', () => {
    const [f] = accessKeyAge.evaluate(
      inventory({
        rows: [reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
        accessKeys: { alice: denied('iam:ListAccessKeys') },
      }),
      settings(),
    );
    expect(f!.status).toBe('FAIL');
    expect(f!.details.keyIdLookup).toMatchObject({ call: 'iam:ListAccessKeys', code: 'AccessDenied' });
  });

  it('an active key without a creation date is ERROR, not PASS', () => {
    const [f] = accessKeyAge.evaluate(
      inventory({ rows: [reportRow('alice', { access_key_1: key('access_key_1', { active: true }) })] }),
      settings(),
    );
    expect(f!.status).toBe('ERROR');
  });

  it('ERROR naming the call when the credential report could not be read', () => {
    const findings = accessKeyAge.evaluate(inventory({ report: denied('iam:GenerateCredentialReport') }), settings());
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ status: 'ERROR', resource: `arn:aws:iam::${ACCOUNT}:user/*` });
    expect(findings[0]!.title).toContain('iam:GenerateCredentialReport');
  });
});
