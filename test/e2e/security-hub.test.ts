/**
 * `account-auditor run --security-hub` against moto's Security Hub, three nights with local state,
 * read back with GetFindings: night 1 imports the open findings (Workflow NEW); night 2 sees bob's
 * over-age key rotated, archives that finding (PASSED, ARCHIVED) with FirstObservedAt unchanged and
 * imports bob's new admin finding; night 3 is narrowed to access-key-age after alice lost her admin
 * policy, and touches nothing outside that check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetachUserPolicyCommand } from '@aws-sdk/client-iam';
import { type AwsSecurityFinding, GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '#lib/cli/main.ts';
import { validateAsff } from '#lib/export/asff.ts';
import { clients, DUMMY_CREDENTIALS, motoEndpoint } from './harness/aws.ts';
import { ACCOUNT_ID, motoControl, REGION } from './harness/moto.ts';
import { ADMIN_POLICY_ARN, arnOf, changeAccount, seedAccount, type SeededAccount } from './harness/seed.ts';

const PRODUCT_ARN = `arn:aws:securityhub:${REGION}:${ACCOUNT_ID}:product/${ACCOUNT_ID}/default`;
const idOf = (checkId: string, resource: string) => `${ACCOUNT_ID}#${checkId}#${resource}`;
const BOB_KEY = idOf('access-key-age', `${arnOf.user('bob')}#access_key_1`);
const BOB_ADMIN = idOf('user-full-access', arnOf.user('bob'));
const ALICE_ADMIN = idOf('user-full-access', arnOf.user('alice'));
const CAROL_KEY = idOf('access-key-age', `${arnOf.user('carol')}#access_key_1`);

interface RunOutput {
  run: { runId: string; collectedAt: string; complete: boolean; checks: string[] };
  findings: { id: string; status: string; change: string; firstSeen: string | null }[];
  securityHub: { productArn: string; selected: number; imported: number; archived: number; workflowNew: number; failed: unknown[] };
}

let home: string;
let seeded: SeededAccount;
let hub: SecurityHubClient;

/** The CLI in this process, with the SDK's default chain pointed at moto alone. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  vi.stubEnv('AWS_ENDPOINT_URL', motoEndpoint());
  vi.stubEnv('AWS_REGION', REGION);
  vi.stubEnv('AWS_ACCESS_KEY_ID', DUMMY_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', DUMMY_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', '');
  vi.stubEnv('AWS_PROFILE', '');
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  let stdout = '';
  let stderr = '';
  try {
    const code = await main(['node', 'account-auditor', ...args, '--state-dir', join(home, 'state')], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
    });
    return { code, stdout, stderr };
  } finally {
    vi.unstubAllEnvs();
  }
}

async function night(extra: string[] = []): Promise<RunOutput> {
  const result = await cli([
    'run',
    '--security-hub',
    '--format',
    'json',
    '--quiet',
    '--fail-on',
    'none',
    '--region',
    REGION,
    '--report-wait',
    '1',
    ...extra,
  ]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as RunOutput;
}

/** Every finding moto's Security Hub holds, by ID. */
async function hubFindings(): Promise<Map<string, AwsSecurityFinding>> {
  const all = new Map<string, AwsSecurityFinding>();
  let token: string | undefined;
  do {
    const page = await hub.send(new GetFindingsCommand({ MaxResults: 100, ...(token ? { NextToken: token } : {}) }));
    for (const f of page.Findings ?? []) all.set(f.Id!, f);
    token = page.NextToken;
  } while (token);
  return all;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'aa-e2e-sechub-'));
  const moto = motoControl(motoEndpoint());
  await moto.reset();
  await moto.enforceIam(Infinity);
  await moto.awsFidelity(true);
  seeded = await seedAccount(clients(), motoEndpoint());
  hub = new SecurityHubClient({ region: REGION, endpoint: motoEndpoint(), credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  hub?.destroy();
  await rm(home, { recursive: true, force: true });
});

