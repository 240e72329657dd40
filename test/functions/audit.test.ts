/**
 * The Lambda handler end to end: AWS mocked at the SDK boundary (IAM, STS, ElastiCache, DAX, SNS),
 * the findings table a real in-memory dynalite, and the metrics read back from the EMF lines
 * Powertools prints. Proves the event contract (scheduled, on-demand, rejected payloads), what is
 * written and published in each mode, and that a denied call still records and alerts the run.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import {
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { createAuditHandler, type AuditHandler } from '#lib/lambda/audit-handler.ts';
import { ConfigurationError } from '#lib/lambda/config.ts';
import { ENV, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { PayloadError } from '#lib/lambda/event.ts';
import { FAIL_SEVERITY_METRIC, FINDINGS_METRIC, SOURCES_NOT_READ_METRIC } from '#lib/lambda/metrics.ts';
import type { AuditSummary } from '#lib/lambda/summary.ts';
import { startLocalStore, type LocalStore } from '#lib/store/local.ts';
import { FindingsStore } from '#lib/store/store.ts';
import type { SettingsInput } from '#lib/settings.ts';
import {
  accountSummaryResponse,
  FIXTURE_ACCOUNT_ID,
  FIXTURE_NOW,
  iamError,
} from '../fixtures/aws.ts';
import { dax, elastiCache, iam, resetAws, sts } from '../inventory/mock-aws.ts';
import { serveSmallAccount } from '../inventory/small-account.ts';

const ACCOUNT = FIXTURE_ACCOUNT_ID;
const REGION = 'us-east-1';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:account-auditor-alerts`;
const sns = mockClient(SNSClient);


const SCHEDULED_EVENT = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: ACCOUNT,
  time: '2026-11-01T00:00:00Z',
  region: REGION,
  resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/account-auditor-nightly`],
  detail: {},
};

const context: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'account-auditor',
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:account-auditor`,
  memoryLimitInMB: '512',
  awsRequestId: '6f1c3a52-2b2e-4a3d-9a3e-0c1d2e3f4a5b',
  logGroupName: '/aws/lambda/account-auditor',
  logStreamName: '2026/11/01/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 600_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** Deployed settings of most tests: one region, a lookup ceiling a payload could try to raise. */
const DEPLOYED: SettingsInput = { regions: [REGION], keyIdLookups: 10 };

let local: LocalStore;
let store: FindingsStore;
let emf: Record<string, unknown>[];

/** What Powertools printed as EMF, one object per flush. */
function captureEmf(): void {
  emf = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    if (typeof line !== 'string') return;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed._aws) emf.push(parsed);
    } catch {
      // Not a metrics line.
    }
  });
}

/** The run's metrics (the blob with AuditDuration; the cold start is flushed on its own). */
function runMetrics(): { values: Record<string, unknown>; names: string[]; dimensions: string[][]; namespace: string } | null {
  const blob = emf.find((e) => METRIC.durationMs in e);
  if (!blob) return null;
  const [directive] = (blob._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
  return { values: blob, names: directive!.Metrics.map((m) => m.Name), dimensions: directive!.Dimensions, namespace: directive!.Namespace };
}

function makeHandler(env: Record<string, string | undefined> = {}): AuditHandler {
  // Built after the environment is pinned: Powertools reads POWERTOOLS_DEV when constructed.
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  return createAuditHandler({
    dynamodb: local.client,
    sns: new SNSClient({ region: REGION }),
    logger,
    metrics,
    env: {
      [ENV.tableName]: local.tableName,
      [ENV.topicArn]: TOPIC,
      [ENV.settings]: JSON.stringify(DEPLOYED),
      AWS_REGION: REGION,
      ...env,
    },
  });
}

function published(): PublishCommandInput[] {
  return sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
}

/** The `email` part of a published message, which names what is in ERROR and why. */
function emailOf(input: PublishCommandInput): string {
  return (JSON.parse(input.Message!) as { email: string }).email;
}

beforeEach(async () => {
  resetAws(REGION);
  // Nothing may fall back to real credentials or the instance metadata service.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIATESTTESTTESTTEST');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  // Dev mode prints metrics with the global console (spied below); it would also disable them unless told not to.
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  // As Lambda sets it, so that the cold start metric is emitted like in production.
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(FIXTURE_NOW);
  serveSmallAccount(REGION);
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  local = await startLocalStore(null);
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
  captureEmf();
});

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await local.close();
});

