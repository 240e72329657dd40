import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mapItemSchema, ORGANIZATION_ENV } from '#lib/organization/contract.ts';
import { discoverRun, mapAccounts, NoAccountsError, organizationRunId, selfFromFunctionArn } from '#lib/organization/discover.ts';
import { createDiscoverHandler, createSummarizeHandler, StepInputError } from '#lib/organization/handlers.ts';
import { type OrganizationSettings, parseOrganizationSettings } from '#lib/organization/settings.ts';
import { OrganizationRunError, type OrganizationSummary } from '#lib/organization/summary.ts';
import { AccessDeniedException, ListParentsCommand } from '@aws-sdk/client-organizations';
import { account, organizations as organizationsMock, resetOrganizations, serveOrganization, sts } from '#test/mock-organizations.ts';

const SELF = { accountId: '999999999999', partition: 'aws' };
const INPUT = { executionName: 'nightly-8f2e', executionStartTime: '2026-11-01T03:00:00.123Z' };
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:999999999999:function:AccountAuditorOrganization-Discover';
const organizations = () => new OrganizationsClient({ region: 'us-east-1', maxAttempts: 1 });
const contextWriter = { writeContext: vi.fn(async () => undefined) };

beforeEach(() => {
  resetOrganizations();
  serveOrganization({
    accounts: [account('111111111111'), account('999999999999', { Name: 'tooling' }), account('222222222222', { State: 'SUSPENDED' })],
    tree: {},
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the discover step', () => {
  it('gives every account its member role, and the auditor’s own account null (its own role audits it)', async () => {
    const settings = parseOrganizationSettings({ externalId: 'tooling-7f3a' });
    const { output } = await discoverRun({ settings, input: INPUT, self: SELF, organizations });
    expect(output.accounts).toEqual([
      {
        id: '111111111111',
        name: 'account-111111111111',
        roleArn: 'arn:aws:iam::111111111111:role/AccountAuditorMemberRole',
        externalId: 'tooling-7f3a',
      },
      { id: '999999999999', name: 'tooling', roleArn: null },
    ]);
    expect(output.discovery).toEqual({ listed: 3, active: 2, filteredOut: 0, missing: [], calls: { 'organizations:ListAccounts': 1 } });
    // Each item the map's ItemSelector builds from this output satisfies the contract.
    for (const a of output.accounts)
      expect(mapItemSchema.parse({ organizationRunId: output.organizationRunId, account: a }).account).toEqual(a);
  });

  it('the run ID is the start time and the execution name', () => {
    expect(organizationRunId(INPUT)).toBe('20261101T030000123Z-nightly-8f2e');
    expect(organizationRunId({ executionName: 'a b/c', executionStartTime: 'not a date' })).toBe('not-a-date-a-b-c');
  });

  it('selecting no account fails the run, saying why', async () => {
    const settings = parseOrganizationSettings({ includeAccounts: ['333333333333'] });
    const error = await discoverRun({ settings, input: INPUT, self: SELF, organizations }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoAccountsError);
    expect((error as Error).message).toBe(
      'no account to audit: ListAccounts returned 3 accounts, 2 ACTIVE, 2 left out by the include/exclude settings; includeAccounts names accounts that are not ACTIVE members: 333333333333',
    );
  });

  it('mapAccounts uses the partition and role name given', () => {
    const accounts = mapAccounts(
      {
        accounts: [{ id: '111111111111', name: 'a', ous: [] }],
        listed: 1,
        active: 1,
        filteredOut: [],
        missing: [],
        calls: {},
        guardrailAccounts: [],
      },
      { memberRoleName: 'R' },
      { accountId: '0', partition: 'aws-cn' },
    );
    expect(accounts).toEqual([{ id: '111111111111', name: 'a', roleArn: 'arn:aws-cn:iam::111111111111:role/R' }]);
  });

  it('reads its account and partition from the function ARN', () => {
    expect(selfFromFunctionArn(FUNCTION_ARN)).toEqual({ accountId: '999999999999', partition: 'aws' });
    expect(selfFromFunctionArn('arn:aws-us-gov:lambda:us-gov-west-1:999999999999:function:f:live')).toEqual({
      accountId: '999999999999',
      partition: 'aws-us-gov',
    });
    expect(() => selfFromFunctionArn('nope')).toThrow(/not a Lambda function ARN/);
  });
});

describe('the discover handler', () => {
  const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };

  it('reads its settings from ORGANIZATION_SETTINGS and assumes the management role only when one is set', async () => {
    const makeSts = vi.fn(() => new STSClient({ region: 'us-east-1', maxAttempts: 1 }));
    const direct = createDiscoverHandler({
      logger,
      organizations,
      sts: makeSts,
      context: () => contextWriter,
      env: { [ORGANIZATION_ENV.settings]: '{"memberRoleName":"R"}' },
    });
    const output = await direct(INPUT, { invokedFunctionArn: FUNCTION_ARN });
    expect(output.accounts[0]!.roleArn).toBe('arn:aws:iam::111111111111:role/R');
    expect(makeSts).not.toHaveBeenCalled();

    const viaRole = createDiscoverHandler({
      logger,
      organizations,
      sts: makeSts,
      context: () => contextWriter,
      env: { [ORGANIZATION_ENV.settings]: '{"managementRoleArn":"arn:aws:iam::111111111111:role/Read"}' },
    });
    await viaRole(INPUT, { invokedFunctionArn: FUNCTION_ARN });
    expect(makeSts).toHaveBeenCalledTimes(1);
    expect(sts.calls()).toHaveLength(1);
  });

  it('reads the SCP chains once and writes the run’s context before returning the items, each naming its chain', async () => {
    organizationsMock.on(ListParentsCommand).rejects(new AccessDeniedException({ message: 'no ListParents', $metadata: {} }));
    const writes: unknown[][] = [];
    const handler = createDiscoverHandler({
      logger,
      organizations,
      sts: () => new STSClient({}),
      context: () => ({ writeContext: async (...args: unknown[]) => void writes.push(args) }),
      env: {},
    });
    const output = await handler(INPUT, { invokedFunctionArn: FUNCTION_ARN });
    expect(writes).toHaveLength(1);
    const [context, chains, run] = writes[0] as [unknown, Map<string, { state: string; call?: string }>, unknown];
    // The run's record before any account is audited: a run whose summarize never runs is still found.
    expect(run).toEqual({
      startedAt: output.startedAt,
      accounts: output.accounts,
      discovery: { listed: output.discovery.listed, active: output.discovery.active, filteredOut: 0, missing: [] },
      alerts: 'digest',
    });
    expect(context).toEqual({
      organizationRunId: output.organizationRunId,
      organizationId: 'o-abcdefghij',
      managementAccountId: '111111111111',
      accountIds: ['111111111111', '999999999999'],
    });
    // The management account: no SCP applies (null); the auditor's account: its chain unread, stored under its key.
    const [management, tooling] = output.accounts;
    expect(management!.guardrails).toBeNull();
    expect(tooling!.guardrails).toMatch(/^GUARDRAILS#[0-9a-f]{16}$/);
    expect([...chains.keys()]).toEqual([tooling!.guardrails]);
    expect(chains.get(tooling!.guardrails!)).toMatchObject({ state: 'unread', call: 'organizations:ListParents' });
    expect(output.discovery.calls['organizations:ListParents']).toBeGreaterThan(0);
    for (const a of output.accounts)
      expect(mapItemSchema.parse({ organizationRunId: output.organizationRunId, account: a }).account).toEqual(a);
  });

  it('a context that cannot be written fails the step: no account is audited without its SCPs', async () => {
    const handler = createDiscoverHandler({
      logger,
      organizations,
      sts: () => new STSClient({}),
      context: () => ({ writeContext: async () => Promise.reject(new Error('PutItem refused')) }),
      env: {},
    });
    await expect(handler(INPUT, { invokedFunctionArn: FUNCTION_ARN })).rejects.toThrow('PutItem refused');
  });

  it('refuses bad settings and bad input, naming them', async () => {
    const bad = createDiscoverHandler({
      logger,
      organizations,
      sts: () => new STSClient({}),
      context: () => contextWriter,
      env: { [ORGANIZATION_ENV.settings]: '{"maxConcurrency":0}' },
    });
    await expect(bad(INPUT, { invokedFunctionArn: FUNCTION_ARN })).rejects.toThrow(/maxConcurrency/);
    const good = createDiscoverHandler({ logger, organizations, sts: () => new STSClient({}), context: () => contextWriter, env: {} });
    await expect(good({ executionName: '' }, { invokedFunctionArn: FUNCTION_ARN })).rejects.toThrow(StepInputError);
  });
});

describe('the summarize handler', () => {
  const logger = { info: vi.fn(), error: vi.fn() };
  const base = {
    organizationRunId: 'r1',
    startedAt: INPUT.executionStartTime,
    discovery: { listed: 1, active: 1, filteredOut: 0, missing: [], calls: {} },
  };

  const reported = () =>
    vi.fn(async (_summary: OrganizationSummary, _settings: OrganizationSettings) => ({
      wanted: true,
      messageId: 'msg-1',
      repeated: false,
    }));

  it('fails the execution when no account was audited, after recording and alerting the run', async () => {
    const report = reported();
    const summarize = createSummarizeHandler({ logger, report, env: {} });
    const failed = { outcome: 'failed', account: { id: '111111111111', name: 'a' }, error: 'Lambda.Unknown', cause: 'boom' };
    await expect(summarize({ ...base, accounts: [failed] })).rejects.toThrow(OrganizationRunError);
    expect(report).toHaveBeenCalledOnce();
    expect(report.mock.calls[0]![0]).toMatchObject({ failed: 1, inError: [{ id: '111111111111', reason: 'Lambda.Unknown: boom' }] });
    expect(logger.error).toHaveBeenCalledWith('organization run failed', expect.objectContaining({ organizationRunId: 'r1' }));
  });

  it('reports the run with the alert mode of ORGANIZATION_SETTINGS, and returns what it published', async () => {
    const report = reported();
    const summarize = createSummarizeHandler({ logger, report, env: { [ORGANIZATION_ENV.settings]: '{"alerts":"per-account"}' } });
    const audited = {
      outcome: 'audited',
      account: { id: '111111111111', name: 'a' },
      run: { runId: 'run-1', complete: true, counts: { total: 1, byStatus: { PASS: 1, FAIL: 0, WARN: 0, ERROR: 0 } } },
    };
    const out = await summarize({ ...base, accounts: [audited] });
    expect(report.mock.calls[0]![1]).toMatchObject({ alerts: 'per-account' });
    expect(out).toMatchObject({ complete: 1, alert: { wanted: true, messageId: 'msg-1' } });
  });

  it('a report that fails (the topic or the table) fails the step, logged', async () => {
    const report = vi.fn(async () => {
      throw new Error('sns down');
    });
    const audited = {
      outcome: 'audited',
      account: { id: '111111111111', name: 'a' },
      run: { runId: 'run-1', complete: true, counts: { total: 1, byStatus: { PASS: 1, FAIL: 0, WARN: 0, ERROR: 0 } } },
    };
    await expect(createSummarizeHandler({ logger, report, env: {} })({ ...base, accounts: [audited] })).rejects.toThrow('sns down');
    expect(logger.error).toHaveBeenCalledWith('organization run not reported', expect.objectContaining({ error: 'Error: sns down' }));
  });

  it('refuses an input without the accounts', async () => {
    await expect(createSummarizeHandler({ logger, report: reported(), env: {} })(base)).rejects.toThrow(
      /invalid summarize input: accounts/,
    );
  });
});
