/**
 * `account-auditor run`, the real command line in its own process, against moto: the seeded
 * account audited twice with local state and a change in between. Verdicts are SPEC section 3's;
 * the IAM calls, counted from moto's request log, stay within SPEC section 2's bound.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetAccountAuthorizationDetailsCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling.ts';
import { childEnv, clients, motoEndpoint } from './harness/aws.ts';
import { expectVerdicts, NIGHT_1, NIGHT_2, NIGHT_2_NEW, NIGHT_2_RESOLVED, SPEC_3_6_ROLES } from './harness/expected.ts';
import { motoControl, type RecordedCall, recordedCalls, REGION } from './harness/moto.ts';
import { ADMIN_POLICY_ARN, arnOf, changeAccount, seedAccount, VENDOR_ACCOUNT, type SeededAccount } from './harness/seed.ts';

interface JsonFinding {
  checkId: string;
  resource: string;
  title: string;
  status: string;
  severity: string;
  change: string;
  details: Record<string, unknown>;
}
interface JsonOutput {
  run: { runId: string; complete: boolean; counts: { new: number; resolved: number; open: number } };
  findings: JsonFinding[];
  resolved: { checkId: string; resource: string }[];
}

const BIN = join(PROJECT_ROOT, 'bin', 'account-auditor.js');
const KEY_ID_LOOKUPS = 50;

let home: string;
let seeded: SeededAccount;
let night1: JsonOutput;
const c = () => clients();

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      cwd: home,
      env: childEnv(home),
      timeout: 90_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** One live run, recorded: the report, the exit code and every AWS call moto saw. */
async function run(): Promise<{ code: number; out: JsonOutput; calls: RecordedCall[] }> {
  const moto = motoControl(motoEndpoint());
  await moto.startRecording();
  const result = await cli([
    'run',
    '--format',
    'json',
    '--quiet',
    '--region',
    REGION,
    '--report-wait',
    '2',
    '--key-id-lookups',
    String(KEY_ID_LOOKUPS),
    '--state-dir',
    join(home, 'state'),
  ]);
  await moto.stopRecording();
  expect(result.stderr).not.toMatch(/Error|error:/);
  return { code: result.code, out: JSON.parse(result.stdout) as JsonOutput, calls: await recordedCalls(inject('motoRecordingFile')) };
}

/** IAM entities as GetAccountAuthorizationDetails pages them: users, groups, roles and policies. */
async function iamEntities(): Promise<number> {
  const d = await c().iam.send(new GetAccountAuthorizationDetailsCommand({}));
  return (d.UserDetailList?.length ?? 0) + (d.GroupDetailList?.length ?? 0) + (d.RoleDetailList?.length ?? 0) + (d.Policies?.length ?? 0);
}

