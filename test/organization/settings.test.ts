import { describe, expect, it } from 'vitest';
import { AuditorError } from '#lib/model/errors.ts';
import { mapItemSchema } from '#lib/organization/contract.ts';
import {
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_MEMBER_ROLE_NAME,
  memberRoleArn,
  OrganizationSettingsError,
  parseOrganizationSettings,
} from '#lib/organization/settings.ts';

describe('organization settings', () => {
  it('{} is valid: every field has its default', () => {
    expect(parseOrganizationSettings({})).toEqual({
      memberRoleName: DEFAULT_MEMBER_ROLE_NAME,
      includeAccounts: [],
      excludeAccounts: [],
      includeOus: [],
      excludeOus: [],
      maxConcurrency: DEFAULT_MAX_CONCURRENCY,
      alerts: 'digest',
    });
    expect(parseOrganizationSettings(undefined).memberRoleName).toBe('AccountAuditorMemberRole');
    expect(DEFAULT_MAX_CONCURRENCY).toBe(20);
  });

  it('takes every field, and drops repeated IDs', () => {
    const settings = parseOrganizationSettings({
      managementRoleArn: 'arn:aws:iam::111111111111:role/org/AccountAuditorOrganizationRead',
      memberRoleName: 'Auditor',
      externalId: 'tooling-7f3a',
      includeAccounts: ['222222222222', '222222222222'],
      excludeAccounts: ['333333333333'],
      includeOus: ['ou-ab12-cd34ef56'],
      excludeOus: ['ou-ab12-99999999'],
      maxConcurrency: 1,
      alerts: 'per-account',
    });
    expect(settings.includeAccounts).toEqual(['222222222222']);
    expect(settings.maxConcurrency).toBe(1);
    expect(settings.alerts).toBe('per-account');
  });

  it.each([
    [{ maxConcurrency: 0 }, 'maxConcurrency'],
    [{ maxConcurrency: 901 }, 'maxConcurrency'],
    [{ maxConcurrency: 2.5 }, 'maxConcurrency'],
    [{ memberRoleName: 'has space' }, 'memberRoleName'],
    [{ memberRoleName: 'x'.repeat(65) }, 'memberRoleName'],
    [{ externalId: 'x' }, 'externalId'],
    [{ managementRoleArn: 'arn:aws:iam::111111111111:user/alice' }, 'managementRoleArn'],
    [{ includeAccounts: ['12345'] }, 'includeAccounts.0'],
    [{ excludeOus: ['r-ab12'] }, 'excludeOus.0'],
    [{ alerts: 'weekly' }, 'alerts'],
    [{ memberRoleNames: 'typo' }, '(organization settings)'],
  ])('%j is refused, naming %s', (input, field) => {
    let error: unknown;
    try {
      parseOrganizationSettings(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrganizationSettingsError);
    expect(error).toBeInstanceOf(AuditorError);
    expect((error as Error).message).toContain(`${field}:`);
  });

  it('the smallest valid and invalid concurrency', () => {
    expect(parseOrganizationSettings({ maxConcurrency: 1 }).maxConcurrency).toBe(1);
    expect(parseOrganizationSettings({ maxConcurrency: 900 }).maxConcurrency).toBe(900);
    expect(() => parseOrganizationSettings({ maxConcurrency: 0 })).toThrow(/maxConcurrency: Too small/i);
  });

  it('memberRoleArn is partition-aware', () => {
    expect(memberRoleArn('aws-us-gov', '222222222222', 'R')).toBe('arn:aws-us-gov:iam::222222222222:role/R');
  });
});

describe('the map item contract', () => {
  const item = {
    organizationRunId: '20261101T030000000Z-nightly',
    account: {
      id: '222222222222',
      name: 'payments',
      roleArn: 'arn:aws:iam::222222222222:role/AccountAuditorMemberRole',
      externalId: 'tooling-7f3a',
    },
  };

  it('accepts an item, and the own account with roleArn null', () => {
    expect(mapItemSchema.parse(item)).toEqual(item);
    expect(mapItemSchema.parse({ ...item, account: { id: '222222222222', name: 'tooling', roleArn: null } }).account.roleArn).toBeNull();
  });

  it.each([
    [{ ...item, account: { ...item.account, id: '2222' } }],
    [{ ...item, account: { ...item.account, roleArn: undefined } }],
    [{ ...item, account: { ...item.account, roleArn: 'arn:aws:iam::222222222222:user/x' } }],
    [{ ...item, extra: true }],
    [{ account: item.account }],
  ])('refuses %j', (bad) => {
    expect(mapItemSchema.safeParse(bad).success).toBe(false);
  });

  it('refuses a member role in another account than the item’s: its findings would be filed under the wrong account', () => {
    const other = { ...item, account: { ...item.account, roleArn: 'arn:aws:iam::333333333333:role/AccountAuditorMemberRole' } };
    const parsed = mapItemSchema.safeParse(other);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({
      path: ['account', 'roleArn'],
      message: 'names account 333333333333, not the item’s account 222222222222',
    });
  });
});