describe('the scheduled event', () => {
  it('runs end to end: returns the summary, writes the run, publishes the alert, emits the metrics', async () => {
    const summary = await makeHandler()(SCHEDULED_EVENT, context);

    expect(summary).toMatchObject({
      accountId: ACCOUNT,
      trigger: 'schedule',
      complete: true,
      dryRun: false,
      notify: true,
      regions: [REGION],
      checksInError: [],
      sourcesNotRead: [],
      alert: { wanted: true, published: true, messageId: 'message-1', skipped: null },
    });
    expect(summary.counts).toMatchObject({
      total: 8,
      byStatus: { FAIL: 2, ERROR: 0, WARN: 1, PASS: 5 },
      failBySeverity: { critical: 1, high: 0, medium: 1, low: 0, informational: 0 },
      // First run: every open finding is new.
      new: 3,
      resolved: 0,
      open: 3,
    });
    expect(summary.newFindings.map((f) => [f.severity, f.checkId, f.resource])).toEqual([
      ['critical', 'user-full-access', `arn:aws:iam::${ACCOUNT}:user/alice`],
      ['medium', 'access-key-age', `arn:aws:iam::${ACCOUNT}:user/bob#access_key_1`],
      ['low', 'elasticache-service-linked-role', expect.any(String)],
    ]);
    expect(summary.saved).toEqual({ written: 8, skippedStale: 0, history: 3 });

    const runs = await store.latestRuns(ACCOUNT);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ runId: summary.runId, trigger: 'schedule', counts: summary.counts });

    const [alert, ...more] = published();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ TopicArn: TOPIC, MessageStructure: 'json', Subject: summary.alert.subject });
    expect(alert!.Subject).toContain(ACCOUNT);
    expect(emailOf(alert!)).toContain('alice');

    const metrics = runMetrics()!;
    expect(metrics.namespace).toBe(METRICS_NAMESPACE);
    expect(metrics.dimensions).toEqual([['service']]);
    expect(metrics.values).toMatchObject({
      service: SERVICE_NAME,
      [METRIC.runSucceeded]: 1,
      [METRIC.checksInError]: 0,
      [METRIC.newFindings]: 3,
      [METRIC.resolvedFindings]: 0,
      [METRIC.openFindings]: 3,
      [SOURCES_NOT_READ_METRIC]: 0,
      [FINDINGS_METRIC.FAIL]: 2,
      [FINDINGS_METRIC.ERROR]: 0,
      [FINDINGS_METRIC.WARN]: 1,
      [FINDINGS_METRIC.PASS]: 5,
      [FAIL_SEVERITY_METRIC.critical]: 1,
      [FAIL_SEVERITY_METRIC.medium]: 1,
      [FAIL_SEVERITY_METRIC.high]: 0,
    });
    expect(metrics.values[METRIC.durationMs]).toEqual(expect.any(Number));
    expect(emf.some((e) => 'ColdStart' in e)).toBe(true);
  });

  it('the next night compares with the stored state: nothing new, no alert, still a successful run', async () => {
    const handler = makeHandler();
    await handler(SCHEDULED_EVENT, context);
    emf.length = 0;
    const second = await handler(SCHEDULED_EVENT, context);

    expect(second.counts).toMatchObject({ new: 0, resolved: 0, open: 3 });
    expect(second.alert).toMatchObject({ wanted: false, published: false, skipped: null });
    expect(published()).toHaveLength(1);
    expect(await store.latestRuns(ACCOUNT)).toHaveLength(2);
    expect(runMetrics()!.values).toMatchObject({ [METRIC.runSucceeded]: 1, [METRIC.newFindings]: 0, [METRIC.openFindings]: 3 });
  });
});

describe('an on-demand payload', () => {
  it('{} is a valid on-demand run of the deployed settings', async () => {
    const summary = await makeHandler()({}, context);
    expect(summary).toMatchObject({ trigger: 'on-demand', complete: true, counts: { total: 8 } });
    expect((await store.latestRuns(ACCOUNT))[0]).toMatchObject({ trigger: 'on-demand' });
  });

  it('narrowing checks and thresholds runs just those checks, with those limits', async () => {
    const summary = await makeHandler()({ checks: ['access-key-age'], settings: { maxKeyAgeDays: 5, keyIdLookups: 1, minAlertSeverity: 'medium' } }, context);

    expect(summary.checks).toEqual(['access-key-age']);
    // alice's 10-day-old key is over a 5-day limit too.
    expect(summary.counts.byStatus).toEqual({ FAIL: 2, ERROR: 0, WARN: 0, PASS: 0 });
    expect(new Set(summary.newFindings.map((f) => f.checkId))).toEqual(new Set(['access-key-age']));
    // One lookup allowed: the oldest over-age key (bob's) gets it.
    expect(iam.commandCalls(ListAccessKeysCommand).map((c) => c.args[0].input.UserName)).toEqual(['bob']);
    const [run] = await store.latestRuns(ACCOUNT);
    expect(run).toMatchObject({ runId: summary.runId, trigger: 'on-demand', checks: ['access-key-age'] });
    expect(published()).toHaveLength(1);
  });

  it('a narrowed run resolves nothing outside its checks', async () => {
    const handler = makeHandler();
    await handler(SCHEDULED_EVENT, context);
    const narrowed = await handler({ checks: ['root-access-key'] }, context);
    expect(narrowed.counts).toMatchObject({ resolved: 0, open: 3 });
  });
});