describe('run --security-hub against moto, three nights', () => {
  let n1: RunOutput;
  let after1: Map<string, AwsSecurityFinding>;
  let after2: Map<string, AwsSecurityFinding>;

  it('night 1 imports every FAIL, WARN and ERROR finding as NEW, each field as mapped', async () => {
    n1 = await night();
    const open = n1.findings.filter((f) => f.status !== 'PASS');
    expect(open.length).toBeGreaterThanOrEqual(4);
    expect(n1.securityHub).toMatchObject({
      productArn: PRODUCT_ARN,
      selected: open.length,
      imported: open.length,
      archived: 0,
      workflowNew: open.length,
      failed: [],
    });
    after1 = await hubFindings();
    // PASS findings that were never open are not sent.
    expect([...after1.keys()].sort()).toEqual(open.map((f) => f.id).sort());
    for (const f of after1.values()) {
      validateAsff(f);
      expect(f).toMatchObject({
        SchemaVersion: '2018-10-08',
        ProductArn: PRODUCT_ARN,
        AwsAccountId: ACCOUNT_ID,
        Region: REGION,
        RecordState: 'ACTIVE',
        Workflow: { Status: 'NEW' },
      });
      expect(f.GeneratorId).toBe(f.Id!.split('#')[1]);
      expect(f.FirstObservedAt).toBe(n1.run.collectedAt);
      expect(f.CreatedAt).toBe(n1.run.collectedAt);
      expect(f.LastObservedAt).toBe(n1.run.collectedAt);
      expect(f.Description!.length).toBeLessThanOrEqual(1024);
      expect(f.Remediation?.Recommendation?.Text).toBeTruthy();
      expect(f.Types).toContain('Software and Configuration Checks/AWS Security Best Practices');
    }
    const bobKey = after1.get(BOB_KEY)!;
    expect(bobKey).toMatchObject({
      Severity: { Label: 'MEDIUM' },
      Compliance: {
        Status: 'FAILED',
        SecurityControlId: 'IAM.3',
        RelatedRequirements: expect.arrayContaining(['CIS AWS Foundations Benchmark v1.4.0/1.14']),
      },
      Resources: [{ Type: 'AwsIamAccessKey', Id: `${arnOf.user('bob')}#access_key_1`, Partition: 'aws', Region: REGION }],
    });
    expect(after1.get(ALICE_ADMIN)).toMatchObject({
      Severity: { Label: 'CRITICAL' },
      Compliance: { Status: 'FAILED', SecurityControlId: 'IAM.1' },
      Resources: [{ Type: 'AwsIamUser', Id: arnOf.user('alice') }],
    });
    expect(after1.get(CAROL_KEY)).toMatchObject({ Compliance: { Status: 'WARNING' } });
    const legacyDax = after1.get(idOf('dax-service-role', arnOf.dax('legacy-dax')))!;
    expect(legacyDax.Resources).toEqual([{ Type: 'Other', Id: arnOf.dax('legacy-dax'), Partition: 'aws', Region: REGION }]);
    expect(legacyDax.Compliance).toEqual({ Status: 'FAILED' });
    // The stored firstSeen is what Security Hub got.
    const stored = JSON.parse((await cli(['findings', '--format', 'json'])).stdout) as { id: string; firstSeen: string }[];
    for (const s of stored) expect(after1.get(s.id)?.FirstObservedAt).toBe(s.firstSeen);
  });

  it("night 2: bob's rotated key is archived as PASSED with FirstObservedAt unchanged; his new admin finding is NEW; the rest keep their first observation", async () => {
    await changeAccount(clients(), seeded);
    const n2 = await night();
    expect(n2.securityHub).toMatchObject({ archived: 1, workflowNew: 1, failed: [] });
    after2 = await hubFindings();
    const bobKey = after2.get(BOB_KEY)!;
    expect(bobKey).toMatchObject({ RecordState: 'ARCHIVED', Compliance: { Status: 'PASSED' }, Severity: { Label: 'INFORMATIONAL' } });
    expect(bobKey.FirstObservedAt).toBe(after1.get(BOB_KEY)!.FirstObservedAt);
    expect(bobKey.CreatedAt).toBe(after1.get(BOB_KEY)!.CreatedAt);
    expect(bobKey.LastObservedAt).toBe(n2.run.collectedAt);
    expect(Date.parse(bobKey.UpdatedAt!)).toBeGreaterThan(Date.parse(after1.get(BOB_KEY)!.UpdatedAt!));
    expect(after2.get(BOB_ADMIN)).toMatchObject({
      RecordState: 'ACTIVE',
      Workflow: { Status: 'NEW' },
      FirstObservedAt: n2.run.collectedAt,
      Compliance: { Status: 'FAILED' },
    });
    for (const [id, before] of after1) {
      if (id === BOB_KEY) continue;
      const now = after2.get(id)!;
      expect(now.FirstObservedAt, id).toBe(before.FirstObservedAt);
      expect(now.CreatedAt, id).toBe(before.CreatedAt);
      expect(now.RecordState, id).toBe('ACTIVE');
      expect(now.LastObservedAt, id).toBe(n2.run.collectedAt);
    }
  });

  it('night 3, narrowed to access-key-age after alice lost her admin policy: nothing outside the check is touched or archived', async () => {
    await clients().iam.send(new DetachUserPolicyCommand({ UserName: 'alice', PolicyArn: ADMIN_POLICY_ARN }));
    const n3 = await night(['--checks', 'access-key-age']);
    expect(n3.run.checks).toEqual(['access-key-age']);
    expect(n3.securityHub).toMatchObject({ archived: 0, failed: [] });
    const after3 = await hubFindings();
    expect(after3.size).toBe(after2.size);
    for (const [id, before] of after2) {
      const now = after3.get(id)!;
      if (id.split('#')[1] === 'access-key-age') continue;
      // Not audited tonight: exactly as night 2 left it, alice's admin finding included.
      expect(now, id).toEqual(before);
    }
    expect(after3.get(ALICE_ADMIN)).toMatchObject({ RecordState: 'ACTIVE', Compliance: { Status: 'FAILED' } });
    expect(after3.get(CAROL_KEY)).toMatchObject({
      RecordState: 'ACTIVE',
      LastObservedAt: n3.run.collectedAt,
      FirstObservedAt: after1.get(CAROL_KEY)!.FirstObservedAt,
    });
    expect(after3.get(BOB_KEY)).toEqual(after2.get(BOB_KEY));
  });
});
