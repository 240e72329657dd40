/**
 * Where moto differs from AWS in what the auditor reads, and what the auditor makes of it: ERROR
 * where data is missing, never PASS, and no verdict built on a value moto makes up. Each case is
 * listed in test/e2e/README.md.
 */
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditLive } from './harness/audit.ts';
import { clients, motoEndpoint } from './harness/aws.ts';
import { AWS_MANAGED_POLICIES, motoControl, recordedCalls } from './harness/moto.ts';
import { arnOf, seedAccount } from './harness/seed.ts';

const c = () => clients();
const moto = () => motoControl(motoEndpoint());

beforeAll(async () => {
  await moto().reset();
  await moto().enforceIam(Infinity);
  await moto().awsFidelity(true);
  await seedAccount(c(), motoEndpoint());
});

afterAll(async () => {
  await moto().awsFidelity(true);
});

describe('moto quirks and how the auditor treats them', () => {
  it('the first GenerateCredentialReport answers STARTED: the collector waits and polls once, within its bounds', async () => {
    await moto().startRecording();
    const result = await auditLive();
    await moto().stopRecording();
    const iam = (await recordedCalls(inject('motoRecordingFile'))).filter((call) => call.service === 'iam').map((call) => call.action);
    expect(iam.filter((a) => a === 'GenerateCredentialReport')).toHaveLength(2);
    expect(iam.filter((a) => a === 'GetCredentialReport')).toHaveLength(1);
    expect(result.run.sources.find((s) => s.input === 'credentialReport')).toMatchObject({ state: 'read' });
    // From then on moto says COMPLETE at once, and builds the report afresh at every get.
    expect((await c().iam.send(new GenerateCredentialReportCommand({}))).State).toBe('COMPLETE');
  });

  it('the credential report has no root row and GetAccountSummary says no root key (fixed at 0): the real-time summary decides, and the finding says the row is missing', async () => {
    const summary = await c().iam.send(new GetAccountSummaryCommand({}));
    expect(summary.SummaryMap).toMatchObject({ AccountAccessKeysPresent: 0, AccountMFAEnabled: 0 });
    const csv = new TextDecoder().decode((await c().iam.send(new GetCredentialReportCommand({}))).Content);
    expect(csv).not.toContain('<root_account>');

    const root = (await auditLive()).findings.filter((f) => f.checkId === 'root-access-key');
    expect(root).toHaveLength(1);
    expect(root[0]).toMatchObject({ status: 'PASS', resource: arnOf.root() });
    expect(root[0]!.details).toMatchObject({
      accountAccessKeysPresent: 0,
      reportUnread: { reason: 'the credential report has no <root_account> row' },
    });
    // Without the summary there is nothing left to decide on: ERROR (least-privilege.test.ts
    // measures it under enforcement; test/checks/root-access-key.test.ts states the rule).
  });

  it('plain moto dates every credential report 2015-02-02: reported as given, and key ages count from the audit time', async () => {
    await moto().awsFidelity(false);
    try {
      const out = await c().iam.send(new GetCredentialReportCommand({}));
      expect(out.GeneratedTime?.toISOString()).toBe('2015-02-02T20:02:02.000Z');
      const bob = (await auditLive()).findings.find(
        (f) => f.checkId === 'access-key-age' && f.resource === `${arnOf.user('bob')}#access_key_1`,
      )!;
      expect(bob).toMatchObject({ status: 'FAIL' });
      expect(bob.details).toMatchObject({ ageDays: 120, reportGeneratedAt: '2015-02-02T20:02:02.000Z' });
    } finally {
      await moto().awsFidelity(true);
    }
    // The harness's fidelity fix dates the report when moto builds it, as AWS would.
    const generated = (await c().iam.send(new GetCredentialReportCommand({}))).GeneratedTime!.getTime();
    expect(Math.abs(generated - Date.now())).toBeLessThan(60_000);
  });

  it('GetAccountAuthorizationDetails ignores MaxItems and never pages, and lists every AWS managed policy it has, attached or not: read as one page', async () => {
    const page = await c().iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1 }));
    expect(page.IsTruncated).toBe(false);
    expect(page.UserDetailList!.length).toBeGreaterThan(1);
    const aws = page.Policies!.filter((p) => p.Arn!.startsWith('arn:aws:iam::aws:policy/'));
    expect(aws.map((p) => p.PolicyName).sort()).toEqual([...AWS_MANAGED_POLICIES].sort());
    expect(aws.find((p) => p.PolicyName === 'ReadOnlyAccess')).toMatchObject({ AttachmentCount: 0 });
    const result = await auditLive();
    expect(result.run.sources.find((s) => s.input === 'authorizationDetails')).toMatchObject({ state: 'read' });
  });

  it("ElastiCache's service-linked role is named AWSServiceRoleForelasticache: found by its path, PASS", async () => {
    const details = await c().iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'] }));
    const slr = details.RoleDetailList!.filter((r) => r.Path === '/aws-service-role/elasticache.amazonaws.com/');
    expect(slr.map((r) => r.RoleName)).toEqual(['AWSServiceRoleForelasticache']);
    const finding = (await auditLive()).findings.find((f) => f.checkId === 'elasticache-service-linked-role')!;
    expect(finding.status).toBe('PASS');
  });

  it('plain moto lists managed policies without PolicyName: the authorization details are unread, and every check reading them is ERROR naming the call, never PASS', async () => {
    await moto().awsFidelity(false);
    const raw = await c().iam.send(new GetAccountAuthorizationDetailsCommand({}));
    expect(raw.Policies!.every((p) => p.PolicyName === undefined && p.Arn !== undefined)).toBe(true);

    const result = await auditLive();
    expect(result.run.sources.find((s) => s.input === 'authorizationDetails')).toMatchObject({
      state: 'unread',
      call: 'iam:GetAccountAuthorizationDetails',
    });
    expect(result.run.complete).toBe(false);
    const reading = ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'];
    const theirs = result.findings.filter((f) => reading.includes(f.checkId));
    expect(new Set(theirs.map((f) => f.checkId))).toEqual(new Set(reading));
    for (const f of theirs) {
      expect(f.status, `${f.checkId} ${f.resource}`).toBe('ERROR');
      expect(JSON.stringify(f)).toContain('iam:GetAccountAuthorizationDetails');
      expect(JSON.stringify(f)).toContain('PolicyName');
    }
    // The checks that do not read them still decide.
    expect(result.findings.filter((f) => !reading.includes(f.checkId) && f.status === 'ERROR')).toEqual([]);
  });
});