describe('a malformed payload is rejected with the field named, and nothing is read, written or published', () => {
  /** `problems`: how many separate problems the message lists, when more than one. */
  const cases: { name: string; payload: unknown; named: string[]; problems?: number }[] = [
    { name: 'a string', payload: 'x', named: ['(payload): expected an object', 'got a string'] },
    { name: 'an array', payload: [], named: ['(payload): expected an object', 'got an array'] },
    { name: 'null', payload: null, named: ['(payload): expected an object', 'got null'] },
    { name: 'a number', payload: 42, named: ['got number'] },
    { name: 'checks not a list', payload: { checks: 'root-access-key' }, named: ['checks: Invalid input: expected array'] },
    { name: 'an unknown check ID', payload: { checks: ['root-access-key', 'mfa-enabled'] }, named: ['checks.1: Invalid option'] },
    { name: 'dryRun not a boolean', payload: { dryRun: 'yes' }, named: ['dryRun: Invalid input: expected boolean'] },
    { name: 'notify not a boolean', payload: { notify: 0 }, named: ['notify: Invalid input: expected boolean'] },
    { name: 'settings not an object', payload: { settings: 'strict' }, named: ['settings: Invalid input: expected object'] },
    { name: 'a negative key age', payload: { settings: { maxKeyAgeDays: -1 } }, named: ['settings.maxKeyAgeDays: Too small: expected number to be >=1'] },
    { name: 'a negative warning age', payload: { settings: { warnKeyAgeDays: -5 } }, named: ['settings.warnKeyAgeDays: Too small: expected number to be >=0'] },
    { name: 'a fractional key age', payload: { settings: { maxKeyAgeDays: 30.5 } }, named: ['settings.maxKeyAgeDays: Invalid input: expected int'] },
    { name: 'a key age as a string', payload: { settings: { maxKeyAgeDays: '30' } }, named: ['settings.maxKeyAgeDays: Invalid input: expected number'] },
    { name: 'a warning age above the maximum', payload: { settings: { maxKeyAgeDays: 30, warnKeyAgeDays: 40 } }, named: ['settings.warnKeyAgeDays: must not exceed maxKeyAgeDays (30)'] },
    { name: 'a looser key age on a run that saves', payload: { settings: { maxKeyAgeDays: 365 } }, named: ['settings.maxKeyAgeDays: 365 is looser than the deployed 90'] },
    { name: 'a looser warning age on a run that saves', payload: { settings: { warnKeyAgeDays: 85 } }, named: ['settings.warnKeyAgeDays: 85 is looser than the deployed 80'] },
    { name: 'an unknown alertOn', payload: { settings: { alertOn: 'never' } }, named: ['settings.alertOn: Invalid option'] },
    { name: 'a table', payload: { tableName: 'someone-elses-table' }, named: ['tableName: not accepted'] },
    { name: 'a topic', payload: { topicArn: 'arn:aws:sns:us-east-1:999999999999:elsewhere' }, named: ['topicArn: not accepted'] },
    { name: 'an endpoint inside settings', payload: { settings: { endpoint: 'http://127.0.0.1:1' } }, named: ['settings.endpoint: not accepted'] },
    { name: 'a region key', payload: { region: 'eu-west-1' }, named: ['region: not accepted'] },
    { name: 'an unknown top-level field', payload: { verbose: true }, named: ['verbose: unknown field'] },
    { name: 'mutes, which only the deployment sets', payload: { settings: { mutes: [] } }, named: ['settings.mutes: not accepted in a payload'] },
    { name: 'checks inside settings', payload: { settings: { checks: ['root-access-key'] } }, named: ['settings.checks: not accepted in a payload'] },
    { name: 'a wider keyIdLookups', payload: { settings: { keyIdLookups: 11 } }, named: ['settings.keyIdLookups: Too big: must not exceed the deployed keyIdLookups (10)'] },
    { name: 'a region not deployed', payload: { settings: { regions: ['eu-west-1'] } }, named: ['settings.regions.0: "eu-west-1" is not a deployed region (us-east-1)'] },
    { name: 'a malformed region', payload: { settings: { regions: ['Moon'] } }, named: ['settings.regions.0: must be a region name'] },
    { name: 'another EventBridge event', payload: { source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }, named: ['(event): only the EventBridge scheduled event is accepted'] },
    {
      name: 'several problems at once',
      payload: { checks: ['nope'], settings: { maxKeyAgeDays: 0 }, tableName: 'x' },
      named: ['checks.0: Invalid option', 'settings.maxKeyAgeDays: Too small', 'tableName: not accepted'],
      problems: 3,
    },
  ];

  it.each(cases)('$name', async ({ payload, named, problems }) => {
    const error = await makeHandler()(payload, context).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PayloadError);
    for (const part of named) expect((error as PayloadError).message).toContain(part);
    expect((error as PayloadError).problems).toHaveLength(problems ?? 1);

    for (const client of [iam, sts, elastiCache, dax]) expect(client.calls()).toHaveLength(0);
    expect(await store.latestRuns(ACCOUNT)).toEqual([]);
    expect(await store.accounts()).toEqual([]);
    expect(published()).toEqual([]);
    expect(runMetrics()).toBeNull();
  });

  it('a check the deployment does not run cannot be asked for', async () => {
    const handler = makeHandler({ [ENV.settings]: JSON.stringify({ ...DEPLOYED, checks: ['root-access-key', 'access-key-age'] }) });
    await expect(handler({ checks: ['access-key-age', 'user-full-access'] }, context)).rejects.toThrow(
      'checks.1: "user-full-access" is not among the deployed checks (root-access-key, access-key-age)',
    );
    expect(iam.calls()).toHaveLength(0);
  });

  it('without deployed regions, only the function\'s own region may be named', async () => {
    const handler = makeHandler({ [ENV.settings]: '{}' });
    await expect(handler({ settings: { regions: ['eu-west-1'] } }, context)).rejects.toThrow('settings.regions.0: "eu-west-1" is not a deployed region (us-east-1)');
    const summary = await handler({ settings: { regions: [REGION] } }, context);
    expect(summary.regions).toEqual([REGION]);
  });
});

