/**
 * The bundled demo organization (examples/demo-organization, described in its README): the
 * loader reads it as designed, each account's guardrails come out, and the findings of its
 * exported accounts are those the README lists.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Inventory } from '#lib/inventory/types.ts';
import type { Finding } from '#lib/model/finding.ts';
import { loadAccountExport, loadOrganizationExport, type OrganizationExport } from '#lib/organization/offline.ts';
import { parseSettings } from '#lib/settings.ts';
import { ALL_CHECKS } from '#test/checks.ts';

const DEMO_ORG = fileURLToPath(new URL('../../examples/demo-organization', import.meta.url));
const DEMO_ACCOUNT = fileURLToPath(new URL('../../examples/demo-account', import.meta.url));
const MANAGEMENT = '111111111111';
const SHARED = '123456789012';
const PROD = '222222222222';
const SANDBOX = '333333333333';

/** The demo must not depend on today's date: the manifests fix it. */
const farFuture = (): Date => new Date('2031-01-01T00:00:00Z');

const loaded = await loadOrganizationExport(DEMO_ORG);

/** The account's inventory as organization mode audits it: its export, with the organization and its SCPs. */
async function memberInventory(org: OrganizationExport, id: string, withGuardrails = true): Promise<Inventory> {
  const entry = org.accountDirs.get(id);
  if (!entry || !('dir' in entry)) throw new Error(`${id} has no export folder`);
  const inventory = await loadAccountExport(entry.dir, id, { now: farFuture });
  return {
    ...inventory,
    organization: {
      id: org.organization.id,
      accountIds: org.accounts.map((a) => a.id),
      ...(withGuardrails ? { guardrails: org.guardrails.get(id)! } : {}),
    },
  };
}

function evaluate(inventory: Inventory): Finding[] {
  const settings = parseSettings({});
  return ALL_CHECKS.flatMap((check) => check.evaluate(inventory, settings));
}

const statusOf = (findings: Finding[]) =>
  Object.fromEntries(findings.map((f) => [`${f.checkId} ${f.resource}`, `${f.status} ${f.severity}`]));

function levelsOf(id: string): string[] {
  const source = loaded.guardrails.get(id);
  if (source?.state !== 'read') throw new Error(`${id}: guardrails not read: ${JSON.stringify(source)}`);
  return source.data.map((l) => `${l.kind} ${l.target}: ${l.policies.map((p) => p.name).join(', ')}`);
}

