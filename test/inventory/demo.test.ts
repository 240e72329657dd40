import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadOffline } from '#lib/inventory/offline.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { parseSettings } from '#lib/settings.ts';

const DEMO = fileURLToPath(new URL('../../examples/demo-account', import.meta.url));
const DEMO_NEXT = fileURLToPath(new URL('../../examples/demo-account-next', import.meta.url));
const A = 'arn:aws:iam::123456789012';

/** The demo must not depend on today's date: the manifest fixes it, so a clock far away changes nothing. */
const farFuture = (): Date => new Date('2031-01-01T00:00:00Z');

function allSources(inventory: Inventory) {
  return [
    inventory.accountSummary,
    inventory.credentialReport,
    inventory.authorizationDetails,
    ...inventory.regions.flatMap((r) => [r.elastiCache, r.dax]),
    ...Object.values(inventory.accessKeys),
  ];
}

function evaluate(inventory: Inventory): Finding[] {
  const settings = parseSettings({});
  return ALL_CHECKS.flatMap((check) => check.evaluate(inventory, settings));
}

/** `checkId resource` -> status, to compare with the design in examples/demo-account/README.md. */
function statusByResource(findings: Finding[]): Record<string, string> {
  return Object.fromEntries(findings.map((f) => [`${f.checkId} ${f.resource}`, f.status]));
}

describe.each([
  ['examples/demo-account', DEMO, '2026-11-01T00:00:00.000Z'],
  ['examples/demo-account-next', DEMO_NEXT, '2026-11-02T00:00:00.000Z'],
])('%s', (_name, dir, collectedAt) => {
  it('loads with every source read, as of its manifest date', async () => {
    const inventory = await loadOffline(dir, { now: farFuture });
    expect(inventory).toMatchObject({ accountId: '123456789012', partition: 'aws', collectedAt });
    expect(inventory.regions.map((r) => r.region)).toEqual(['eu-west-1', 'us-east-1']);
    const unread = allSources(inventory).filter((s) => s.state !== 'read');
    expect(unread).toEqual([]);
  });
});