describe('dryRun and notify', () => {
  it('dryRun: true evaluates and reconciles against the stored state, but writes and publishes nothing', async () => {
    const handler = makeHandler();
    await handler(SCHEDULED_EVENT, context);
    iam.on(GetAccountSummaryCommand).resolves(accountSummaryResponse({ rootKeysPresent: 1 }));
    emf.length = 0;

    const summary = await handler({ dryRun: true }, context);

    expect(summary).toMatchObject({ dryRun: true, saved: null, alert: { wanted: true, published: false, messageId: null, skipped: 'dry run' } });
    // The root finding was stored as PASS: against that state, it regressed.
    expect(summary.counts).toMatchObject({ new: 0, regressed: 1 });
    expect(summary.newFindings).toEqual([expect.objectContaining({ change: 'regressed', checkId: 'root-access-key', status: 'FAIL', severity: 'critical' })]);
    expect(await store.latestRuns(ACCOUNT)).toHaveLength(1);
    expect(published()).toHaveLength(1);
    const metrics = runMetrics()!;
    expect(metrics.names).toEqual([METRIC.durationMs]);
  });

  it('dryRun: true may preview a looser limit, since nothing is recorded', async () => {
    const summary = await makeHandler()({ dryRun: true, settings: { maxKeyAgeDays: 365 } }, context);
    expect(summary.counts.byStatus.FAIL).toBe(1);
    expect(await store.latestRuns(ACCOUNT)).toEqual([]);
    expect(published()).toEqual([]);
  });

  it('notify: false saves the run but publishes nothing', async () => {
    const summary = await makeHandler()({ notify: false }, context);

    expect(summary).toMatchObject({ notify: false, alert: { wanted: true, published: false, skipped: 'notify: false' } });
    expect(summary.saved).toMatchObject({ written: 8 });
    expect(await store.latestRuns(ACCOUNT)).toEqual([expect.objectContaining({ runId: summary.runId })]);
    expect(published()).toEqual([]);
    expect(runMetrics()!.values).toMatchObject({ [METRIC.runSucceeded]: 1 });
  });
});

