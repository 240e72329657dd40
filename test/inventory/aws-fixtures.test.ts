import { describe, expect, it } from 'vitest';
import { parseCredentialReport } from '#lib/inventory/sources/credential-report/normalize.ts';
import { normalizeAuthorizationDetails } from '#lib/inventory/sources/authorization-details/normalize.ts';
import {
  authorizationDetailsPage,
  authorizationDetailsPages,
  CREDENTIAL_REPORT_COLUMNS,
  credentialReportCsv,
  daysBefore,
  FIXTURE_NOW,
  generateAccount,
  IAM_DEFAULT_MAX_ITEMS,
  rootReportRow,
  userReportRow,
} from '#test/aws.ts';

/** The fixtures are only useful if they are what AWS sends: these pin the shapes others rely on. */
describe('AWS fixtures', () => {
  it('credential report: 22 columns, root row with not_supported, N/A for absent keys, +00:00 dates', () => {
    const csv = credentialReportCsv([
      rootReportRow(),
      userReportRow({ name: 'alice', keys: [{ active: true, lastRotated: new Date('2024-01-01T10:00:00Z') }] }),
    ]);
    const [header, root, alice] = csv.split('\n');
    expect(header!.split(',')).toHaveLength(22);
    expect(header!.split(',')).toEqual([...CREDENTIAL_REPORT_COLUMNS]);
    const rootValues = Object.fromEntries(CREDENTIAL_REPORT_COLUMNS.map((c, i) => [c, root!.split(',')[i]]));
    expect(rootValues).toMatchObject({
      user: '<root_account>',
      password_enabled: 'not_supported',
      access_key_1_active: 'false',
      access_key_1_last_rotated: 'N/A',
    });
    expect(alice).toContain(',true,2024-01-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,');
    const parsed = parseCredentialReport(csv, null);
    expect(parsed.rows[1]!.keys[0]).toMatchObject({ active: true, lastRotated: '2024-01-01T10:00:00.000Z', lastUsedDate: null });
  });

  it('authorization details page like IAM: MaxItems counts across the four lists, Marker chains, limits enforced', () => {
    const account = generateAccount({ users: 250, groups: 3, roles: 5, customerPolicies: 2 });
    const pages = authorizationDetailsPages(account.entities);
    expect(pages).toHaveLength(Math.ceil(account.entityCount / IAM_DEFAULT_MAX_ITEMS));
    for (const page of pages.slice(0, -1)) {
      const size = page.UserDetailList!.length + page.GroupDetailList!.length + page.RoleDetailList!.length + page.Policies!.length;
      expect(size).toBe(IAM_DEFAULT_MAX_ITEMS);
      expect(page).toMatchObject({ IsTruncated: true, Marker: expect.any(String) });
    }
    expect(pages.at(-1)).toMatchObject({ IsTruncated: false });
    expect(pages.at(-1)!.Marker).toBeUndefined();
    const merged = normalizeAuthorizationDetails(pages);
    expect(merged.users.map((u) => u.name)).toEqual(account.users.map((u) => u.name));
    expect(merged.roles).toHaveLength(account.entities.roles.length);
    expect(() => authorizationDetailsPage(account.entities, { MaxItems: 1001 })).toThrow(/less than or equal to 1000/);
    expect(() => authorizationDetailsPage(account.entities, { Marker: 'bogus' })).toThrow(/Invalid Marker/);
  });

  it('generated account: ground truth matches its own credential report', () => {
    const account = generateAccount({ users: 300, overAgeKeyRatio: 0.5 });
    const report = parseCredentialReport(account.reportCsv, null);
    const dayMs = 86_400_000;
    const overAge = report.rows
      .filter((r) => !r.isRoot)
      .filter((r) =>
        r.keys.some((k) => k.active && k.lastRotated && Math.floor((FIXTURE_NOW.getTime() - Date.parse(k.lastRotated)) / dayMs) > 90),
      );
    expect(overAge.map((r) => r.user).sort()).toEqual([...account.overAgeUsers].sort());
    expect(account.overAgeUsers).toHaveLength(150);
    // Keys in the report and from ListAccessKeys agree.
    const first = account.overAgeUsers[0]!;
    const listed = account.listAccessKeys(first).AccessKeyMetadata!;
    const row = report.rows.find((r) => r.user === first)!;
    expect(listed.map((k) => k.CreateDate!.toISOString())).toEqual(row.keys.filter((k) => k.lastRotated).map((k) => k.lastRotated));
    expect(daysBefore(0)).toEqual(FIXTURE_NOW);
  });

  it('is deterministic', () => {
    expect(generateAccount({ users: 50 }).reportCsv).toBe(generateAccount({ users: 50 }).reportCsv);
    expect(generateAccount({ users: 50, seed: 7 }).reportCsv).not.toBe(generateAccount({ users: 50 }).reportCsv);
  });
});
