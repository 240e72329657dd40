/**
 * Organization mode end to end, against the organization harness/organization.ts seeds in moto:
 * the state machine's three steps driven as Step Functions drives them, each step's function as
 * functions/*.ts wires it (imported as is, its clients reaching moto through AWS_ENDPOINT_URL
 * and its role's session in the environment, as Lambda hands them over), with the environment
 * the synthesized OrganizationAuditStack gives it:
 *
 *   1. the discover function → its DiscoveryOutput; each map item built by the map's ItemSelector,
 *      read from the template;
 *   2. the per-account function once per item, MaxConcurrency at a time, on the audit role's
 *      session, each result shaped by the task's ResultSelector and the outcome state;
 *   3. the summarize function with those outcomes.
 *
 * Then the table (each account's findings under its own ACCOUNT#<id>, the organization run
 * record), the digest the SQS subscriber received, and moto's request log (each account's IAM
 * calls within SPEC section 2's bound) are read back.
 */
import { GetAccountAuthorizationDetailsCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Context } from 'aws-lambda';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type MapItem, OUTCOME_CAUSE_CHARS } from '#lib/organization/contract.ts';
import { parseOrganizationSettings } from '#lib/organization/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';
import type { StoredFinding } from '#lib/reconcile/types.ts';
import type { Credentials } from './harness/aws.ts';
import { motoEndpoint } from './harness/aws.ts';
import { ACCOUNT_ID, motoControl, type RecordedCall, recordedCalls, REGION } from './harness/moto.ts';
import {
  type AccountKey,
  DENY_IAM_WRITES_SCP,
  drainQueue,
  MANAGEMENT_READ_ROLE_NAME,
  MEMBER_ROLE_NAME,
  orgClients,
  type SeededOrganization,
  seedOrganization,
  setFixes,
} from './harness/organization.ts';
import {
  applyPayloadTemplate,
  jsonPath,
  stateMachineDefinition,
  synthOrganizationTemplate,
  taskFunction,
} from './harness/organization-template.ts';
import { onlyResource } from './harness/template.ts';

/** Amazon States Language and the handlers' results are untyped JSON here. */
type Json = any;

const DEBUG = Boolean(process.env.E2E_DEBUG);
/** The map's concurrency, set through the stack's context: lower than the accounts, so the bound is exercised. */
const MAX_CONCURRENCY = 3;
const EXECUTION = { Name: 'nightly-e2e', StartTime: '2026-12-02T03:00:00.000Z' };
/** SPEC section 2: the IAM calls of one account's audit. */
const IAM_READS = [
  'GetAccountSummary',
  'GenerateCredentialReport',
  'GetCredentialReport',
  'GetAccountAuthorizationDetails',
  'ListAccessKeys',
];
const IAM_READING_CHECKS = [
  'root-access-key',
  'access-key-age',
  'user-full-access',
  'elasticache-service-linked-role',
  'dax-service-role',
  'role-full-access',
];

let org: SeededOrganization;
let asl: Json;
let env: { discover: Record<string, string>; audit: Record<string, string>; summarize: Record<string, string> };

/** What the run produced, read once in beforeAll and asserted by the tests. */
const run = {} as {
  discovery: Json;
  items: MapItem[];
  results: Map<string, Json>;
  outcomes: Json[];
  summarized: Json;
  calls: (RecordedCall & { account: string | null })[];
  maxInFlight: number;
  messages: { Body: string }[];
};

const lambdaArn = (name: string) => `arn:aws:lambda:${REGION}:${org.auditorAccountId}:function:${name}`;
const lambdaContext = (name: string, requestId: string): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: name,
  functionVersion: '$LATEST',
  invokedFunctionArn: lambdaArn(name),
  memoryLimitInMB: '1024',
  awsRequestId: requestId,
  logGroupName: `/aws/lambda/${name}`,
  logStreamName: 'e2e',
  getRemainingTimeInMillis: () => 600_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/**
 * Runs one step as Lambda runs its function: the template's environment, the function role's
 * session as the default credentials, moto as every client's endpoint. The steps run one after
 * another, so the process environment is the running function's; each function module is
 * imported inside its step, so its clients resolve that environment.
 */
async function asFunction<T>(
  variables: Record<string, string>,
  credentials: Credentials & { sessionToken?: string },
  step: () => Promise<T>,
) {
  const all: Record<string, string> = {
    ...variables,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ENDPOINT_URL: motoEndpoint(),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken ?? '',
    POWERTOOLS_LOG_LEVEL: DEBUG ? 'DEBUG' : 'SILENT',
    POWERTOOLS_METRICS_DISABLED: DEBUG ? 'false' : 'true',
  };
  for (const [name, value] of Object.entries(all)) vi.stubEnv(name, value);
  try {
    return await step();
  } finally {
    vi.unstubAllEnvs();
  }
}