describe('the demo account exercises every check as designed', () => {
  it('produces the designed status for every resource', async () => {
    const findings = evaluate(await loadOffline(DEMO, { now: farFuture }));
    expect(findings.some((f) => f.status === 'PASS')).toBe(true);
    expect(findings.some((f) => f.status === 'FAIL')).toBe(true);
    expect(findings.filter((f) => f.status === 'ERROR')).toEqual([]);

    expect(statusByResource(findings)).toEqual({
      [`root-access-key ${A}:root`]: 'FAIL',

      [`access-key-age ${A}:user/service/ci-deploy#access_key_1`]: 'PASS',
      [`access-key-age ${A}:user/alice#access_key_1`]: 'WARN',
      [`access-key-age ${A}:user/service/legacy-etl#access_key_1`]: 'FAIL',
      // legacy-etl's access_key_2 is inactive and the root key too: neither is age-checked.

      [`user-full-access ${A}:user/alice`]: 'FAIL',
      [`user-full-access ${A}:user/bob`]: 'FAIL',
      [`user-full-access ${A}:user/carol`]: 'FAIL',
      [`user-full-access ${A}:user/dave`]: 'FAIL',
      [`user-full-access ${A}:user/erin`]: 'WARN',
      [`user-full-access ${A}:user/frank`]: 'PASS',
      [`user-full-access ${A}:user/grace`]: 'PASS',
      [`user-full-access ${A}:user/heidi`]: 'FAIL',
      [`user-full-access ${A}:user/ivan`]: 'FAIL',
      [`user-full-access ${A}:user/service/ci-deploy`]: 'PASS',
      [`user-full-access ${A}:user/oscar`]: 'FAIL',
      [`user-full-access ${A}:user/service/legacy-etl`]: 'PASS',

      [`elasticache-service-linked-role ${A}:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache`]: 'PASS',

      [`dax-service-role ${A}:role/*`]: 'PASS',
      'dax-service-role arn:aws:dax:us-east-1:123456789012:cache/orders-dax': 'PASS',
      'dax-service-role arn:aws:dax:eu-west-1:123456789012:cache/catalog-dax': 'FAIL',

      [`role-full-access ${A}:role/LegacyMigrationAdmin`]: 'FAIL',
      [`role-full-access ${A}:role/VendorMonitoring`]: 'FAIL',
      [`role-full-access ${A}:role/BreakGlassAdmin`]: 'PASS',
      [`role-full-access ${A}:role/service-role/DaxToDynamoDB`]: 'PASS',
      // The service-linked roles have no role-full-access finding.
    });

    const byResource = new Map(findings.map((f) => [`${f.checkId} ${f.resource}`, f]));
    const severity = (key: string) => byResource.get(key)?.severity;
    // Severities the specification fixes for these cases.
    expect(severity(`root-access-key ${A}:root`)).toBe('high'); // inactive, not active, key
    expect(severity(`user-full-access ${A}:user/alice`)).toBe('critical'); // * on *, directly
    expect(severity(`user-full-access ${A}:user/bob`)).toBe('critical'); // * on *, via a group
    expect(severity(`user-full-access ${A}:user/carol`)).toBe('high'); // all actions on itself
    expect(severity(`user-full-access ${A}:user/dave`)).toBe('high'); // conditional: one step lower
    expect(severity(`user-full-access ${A}:user/heidi`)).toBe('high'); // NotAction on *
    expect(severity(`user-full-access ${A}:user/erin`)).toBe('high'); // capped admin: WARN one step lower
    // IAMFullAccess alone: one call (iam:PutUserPolicy on itself) away from full access.
    const ivan = byResource.get(`user-full-access ${A}:user/ivan`)!;
    expect(ivan.severity).toBe('high');
    expect(ivan.details.verdict).toBe('escalation');
    expect(ivan.title).toContain(`can make itself an administrator in one call: iam:PutUserPolicy on ${A}:user/ivan`);
    expect(severity('dax-service-role arn:aws:dax:eu-west-1:123456789012:cache/catalog-dax')).toBe('high');
    // SPEC 3.6: an outside account with no condition is critical; under an ExternalId, high.
    expect(severity(`role-full-access ${A}:role/LegacyMigrationAdmin`)).toBe('critical');
    expect(severity(`role-full-access ${A}:role/VendorMonitoring`)).toBe('high');
    expect(byResource.get(`role-full-access ${A}:role/VendorMonitoring`)!.details.outsideAccounts).toEqual(['444455556666']);
    // The in-account break-glass role lists who can assume it; oscar is FAIL high through it.
    const breakGlass = byResource.get(`role-full-access ${A}:role/BreakGlassAdmin`)!.details.assumableBy as {
      users: { user: string }[];
      roles: { role: string }[];
    };
    expect(breakGlass.users.map((u) => u.user).sort()).toEqual(['alice', 'bob', 'dave', 'heidi', 'oscar']);
    expect(breakGlass.roles.map((r) => r.role).sort()).toEqual(['LegacyMigrationAdmin', 'VendorMonitoring']);
    const oscar = byResource.get(`user-full-access ${A}:user/oscar`)!;
    expect(oscar.severity).toBe('high');
    expect(oscar.title).toContain('can become an administrator through role BreakGlassAdmin');
    // Each user the role lists is reported through it by user-full-access, unless that user has full access already.
    for (const { user } of breakGlass.users) {
      const f = byResource.get(`user-full-access ${A}:user/${user}`)!;
      expect(f.details.verdict === 'full-access' || JSON.stringify(f.details).includes('through role BreakGlassAdmin'), user).toBe(true);
    }
    expect(JSON.stringify(byResource.get(`user-full-access ${A}:user/heidi`)!.details)).toContain('through role BreakGlassAdmin');
    // The over-age key is named by the ID found in access-keys/legacy-etl.json.
    expect(JSON.stringify(byResource.get(`access-key-age ${A}:user/service/legacy-etl#access_key_1`)?.details)).toContain(
      'AKIAR7DEMOLEGACYETL1',
    );
  });

  it('the next night has one new FAIL (zoe) and one resolved FAIL (legacy-etl rotated its key), nothing else changed', async () => {
    const before = evaluate(await loadOffline(DEMO, { now: farFuture }));
    const after = evaluate(await loadOffline(DEMO_NEXT, { now: farFuture }));
    const failing = (findings: Finding[]) => new Set(findings.filter((f) => f.status === 'FAIL').map((f) => f.id));
    const [failBefore, failAfter] = [failing(before), failing(after)];

    expect([...failAfter].filter((id) => !failBefore.has(id))).toEqual([`123456789012#user-full-access#${A}:user/zoe`]);
    expect([...failBefore].filter((id) => !failAfter.has(id))).toEqual([
      `123456789012#access-key-age#${A}:user/service/legacy-etl#access_key_1`,
    ]);
    const statuses = statusByResource(after);
    expect(statuses[`access-key-age ${A}:user/service/legacy-etl#access_key_1`]).toBe('PASS');
    expect(statuses[`access-key-age ${A}:user/alice#access_key_1`]).toBe('WARN');
    expect(
      statuses[`elasticache-service-linked-role ${A}:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache`],
    ).toBe('PASS');
    expect(after.find((f) => f.resource === `${A}:user/zoe`)?.severity).toBe('critical');
  });
});