describe('examples/demo-organization', () => {
  it('loads the organization, its ACTIVE accounts and their OUs', () => {
    expect(loaded.organization).toEqual({ id: 'o-a1b2c3d4e5', managementAccountId: MANAGEMENT });
    expect(loaded.accounts.map((a) => [a.id, a.name, a.ous])).toEqual([
      [MANAGEMENT, 'Management', []],
      [SHARED, 'Shared Services', ['ou-a1b2-platform']],
      [PROD, 'Workloads Prod', ['ou-a1b2-workload']],
      [SANDBOX, 'Sandbox', ['ou-a1b2-sandbox1']],
    ]);
    expect(loaded.ignored).toEqual([]);
  });

  it('gives each account its SCP levels: none for the management account, DenyIamChanges at the workload OU', () => {
    expect(levelsOf(MANAGEMENT)).toEqual([]);
    expect(levelsOf(PROD)).toEqual([
      'root r-a1b2: FullAWSAccess',
      'ou ou-a1b2-workload: FullAWSAccess, DenyIamChanges',
      `account ${PROD}: FullAWSAccess`,
    ]);
    expect(levelsOf(SHARED)).toEqual([
      'root r-a1b2: FullAWSAccess',
      'ou ou-a1b2-platform: FullAWSAccess',
      `account ${SHARED}: FullAWSAccess`,
    ]);
    expect(levelsOf(SANDBOX)).toEqual([
      'root r-a1b2: FullAWSAccess',
      'ou ou-a1b2-sandbox1: FullAWSAccess',
      `account ${SANDBOX}: FullAWSAccess`,
    ]);
    const source = loaded.guardrails.get(PROD);
    const deny = source?.state === 'read' ? source.data[1]!.policies[1] : undefined;
    expect(deny).toMatchObject({
      id: 'p-denyiam001',
      awsManaged: false,
      document: {
        ok: true,
        document: {
          Statement: [
            { Sid: 'DenyIamWrites', Effect: 'Deny', Action: expect.arrayContaining(['iam:Put*', 'iam:Attach*', 'iam:PassRole']) },
          ],
        },
      },
    });
  });

  it('has an export for three accounts and the failed AssumeRole of the sandbox', () => {
    expect(Object.fromEntries([...loaded.accountDirs].map(([id, e]) => [id, 'dir' in e ? path.relative(DEMO_ORG, e.dir) : e]))).toEqual({
      [MANAGEMENT]: `accounts/${MANAGEMENT}`,
      [SHARED]: `accounts/${SHARED}`,
      [PROD]: `accounts/${PROD}`,
      [SANDBOX]: {
        assumeRoleError: {
          code: 'AccessDenied',
          message: expect.stringContaining(
            `is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${SANDBOX}:role/AccountAuditorMemberRole`,
          ),
        },
      },
    });
  });

  it('the management account: its administrator has full access, no SCP applies', async () => {
    const findings = evaluate(await memberInventory(loaded, MANAGEMENT));
    expect(statusOf(findings)).toEqual({
      [`root-access-key arn:aws:iam::${MANAGEMENT}:root`]: 'PASS informational',
      [`user-full-access arn:aws:iam::${MANAGEMENT}:user/org-admin`]: 'FAIL critical',
      [`elasticache-service-linked-role arn:aws:iam::${MANAGEMENT}:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache`]:
        'WARN low',
      [`dax-service-role arn:aws:iam::${MANAGEMENT}:role/*`]: 'WARN low',
    });
  });

  it('Workloads Prod: the SCP denying IAM’s writes makes its administrator FAIL high, naming the SCP (critical without it)', async () => {
    const capped = evaluate(await memberInventory(loaded, PROD));
    expect(statusOf(capped)).toEqual({
      [`root-access-key arn:aws:iam::${PROD}:root`]: 'PASS informational',
      [`user-full-access arn:aws:iam::${PROD}:user/prod-admin`]: 'FAIL high',
      [`elasticache-service-linked-role arn:aws:iam::${PROD}:role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache`]:
        'WARN low',
      [`dax-service-role arn:aws:iam::${PROD}:role/*`]: 'WARN low',
    });
    const admin = capped.find((f) => f.checkId === 'user-full-access')!;
    expect(admin.title).toBe(
      'prod-admin can do all actions except iam (105 of 190 actions) directly via policy AdministratorAccess; service control policy DenyIamChanges at OU ou-a1b2-workload removes iam (105 of 190 actions)',
    );
    const plain = evaluate(await memberInventory(loaded, PROD, false)).find((f) => f.checkId === 'user-full-access')!;
    expect([plain.status, plain.severity]).toEqual(['FAIL', 'critical']);
  });

  it('Shared Services is the demo account, with its findings unchanged by FullAWSAccess', async () => {
    const own = evaluate(await memberInventory(loaded, SHARED));
    const demo = evaluate(await loadAccountExport(DEMO_ACCOUNT, SHARED, { now: farFuture }));
    const verdict = (findings: Finding[]) =>
      findings.map((f) => ({ check: f.checkId, resource: f.resource, status: f.status, title: f.title }));
    expect(verdict(own)).toEqual(verdict(demo));
    expect(own.find((f) => f.resource.endsWith(':user/alice') && f.checkId === 'user-full-access')?.details.serviceControlPolicies).toEqual(
      [
        { level: 'root r-a1b2', policies: ['FullAWSAccess (p-FullAWSAccess)'] },
        { level: 'OU ou-a1b2-platform', policies: ['FullAWSAccess (p-FullAWSAccess)'] },
        { level: `account ${SHARED}`, policies: ['FullAWSAccess (p-FullAWSAccess)'] },
      ],
    );
  });

  it("Shared Services' files are the demo account's (but for caller-identity.json, made through the member role)", async () => {
    const files = async (dir: string): Promise<string[]> =>
      (await readdir(dir, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
        .sort();
    const copy = path.join(DEMO_ORG, 'accounts', SHARED);
    const original = (await files(DEMO_ACCOUNT)).filter((f) => f !== 'README.md');
    expect(await files(copy)).toEqual(original);
    for (const f of original.filter((name) => name !== 'caller-identity.json')) {
      expect(await readFile(path.join(copy, f), 'utf8'), f).toBe(await readFile(path.join(DEMO_ACCOUNT, f), 'utf8'));
    }
  });
});
