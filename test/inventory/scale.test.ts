import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { collectLive } from '#lib/inventory/live.ts';
import { MAX_GENERATE_REPORT_CALLS } from '#lib/inventory/sources/credential-report/live.ts';
import { liveOptions } from '#lib/audit/collect.ts';
import { parseSettings } from '#lib/settings.ts';
import { FIXTURE_NOW, generateAccount, iamError, mockIam } from '#test/aws.ts';
import { dax, elastiCache, iam, recordingSleep, resetAws, serveRegions, sts } from '#test/mock-aws.ts';

/**
 * SPEC section 2: the IAM call count must not grow with the number of users. A 5,000-user account,
 * paged like IAM pages it, with thousands of over-age keys, costs a fixed handful of IAM calls plus
 * at most keyIdLookups ListAccessKeys calls.
 */
const FIXED_IAM_CALL_BUDGET = 12;
const account = generateAccount({ users: 5000, overAgeKeyRatio: 0.6, inactiveOverAgeKeyRatio: 0.2 });

beforeEach(() => {
  resetAws('eu-west-1');
  mockIam(iam, account);
  serveRegions({ 'eu-west-1': {} });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

async function collect(settings: { keyIdLookups?: number }, waits: number[] = []) {
  const { sleep, waits: asked } = recordingSleep();
  const inv = await collectLive(liveOptions({ settings: parseSettings(settings), regions: ['eu-west-1'], sleep, now: () => FIXTURE_NOW }));
  waits.push(...asked);
  return inv;
}

describe('collectLive at scale', () => {
  it('the generated account is as messy as intended', () => {
    expect(account.users).toHaveLength(5000);
    expect(account.overAgeUsers.length).toBeGreaterThan(2500);
    expect(account.entityCount).toBeGreaterThan(5000);
  });

  it('5,000 users: at most 12 IAM calls plus keyIdLookups (default 50) ListAccessKeys', async () => {
    const settings = parseSettings({});
    const inv = await collect({});
    const iamCalls = iam.calls().length;
    const lookups = iam.commandCalls(ListAccessKeysCommand);
    expect(lookups).toHaveLength(settings.keyIdLookups);
    expect(settings.keyIdLookups).toBe(50);
    expect(iamCalls).toBeLessThanOrEqual(FIXED_IAM_CALL_BUDGET + settings.keyIdLookups);
    // The lookups are the oldest over-age keys, per the generator's own ground truth.
    expect(lookups.map((c) => c.args[0].input.UserName)).toEqual(account.overAgeUsers.slice(0, 50));
    expect(Object.keys(inv.accessKeys)).toHaveLength(50);
    // Everything was really read, across every page.
    expect(iam.commandCalls(GetAccountAuthorizationDetailsCommand)).toHaveLength(Math.ceil(account.entityCount / 1000));
    expect(inv.authorizationDetails.state === 'read' && inv.authorizationDetails.data.users).toHaveLength(5000);
    expect(inv.credentialReport.state === 'read' && inv.credentialReport.data.rows).toHaveLength(5001);
    expect(sts.calls()).toHaveLength(1);
    expect(elastiCache.calls().length + dax.calls().length).toBe(3);
  });

  it('a slow report (STARTED, INPROGRESS, INPROGRESS, COMPLETE): still at most 12 IAM calls plus keyIdLookups', async () => {
    iam
      .on(GenerateCredentialReportCommand)
      .resolvesOnce({ State: 'STARTED' })
      .resolvesOnce({ State: 'INPROGRESS' })
      .resolvesOnce({ State: 'INPROGRESS' })
      .resolves({ State: 'COMPLETE' });
    const settings = parseSettings({});
    const waits: number[] = [];
    const inv = await collect({}, waits);
    expect(iam.commandCalls(GenerateCredentialReportCommand)).toHaveLength(4);
    expect(iam.commandCalls(GetCredentialReportCommand)).toHaveLength(1);
    expect(iam.calls().length).toBeLessThanOrEqual(FIXED_IAM_CALL_BUDGET + settings.keyIdLookups);
    // The three polls are spread over the whole 60 s bound, 1/7, 2/7 and 4/7 of it.
    expect(waits).toEqual([8571, 17143, 34286]);
    expect(inv.credentialReport.state === 'read' && inv.credentialReport.data.rows).toHaveLength(5001);
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(settings.keyIdLookups);
  });

  it('a report that never completes: at most 12 IAM calls plus keyIdLookups, and the report unread', async () => {
    iam.on(GenerateCredentialReportCommand).resolves({ State: 'INPROGRESS' });
    const settings = parseSettings({});
    const waits: number[] = [];
    const inv = await collect({}, waits);
    expect(iam.commandCalls(GenerateCredentialReportCommand)).toHaveLength(MAX_GENERATE_REPORT_CALLS);
    expect(iam.commandCalls(GetCredentialReportCommand)).toHaveLength(0);
    expect(iam.calls().length).toBeLessThanOrEqual(FIXED_IAM_CALL_BUDGET + settings.keyIdLookups);
    expect(waits.reduce((a, b) => a + b, 0)).toBe(settings.reportWaitSeconds * 1000);
    expect(inv.credentialReport).toMatchObject({ state: 'unread', call: 'iam:GenerateCredentialReport' });
    expect(inv.credentialReport.state === 'unread' && inv.credentialReport.reason).toContain('still being generated after 60 s');
    // Without a report there is nothing to look up, and the other sources are still read.
    expect(inv.accessKeys).toEqual({});
    expect(inv.authorizationDetails.state === 'read' && inv.authorizationDetails.data.users).toHaveLength(5000);
  });

  it('a report that stays in progress on Get: at most 12 IAM calls plus keyIdLookups, and the report unread', async () => {
    iam.on(GetCredentialReportCommand).rejects(iamError('ReportInProgress'));
    const settings = parseSettings({});
    const inv = await collect({});
    expect(iam.commandCalls(GenerateCredentialReportCommand).length + iam.commandCalls(GetCredentialReportCommand).length).toBe(5);
    expect(iam.calls().length).toBeLessThanOrEqual(FIXED_IAM_CALL_BUDGET + settings.keyIdLookups);
    expect(inv.credentialReport).toMatchObject({ state: 'unread', call: 'iam:GetCredentialReport' });
  });

  it('keyIdLookups 0: no ListAccessKeys, and the fixed budget alone', async () => {
    const inv = await collect({ keyIdLookups: 0 });
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(0);
    expect(iam.calls().length).toBeLessThanOrEqual(FIXED_IAM_CALL_BUDGET);
    expect(inv.accessKeys).toEqual({});
    expect(inv.credentialReport.state).toBe('read');
  });
});