describe('a failing collector', () => {
  it('AccessDenied on GetAccountAuthorizationDetails: ERROR findings, the run still written and the alert published', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied'));

    const summary: AuditSummary = await makeHandler()(SCHEDULED_EVENT, context);

    const inError = ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role'];
    expect(summary.complete).toBe(false);
    expect(summary.checksInError.map((c) => c.checkId).sort()).toEqual([...inError].sort());
    expect(summary.sourcesNotRead).toEqual([expect.objectContaining({ call: 'iam:GetAccountAuthorizationDetails', code: 'AccessDenied' })]);
    expect(summary.counts.byStatus.ERROR).toBeGreaterThanOrEqual(inError.length);
    // The checks that did not need the call still report real verdicts.
    expect(summary.counts.failBySeverity.medium).toBe(1);

    const [run] = await store.latestRuns(ACCOUNT);
    expect(run).toMatchObject({ runId: summary.runId, complete: false });
    expect(run!.checksInError.map((c) => c.checkId).sort()).toEqual([...inError].sort());

    const [alert] = published();
    expect(alert).toBeDefined();
    expect(summary.alert).toMatchObject({ published: true, messageId: 'message-1' });
    const email = emailOf(alert!);
    for (const id of inError) expect(email).toContain(id);
    expect(email).toContain('iam:GetAccountAuthorizationDetails');

    expect(runMetrics()!.values).toMatchObject({
      [METRIC.runSucceeded]: 1,
      [METRIC.checksInError]: 3,
      [SOURCES_NOT_READ_METRIC]: 1,
      [FINDINGS_METRIC.ERROR]: summary.counts.byStatus.ERROR,
    });
  });
});

describe('the deployment\'s configuration', () => {
  const cases: { name: string; env: Record<string, string | undefined>; named: RegExp }[] = [
    { name: 'AUDITOR_SETTINGS out of range', env: { [ENV.settings]: '{"maxKeyAgeDays":0}' }, named: /AUDITOR_SETTINGS: invalid settings: maxKeyAgeDays: Too small/ },
    { name: 'AUDITOR_SETTINGS with an unknown field', env: { [ENV.settings]: '{"maxKeyAge":30}' }, named: /AUDITOR_SETTINGS: .*maxKeyAge/ },
    { name: 'AUDITOR_SETTINGS not JSON', env: { [ENV.settings]: '{maxKeyAgeDays: 30}' }, named: /AUDITOR_SETTINGS is not valid JSON/ },
    { name: 'AUDITOR_SETTINGS not an object', env: { [ENV.settings]: '[]' }, named: /AUDITOR_SETTINGS must be a JSON object/ },
    { name: 'TABLE_NAME missing', env: { [ENV.tableName]: undefined }, named: /TABLE_NAME is not set/ },
    { name: 'TOPIC_ARN missing', env: { [ENV.topicArn]: '' }, named: /TOPIC_ARN is not set/ },
    { name: 'TOPIC_ARN not an ARN', env: { [ENV.topicArn]: 'alerts' }, named: /TOPIC_ARN is not an SNS topic ARN/ },
  ];

  it.each(cases)('$name is a configuration error naming the variable, before anything is read', async ({ env, named }) => {
    const handler = makeHandler(env);
    for (const event of [SCHEDULED_EVENT, {}]) {
      const error = await handler(event, context).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(named);
    }
    expect(iam.calls()).toHaveLength(0);
    expect(await store.latestRuns(ACCOUNT)).toEqual([]);
    expect(published()).toEqual([]);
  });

  it('AUDITOR_SETTINGS absent: the defaults', async () => {
    const summary = await makeHandler({ [ENV.settings]: undefined })(SCHEDULED_EVENT, context);
    // No deployed regions: the function's own region.
    expect(summary).toMatchObject({ complete: true, regions: [REGION] });
  });
});

describe('functions/audit.ts', () => {
  it('wires the default clients from the environment and runs', async () => {
    vi.stubEnv(ENV.tableName, local.tableName);
    vi.stubEnv(ENV.topicArn, TOPIC);
    vi.stubEnv(ENV.settings, JSON.stringify(DEPLOYED));
    // The module's own DynamoDB client reaches dynalite through the SDK's endpoint variable.
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', local.endpoint);
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');

    const { handler } = await import('../../functions/audit.ts');
    const summary = await handler(SCHEDULED_EVENT, context);

    expect(summary).toMatchObject({ trigger: 'schedule', complete: true, alert: { published: true } });
    expect((await store.latestRuns(ACCOUNT))[0]).toMatchObject({ runId: summary.runId });
    expect(published()[0]).toMatchObject({ TopicArn: TOPIC });
    expect(runMetrics()!.values).toMatchObject({ [METRIC.runSucceeded]: 1 });
  });
});
