import { describe, expect, it } from 'vitest';
import { loadChecks } from '#lib/checks/registry.ts';
import { DEFAULT_CHECK_IDS } from '#lib/checks/catalogue.ts';
import { unreadSource } from '#lib/inventory/failure.ts';
import type { Inventory, OrganizationAccess } from '#lib/inventory/types.ts';
import { ACCOUNT, inventory, settings } from '#test/build-inventory.ts';

const [check] = await loadChecks(['organization']);
const ROLE = `arn:aws:iam::${ACCOUNT}:role/AccountAuditorMemberRole`;

function withAccess(access: OrganizationAccess | undefined): Inventory {
  return { ...inventory(), organization: { id: 'o-abcdefghij', accountIds: [ACCOUNT], ...(access ? { access } : {}) } };
}

describe('organization (member access)', () => {
  it('is organization mode only: not among the checks a run selects by default', async () => {
    expect(DEFAULT_CHECK_IDS).not.toContain('organization');
    expect((await loadChecks()).map((c) => c.id)).not.toContain('organization');
    expect(check!.organizationOnly).toBe(true);
  });

  it('produces nothing outside organization mode (no organization, or no access recorded)', () => {
    expect(check!.evaluate(inventory(), settings())).toEqual([]);
    expect(check!.evaluate(withAccess(undefined), settings())).toEqual([]);
  });

  it('PASS on the account root when the member role was assumed, naming the role', () => {
    const findings = check!.evaluate(
      withAccess({ roleArn: ROLE, assumed: { state: 'read', data: { at: '2026-11-01T00:00:00.000Z' } } }),
      settings(),
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      checkId: 'organization',
      resource: `arn:aws:iam::${ACCOUNT}:root`,
      status: 'PASS',
      severity: 'informational',
      details: { roleArn: ROLE, assumedAt: '2026-11-01T00:00:00.000Z' },
    });
    expect(findings[0]!.title).toContain(ROLE);
  });

  it("PASS for the auditor's own account, audited with its own role", () => {
    const [f] = check!.evaluate(withAccess({ roleArn: null, assumed: { state: 'read', data: { at: null } } }), settings());
    expect(f).toMatchObject({ status: 'PASS', details: { roleArn: null } });
    expect(f!.title).toMatch(/own role/);
  });

  it('ERROR naming the call, the role and why when the role could not be assumed', () => {
    const assumed = unreadSource(
      'sts:AssumeRole',
      'refused: the role does not exist or its trust policy does not admit the auditor',
      'AccessDenied',
    );
    const findings = check!.evaluate(withAccess({ roleArn: ROLE, assumed }), settings());
    expect(findings).toHaveLength(1);
    const [f] = findings;
    expect(f).toMatchObject({
      status: 'ERROR',
      severity: 'high',
      resource: `arn:aws:iam::${ACCOUNT}:root`,
      details: { call: 'sts:AssumeRole', roleArn: ROLE, code: 'AccessDenied', kind: 'denied' },
    });
    expect(f!.title).toBe(
      `the account was not audited: sts:AssumeRole into ${ROLE} failed (AccessDenied): refused: the role does not exist or its trust policy does not admit the auditor`,
    );
  });

  it('ERROR, never PASS, when the access was not checked at all (skipped)', () => {
    const [f] = check!.evaluate(
      withAccess({ roleArn: ROLE, assumed: { state: 'skipped', call: 'sts:AssumeRole', reason: 'not attempted' } }),
      settings(),
    );
    expect(f).toMatchObject({ status: 'ERROR', details: { state: 'skipped' } });
  });
});