/** The account a recorded call was made in: moto names the account of any key it issued (signatures are not checked unenforced). */
async function accountsOfKeys(keys: Iterable<string>): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const key of keys) {
    try {
      const sts = orgClients(motoEndpoint(), { accessKeyId: key, secretAccessKey: 'unchecked' }).sts;
      out.set(key, (await sts.send(new GetCallerIdentityCommand({}))).Account ?? null);
    } catch {
      out.set(key, null);
    }
  }
  return out;
}

beforeAll(async () => {
  const managementRoleArn = `arn:aws:iam::${ACCOUNT_ID}:role/${MANAGEMENT_READ_ROLE_NAME}`;
  // Synthesis (a child process) overlaps the seeding.
  const [tpl, seeded] = await Promise.all([
    synthOrganizationTemplate({
      managementRoleArn,
      memberRoleName: MEMBER_ROLE_NAME,
      organizationMaxConcurrency: String(MAX_CONCURRENCY),
    }),
    seedOrganization(motoEndpoint()),
  ]);
  org = seeded;
  expect(org.managementRoleArn).toBe(managementRoleArn);
  asl = stateMachineDefinition(tpl);
  const physical = {
    [onlyResource(tpl, 'AWS::DynamoDB::Table').id]: { ref: org.tableName, arn: org.tableArn },
    [onlyResource(tpl, 'AWS::SNS::Topic').id]: { ref: org.topicArn, arn: org.topicArn },
  };
  const map = asl.States[asl.States[asl.StartAt].Next];
  const task = map.ItemProcessor.States[map.ItemProcessor.StartAt];
  const audit = taskFunction(tpl, task, physical).environment;
  env = {
    discover: taskFunction(tpl, asl.States[asl.StartAt], physical).environment,
    // The template's settings, with the credential report's first wait cut short (moto answers STARTED once per account).
    audit: { ...audit, AUDITOR_SETTINGS: JSON.stringify({ ...JSON.parse(audit.AUDITOR_SETTINGS!), reportWaitSeconds: 1 }) },
    summarize: taskFunction(tpl, asl.States[map.Next], physical).environment,
  };

  // 1. Discover: the execution's name and start time, as the task's payload template takes them.
  const discoverTask = asl.States[asl.StartAt];
  run.discovery = await asFunction(env.discover, org.discoverCredentials, async () => {
    const { handler } = await import('../../functions/organization-discover.ts');
    const payload = applyPayloadTemplate(discoverTask.Parameters.Payload, {}, { Execution: EXECUTION });
    return handler(payload, { invokedFunctionArn: lambdaArn('discover') });
  });

  // 2. The Distributed Map: ItemSelector per item, the task's payload, ResultSelector, the outcome states.
  const values = jsonPath(map.ItemsPath, run.discovery) as Json[];
  const auditedState = map.ItemProcessor.States[task.Next];
  const catcher = task.Catch[0];
  const failedState = map.ItemProcessor.States[catcher.Next];
  const resultField = /^\$\.(\w+)$/.exec(task.ResultPath)![1]!;
  const failureField = /^\$\.(\w+)$/.exec(catcher.ResultPath)![1]!;
  run.items = values.map((value, index) =>
    applyPayloadTemplate(map.ItemSelector, run.discovery, { Map: { Item: { Value: value, Index: index } } }),
  );
  run.results = new Map();
  const moto = motoControl(motoEndpoint());
  await moto.startRecording();
  let inFlight = 0;
  run.maxInFlight = 0;
  run.outcomes = await asFunction(env.audit, org.auditorCredentials, async () => {
    const { handler } = await import('../../functions/audit.ts');
    return pMap(
      run.items,
      async (item, index) => {
        inFlight++;
        run.maxInFlight = Math.max(run.maxInFlight, inFlight);
        try {
          const payload = jsonPath(task.Parameters['Payload.$'], item);
          const result = await handler(payload, lambdaContext('audit', `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`));
          run.results.set(item.account.id, result);
          return applyPayloadTemplate(auditedState.Parameters, {
            ...item,
            [resultField]: applyPayloadTemplate(task.ResultSelector, { Payload: result }),
          });
        } catch (error) {
          // The Catch (every error) and its JSONata state: the fields the template's outputs name.
          const failure = { Error: (error as Error).name, Cause: (error as Error).message };
          run.results.set(item.account.id, { failure });
          expect(Object.keys(failedState.Outputs)).toEqual(['outcome', 'account', 'error', 'cause']);
          const input = { ...item, [failureField]: failure };
          return {
            outcome: 'failed',
            account: { id: input.account.id, name: input.account.name },
            error: failure.Error,
            cause: failure.Cause.slice(0, OUTCOME_CAUSE_CHARS),
          };
        } finally {
          inFlight--;
        }
      },
      { concurrency: map.MaxConcurrency },
    );
  });
  await moto.stopRecording();
  const calls = await recordedCalls(inject('motoRecordingFile'));
  const keyAccounts = await accountsOfKeys(new Set(calls.map((c) => c.accessKeyId)));
  run.calls = calls.map((c) => ({ ...c, account: keyAccounts.get(c.accessKeyId) ?? null }));

  // 3. Summarize: the discovery's state with the map's outcomes at its ResultPath.
  const resultPath = /^\$\.(\w+)$/.exec(map.ResultPath)![1]!;
  const summarizeTask = asl.States[map.Next];
  // The summarize role has no fixed name to seed: the tooling account's administrator stands in
  // (moto does not enforce the grants; test/infra/organization.test.ts asserts them).
  const tooling = await org.adminCredentials(org.auditorAccountId);
  run.summarized = await asFunction(env.summarize, tooling, async () => {
    const { handler } = await import('../../functions/organization-summarize.ts');
    return handler(jsonPath(summarizeTask.Parameters['Payload.$'], { ...run.discovery, [resultPath]: run.outcomes }));
  });
  run.messages = await drainQueue(motoEndpoint(), tooling, org.queueUrl);
  if (DEBUG) {
    console.log(JSON.stringify({ discovery: run.discovery, outcomes: run.outcomes, summarized: run.summarized }, null, 2));
    for (const account of org.accounts)
      for (const f of (await store().loadState(account.id)).values())
        console.log(account.key, f.checkId, f.status, f.severity, f.resource, f.title);
  }
}, 180_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await setFixes(motoEndpoint(), false);
});