function expectWithinBound(calls: RecordedCall[], entities: number, lookups: number): void {
  const iam = calls.filter((call) => call.service === 'iam');
  const count = (action: string) => iam.filter((call) => call.action === action).length;
  // SPEC 2: summary, generate, get report, the authorization-details pages, the lookups;
  // report polling beyond the first generate is bounded separately (at most 3 more).
  const polls = Math.max(0, count('GenerateCredentialReport') - 1);
  expect(polls).toBeLessThanOrEqual(3);
  expect(lookups).toBeLessThanOrEqual(KEY_ID_LOOKUPS);
  expect(count('ListAccessKeys')).toBe(lookups);
  expect(iam.length - polls).toBeLessThanOrEqual(3 + Math.ceil(entities / 1000) + lookups);
  expect(new Set(iam.map((call) => call.action))).toEqual(
    new Set([
      'GetAccountSummary',
      'GenerateCredentialReport',
      'GetCredentialReport',
      'GetAccountAuthorizationDetails',
      ...(lookups > 0 ? ['ListAccessKeys'] : []),
    ]),
  );
  expect(calls.filter((call) => call.service === 'sts').map((call) => call.action)).toEqual(['GetCallerIdentity']);
  // Three regional calls per audited region, one region.
  const regional = calls
    .filter((call) => call.service === 'elasticache' || call.service === 'dax')
    .map((call) => call.action)
    .sort();
  expect(regional).toEqual(['DescribeCacheClusters', 'DescribeClusters', 'DescribeReplicationGroups']);
  // Local state is the embedded store: nothing else reaches the emulated AWS.
  expect(calls.filter((call) => !['iam', 'sts', 'elasticache', 'dax'].includes(call.service))).toEqual([]);
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'aa-e2e-cli-'));
  const moto = motoControl(motoEndpoint());
  await moto.reset();
  await moto.enforceIam(Infinity);
  await moto.awsFidelity(true);
  seeded = await seedAccount(c(), motoEndpoint());
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('account-auditor run, live against moto, twice with local state', () => {
  it('night 1: SPEC 3 verdicts, exit 1 (FAILs at high and above), everything new, IAM calls within the bound', async () => {
    const { code, out, calls } = await run();
    night1 = out;
    expectVerdicts(out.findings, NIGHT_1);
    expect(code).toBe(1);
    expect(out.run.complete).toBe(true);
    const failing = out.findings.filter((f) => f.status === 'FAIL' || f.status === 'ERROR');
    expect(failing.every((f) => f.change === 'new')).toBe(true);
    expect(out.run.counts.resolved).toBe(0);
    // bob's is the one over-age key: looked up by ID, which the finding names.
    const bobKey = out.findings.find((f) => f.checkId === 'access-key-age' && f.status === 'FAIL')!;
    expect(JSON.stringify(bobKey.details)).toContain(seeded.keys.bob![0]!);
    expectWithinBound(calls, await iamEntities(), 1);

    // SPEC 3.3: the finding names the path (policy name and ARN, direct or via a group) and what is excluded or denied.
    const user = (name: string) =>
      JSON.stringify(out.findings.find((f) => f.checkId === 'user-full-access' && f.resource === arnOf.user(name))!.details);
    expect(user('alice')).toContain(ADMIN_POLICY_ARN);
    expect(user('carol')).toContain('almost-admin');
    expect(user('carol')).toContain('iam:*');
    expect(user('dave')).toContain('deny-all');
    // SPEC 3.5: the details name the roles that trust DAX and their DynamoDB permissions.
    const dax = JSON.stringify(
      out.findings.find((f) => f.checkId === 'dax-service-role' && f.resource === arnOf.dax('orders-dax'))!.details,
    );
    expect(dax).toContain('dax-to-dynamodb');
    expect(dax).toContain('dynamodb:*');
  });

  it('SPEC 3.6: one role-full-access finding per role that is not service-linked; the break-glass role lists who can assume it', () => {
    const roles = night1.findings.filter((f) => f.checkId === 'role-full-access');
    expectVerdicts(roles, SPEC_3_6_ROLES);
    const breakGlass = roles.find((f) => f.resource === arnOf.role('break-glass'))!;
    const who = breakGlass.details.assumableBy as { users: { user: string }[] };
    // alice (AdministratorAccess), carol (NotAction iam:*) and erin (sts:AssumeRole on it); dave's Deny * stops him.
    expect(who.users.map((u) => u.user).sort()).toEqual(['alice', 'carol', 'erin']);
    const vendor = roles.find((f) => f.resource === arnOf.role('vendor-admin'))!;
    expect(vendor.details.outsideAccounts).toEqual([VENDOR_ACCOUNT]);
    // SPEC 3.3: erin is one call away from full access, through the role; the path names her policy.
    const erin = night1.findings.find((f) => f.checkId === 'user-full-access' && f.resource === arnOf.user('erin'))!;
    expect(erin.title).toContain('can become an administrator through role break-glass');
    expect(JSON.stringify(erin.details)).toContain('assume-break-glass');
  });

  it('night 2, after bob became an admin and rotated his key: exactly that is new and resolved', async () => {
    await changeAccount(c(), seeded);
    const { code, out, calls } = await run();
    expectVerdicts(out.findings, NIGHT_2);
    expect(code).toBe(1);
    const news = out.findings
      .filter((f) => f.change === 'new' || f.change === 'regressed')
      .map(({ checkId, resource }) => ({ checkId, resource }));
    expect(news).toEqual(NIGHT_2_NEW);
    // Resolved: a finding seen compliant now (change "resolved"), or one no longer seen at all (`resolved`).
    const resolved = [...out.findings.filter((f) => f.change === 'resolved'), ...out.resolved].map(({ checkId, resource }) => ({
      checkId,
      resource,
    }));
    expect(resolved).toEqual(NIGHT_2_RESOLVED);
    expect(out.run.counts).toMatchObject({ new: 1, resolved: 1 });
    // No key is over age any more: no lookup.
    expectWithinBound(calls, await iamEntities(), 0);
  });
});