const idOf = (key: AccountKey) => org.account(key).id;
const store = () =>
  new FindingsStore({
    client: new DynamoDBClient({ region: REGION, endpoint: motoEndpoint(), credentials: org.auditorCredentials, maxAttempts: 1 }),
    tableName: org.tableName,
    historyTtlDays: 90,
  });
const byCheck = (findings: Iterable<StoredFinding>) =>
  [...findings]
    .map((f) => ({ checkId: f.checkId, resource: f.resource, status: f.status, severity: f.severity }))
    .sort((a, b) => `${a.checkId} ${a.resource}`.localeCompare(`${b.checkId} ${b.resource}`));

describe('the state machine’s steps, as the template defines them', () => {
  it('discover lists every account of the organization, each map item the ItemSelector’s {organizationRunId, account}', () => {
    expect(run.discovery.organizationRunId).toBe('20261202T030000000Z-nightly-e2e');
    expect(run.discovery.accounts.map((a: Json) => a.id).sort()).toEqual(org.accounts.map((a) => a.id).sort());
    expect(run.items).toHaveLength(org.accounts.length);
    for (const item of run.items) {
      const seeded = org.accounts.find((a) => a.id === item.account.id)!;
      expect(item).toEqual({
        organizationRunId: run.discovery.organizationRunId,
        account: { id: seeded.id, name: seeded.name, roleArn: seeded.roleArn, guardrails: item.account.guardrails },
      });
    }
    // The management account has no SCP; the others name their chain's context item.
    const guardrails = (key: AccountKey) => run.items.find((i) => i.account.id === idOf(key))!.account.guardrails;
    expect(guardrails('management')).toBeNull();
    for (const key of ['tooling', 'A', 'B', 'C', 'D'] as const) expect(guardrails(key)).toMatch(/^GUARDRAILS#[0-9a-f]{16}$/);
    expect(new Set(['A', 'B', 'D'].map((k) => guardrails(k as AccountKey))).size).toBe(3);
  });

  it('runs the per-account function at most MaxConcurrency at a time, and every account’s outcome is `audited`', () => {
    expect(asl.States['Audit accounts'].MaxConcurrency).toBe(MAX_CONCURRENCY);
    expect(run.maxInFlight).toBe(MAX_CONCURRENCY);
    expect(parseOrganizationSettings(JSON.parse(env.audit.ORGANIZATION_SETTINGS!))).toMatchObject({
      managementRoleArn: org.managementRoleArn,
      memberRoleName: MEMBER_ROLE_NAME,
      alerts: 'digest',
    });
    expect(run.outcomes.map((o) => [o.account.id, o.outcome]).sort()).toEqual(org.accounts.map((a) => [a.id, 'audited']).sort());
    for (const outcome of run.outcomes) expect(Object.keys(outcome.run).sort()).toEqual(['accountState', 'complete', 'counts', 'runId']);
  });
});

describe('each account audited on its own, in the table under its own ACCOUNT#<id>', () => {
  it('A (no SCP of its own): admin-a has full access, FAIL critical, and its 120-day key is FAIL; the run is complete', async () => {
    const state = await store().loadState(idOf('A'));
    const a = idOf('A');
    expect(byCheck(state.values())).toEqual(
      expect.arrayContaining([
        { checkId: 'user-full-access', resource: `arn:aws:iam::${a}:user/admin-a`, status: 'FAIL', severity: 'critical' },
        expect.objectContaining({
          checkId: 'access-key-age',
          resource: expect.stringContaining(`arn:aws:iam::${a}:user/admin-a`),
          status: 'FAIL',
        }),
      ]),
    );
    expect(run.results.get(a).organization).toMatchObject({ state: 'complete', organizationRunId: run.discovery.organizationRunId });
  });

  it('B (DenyIamWrites on Prod): admin-b is FAIL high, all actions except the IAM writes, naming the SCP; the run is complete', async () => {
    const b = idOf('B');
    const state = await store().loadState(b);
    const admin = [...state.values()].find((f) => f.checkId === 'user-full-access' && f.resource === `arn:aws:iam::${b}:user/admin-b`)!;
    expect(admin).toMatchObject({ status: 'FAIL', severity: 'high' });
    expect(admin.title).toMatch(/^admin-b can do all actions except /);
    expect(admin.title).toContain(DENY_IAM_WRITES_SCP);
    expect(run.results.get(b).organization).toMatchObject({ state: 'complete' });
  });

  it('C (no member role): AssumeRole is refused, ONE ERROR `organization` finding naming the role and AccessDenied, nothing else', async () => {
    const c = idOf('C');
    const state = [...(await store().loadState(c)).values()];
    expect(byCheck(state)).toEqual([
      { checkId: 'organization', resource: `arn:aws:iam::${c}:root`, status: 'ERROR', severity: expect.any(String) },
    ]);
    expect(state[0]!.title).toContain(org.account('C').roleArn!);
    expect(state[0]!.title).toContain('AccessDenied');
    expect(run.results.get(c).organization).toMatchObject({ state: 'failed' });
    // Nothing was read in C: no call was signed with a session of C.
    expect(run.calls.filter((call) => call.account === c)).toEqual([]);
  });

  it('D (a literal Deny iam:* on Restricted): every IAM-reading check is ERROR naming a denied IAM call, never PASS; the rest still runs', async () => {
    const d = idOf('D');
    const [latest] = await store().latestRuns(d, 1);
    expect(latest!.complete).toBe(false);
    const inError = latest!.checksInError.map((c) => c.checkId).sort();
    expect(inError).toEqual([...IAM_READING_CHECKS].sort());
    for (const check of latest!.checksInError) expect(check.reasons.join(' ')).toMatch(/iam:\w+/);
    const state = [...(await store().loadState(d)).values()];
    for (const f of state.filter((f) => IAM_READING_CHECKS.includes(f.checkId))) {
      expect(f.status).toBe('ERROR');
      expect(f.title).toMatch(/iam:(GetAccountAuthorizationDetails|GetAccountSummary|GenerateCredentialReport|GetCredentialReport)/);
    }
    // The organization check (access) passed, the one PASS (not stored: nothing to follow); the regional sources were read.
    expect(state.find((f) => f.checkId === 'organization')).toBeUndefined();
    expect(latest!.counts.byStatus).toEqual({ PASS: 1, FAIL: 0, WARN: 0, ERROR: IAM_READING_CHECKS.length });
    const sources = Object.fromEntries(latest!.sources.map((s) => [s.source, s.state]));
    expect(sources).toMatchObject({ [`elasticache ${REGION}`]: 'read', [`dax ${REGION}`]: 'read' });
    // The denial is the SCP's, as AWS words it.
    expect(JSON.stringify(latest!.sources)).toContain('service control policy');
  });

  it('every stored finding names its own account', async () => {
    for (const account of org.accounts) {
      const state = await store().loadState(account.id);
      for (const f of state.values()) expect(f.resource).toContain(`::${account.id}:`);
    }
  });

  it('each account’s IAM calls stay within SPEC section 2’s bound', async () => {
    await setFixes(motoEndpoint(), { scps: false });
    try {
      for (const account of org.accounts.filter((a) => a.memberRole)) {
        const iam = run.calls.filter((call) => call.account === account.id && call.service === 'iam');
        const count = (action: string) => iam.filter((call) => call.action === action).length;
        const polls = Math.max(0, count('GenerateCredentialReport') - 1);
        expect(polls, account.key).toBeLessThanOrEqual(3);
        const details = await orgClients(motoEndpoint(), await org.adminCredentials(account.id)).iam.send(
          new GetAccountAuthorizationDetailsCommand({}),
        );
        const entities = [details.UserDetailList, details.GroupDetailList, details.RoleDetailList, details.Policies].reduce(
          (n, list) => n + (list?.length ?? 0),
          0,
        );
        const lookups = count('ListAccessKeys');
        expect(lookups, account.key).toBeLessThanOrEqual(50);
        expect(iam.length - polls, account.key).toBeLessThanOrEqual(3 + Math.ceil(entities / 1000) + lookups);
        expect(iam.length, account.key).toBeGreaterThan(0);
        for (const call of iam) expect(IAM_READS, account.key).toContain(call.action);
      }
    } finally {
      await setFixes(motoEndpoint(), { scps: true });
    }
  });
});

describe('the organization run, summarized', () => {
  it('publishes ONE digest to the subscriber: per-account sections, the accounts in ERROR first', () => {
    // In digest mode (the default) the per-account invocations publish nothing: their sections go to the table.
    const parts = run.messages.map((m) => JSON.parse(JSON.parse(m.Body).Message));
    expect(parts.map((p) => `${p.kind} ${p.accountId ?? p.organizationRunId}`)).toEqual([
      `organization-digest ${run.discovery.organizationRunId}`,
    ]);
    const envelope = JSON.parse(run.messages[0]!.Body);
    expect(envelope).toMatchObject({ Type: 'Notification', TopicArn: org.topicArn });
    const digest = JSON.parse(envelope.Message);
    expect(digest).toMatchObject({
      source: 'account-auditor',
      kind: 'organization-digest',
      organizationRunId: run.discovery.organizationRunId,
    });
    // Every account in ERROR is listed; a quiet one (nothing new, nothing in ERROR) is only counted.
    expect(digest.counts).toMatchObject({ accounts: org.accounts.length, inError: 2 });
    const states = digest.accounts.map((s: Json) => s.state);
    const firstComplete = states.indexOf('complete');
    expect(states.slice(firstComplete).every((s: string) => s === 'complete')).toBe(true);
    const inError = digest.accounts.slice(0, firstComplete).map((s: Json) => s.account.id);
    expect(inError.sort()).toEqual([idOf('C'), idOf('D')].sort());
    // Not audited at all first (C: the member role refused), then audited with checks in ERROR (D: IAM denied by the SCP).
    expect(digest.accounts.slice(0, 2).map((s: Json) => [s.account.id, s.state])).toEqual([
      [idOf('C'), 'failed'],
      [idOf('D'), 'incomplete'],
    ]);
    const c = digest.accounts.find((s: Json) => s.account.id === idOf('C'));
    expect(c.changes.new).toEqual([
      expect.objectContaining({ checkId: 'organization', status: 'ERROR', title: expect.stringContaining(org.account('C').roleArn!) }),
    ]);
    expect(c.changes.new[0].title).toContain('AccessDenied');
    // A's and B's sections list their new admin findings, each under its own account.
    const newIn = (key: AccountKey) =>
      digest.accounts.find((s: Json) => s.account.id === idOf(key))?.changes.new.map((i: Json) => [i.checkId, i.resource, i.severity]);
    expect(newIn('A')).toContainEqual(['user-full-access', `arn:aws:iam::${idOf('A')}:user/admin-a`, 'critical']);
    expect(newIn('B')).toContainEqual(['user-full-access', `arn:aws:iam::${idOf('B')}:user/admin-b`, 'high']);
  });

  it('records the organization run (`runs --org`): every account, C and D in ERROR', async () => {
    const [record] = await store().listOrganizationRuns({ limit: 5 });
    expect(record).toMatchObject({ organizationRunId: run.discovery.organizationRunId, startedAt: run.discovery.startedAt });
    expect(record!.perAccount.map((l) => l.id).sort()).toEqual(org.accounts.map((a) => a.id).sort());
    expect(
      record!.inError.map((l) => [l.id, l.state]),
      JSON.stringify(record!.inError),
    ).toEqual([
      [idOf('C'), 'failed'],
      [idOf('D'), 'incomplete'],
    ]);
    expect(record!.alert).toMatchObject({ mode: 'digest', wanted: true, messageId: expect.any(String) });
    expect(run.summarized.alert).toMatchObject({ wanted: true, repeated: false });
  });
});
