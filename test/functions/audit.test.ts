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
  GenerateCredentialReportCommand,
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
import { PayloadError, parseEvent } from '#lib/lambda/event.ts';
import type { DeployedConfig } from '#lib/lambda/config.ts';
import { FAIL_SEVERITY_METRIC, FINDINGS_METRIC, SOURCES_NOT_READ_METRIC } from '#lib/lambda/metrics.ts';
import type { AuditSummary } from '#lib/lambda/summary.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import { accountSummaryResponse, FIXTURE_ACCOUNT_ID, FIXTURE_NOW, iamError } from '#test/aws.ts';
import { dax, elastiCache, iam, resetAws, sts } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';
import { lambdaContext } from '#test/lambda.ts';

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

const context: Context = lambdaContext(REGION);

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
  const [directive] = (blob._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] })
    .CloudWatchMetrics;
  return { values: blob, names: directive!.Metrics.map((m) => m.Name), dimensions: directive!.Dimensions, namespace: directive!.Namespace };
}

function makeHandler(env: Record<string, string | undefined> = {}, options: { reserveMs?: number } = {}): AuditHandler {
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
    ...options,
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
  local = await freshTable();
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
      total: 9,
      byStatus: { FAIL: 2, ERROR: 0, WARN: 1, PASS: 6 },
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
    // The 6 PASS findings have no stored state to follow: counted, not written.
    expect(summary.saved).toEqual({ written: 3, skippedStale: 0, history: 3, compliantNotStored: 6 });

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
      [FINDINGS_METRIC.PASS]: 6,
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
    expect(summary).toMatchObject({ trigger: 'on-demand', complete: true, counts: { total: 9 } });
    expect((await store.latestRuns(ACCOUNT))[0]).toMatchObject({ trigger: 'on-demand' });
  });

  it('narrowing checks and thresholds runs just those checks, with those limits', async () => {
    const summary = await makeHandler()(
      { checks: ['access-key-age'], settings: { maxKeyAgeDays: 5, keyIdLookups: 1, alertOn: 'always' } },
      context,
    );

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
    {
      name: 'a negative key age',
      payload: { settings: { maxKeyAgeDays: -1 } },
      named: ['settings.maxKeyAgeDays: Too small: expected number to be >=1'],
    },
    {
      name: 'a negative warning age',
      payload: { settings: { warnKeyAgeDays: -5 } },
      named: ['settings.warnKeyAgeDays: Too small: expected number to be >=0'],
    },
    {
      name: 'a fractional key age',
      payload: { settings: { maxKeyAgeDays: 30.5 } },
      named: ['settings.maxKeyAgeDays: Invalid input: expected int'],
    },
    {
      name: 'a key age as a string',
      payload: { settings: { maxKeyAgeDays: '30' } },
      named: ['settings.maxKeyAgeDays: Invalid input: expected number'],
    },
    {
      name: 'a warning age above the maximum',
      payload: { settings: { maxKeyAgeDays: 30, warnKeyAgeDays: 40 } },
      named: ['settings.warnKeyAgeDays: must not exceed maxKeyAgeDays (30)'],
    },
    {
      name: 'a looser key age on a run that saves',
      payload: { settings: { maxKeyAgeDays: 365 } },
      named: ['settings.maxKeyAgeDays: 365 is looser than the deployed 90'],
    },
    {
      name: 'a looser warning age on a run that saves',
      payload: { settings: { warnKeyAgeDays: 85 } },
      named: ['settings.warnKeyAgeDays: 85 is looser than the deployed 80'],
    },
    { name: 'an unknown alertOn', payload: { settings: { alertOn: 'never' } }, named: ['settings.alertOn: Invalid option'] },
    { name: 'a table', payload: { tableName: 'someone-elses-table' }, named: ['tableName: not accepted'] },
    { name: 'a topic', payload: { topicArn: 'arn:aws:sns:us-east-1:999999999999:elsewhere' }, named: ['topicArn: not accepted'] },
    {
      name: 'an endpoint inside settings',
      payload: { settings: { endpoint: 'http://127.0.0.1:1' } },
      named: ['settings.endpoint: not accepted'],
    },
    { name: 'a region key', payload: { region: 'eu-west-1' }, named: ['region: not accepted'] },
    { name: 'an unknown top-level field', payload: { verbose: true }, named: ['verbose: unknown field'] },
    {
      name: 'mutes, which only the deployment sets',
      payload: { settings: { mutes: [] } },
      named: ['settings.mutes: not accepted; mutes hide findings'],
    },
    {
      name: 'mutes at the top level, even in a dry run',
      payload: { dryRun: true, mutes: [{ check: '*', resource: '*', reason: 'quiet' }] },
      named: ['mutes: not accepted; mutes hide findings'],
    },
    {
      name: 'a destination',
      payload: { destination: 's3://elsewhere' },
      named: ['destination: not accepted; results always go to the deployed table and topic'],
    },
    {
      name: 'a topic inside settings, even in a dry run',
      payload: { dryRun: true, settings: { topicArn: 'arn:aws:sns:us-east-1:999999999999:elsewhere' } },
      named: ['settings.topicArn: not accepted; results always go'],
    },
    {
      name: 'a higher minAlertSeverity on a run that saves',
      payload: { settings: { minAlertSeverity: 'critical' } },
      named: ['settings.minAlertSeverity: critical alerts less than the deployed low'],
    },
    {
      name: 'a longer report wait',
      payload: { settings: { reportWaitSeconds: 600 } },
      named: ['settings.reportWaitSeconds: not accepted in a payload'],
    },
    {
      name: 'checks inside settings',
      payload: { settings: { checks: ['root-access-key'] } },
      named: ['settings.checks: not accepted in a payload'],
    },
    {
      name: 'a wider keyIdLookups',
      payload: { settings: { keyIdLookups: 11 } },
      named: ['settings.keyIdLookups: Too big: must not exceed the deployed keyIdLookups (10)'],
    },
    {
      name: 'a region not deployed',
      payload: { settings: { regions: ['eu-west-1'] } },
      named: ['settings.regions.0: "eu-west-1" is not a deployed region (us-east-1)'],
    },
    { name: 'a malformed region', payload: { settings: { regions: ['Moon'] } }, named: ['settings.regions.0: must be a region name'] },
    {
      name: 'another EventBridge event',
      payload: { source: 'aws.s3', 'detail-type': 'Object Created', detail: {} },
      named: ['(event): only the EventBridge scheduled event is accepted'],
    },
    {
      name: 'a scheduled event carrying dryRun',
      payload: { ...SCHEDULED_EVENT, dryRun: true },
      named: ['dryRun: not accepted in a scheduled event'],
    },
    {
      name: 'a scheduled event carrying settings and checks, each named',
      payload: { ...SCHEDULED_EVENT, settings: { maxKeyAgeDays: 365 }, checks: ['root-access-key'] },
      named: ['settings: not accepted in a scheduled event', 'checks: not accepted in a scheduled event'],
      problems: 2,
    },
    {
      name: 'a scheduled event whose detail carries a field',
      payload: { ...SCHEDULED_EVENT, detail: { notify: false } },
      named: ['detail.notify: not accepted in a scheduled event'],
    },
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

  it("without deployed regions, only the function's own region may be named", async () => {
    const handler = makeHandler({ [ENV.settings]: '{}' });
    await expect(handler({ settings: { regions: ['eu-west-1'] } }, context)).rejects.toThrow(
      'settings.regions.0: "eu-west-1" is not a deployed region (us-east-1)',
    );
    const summary = await handler({ settings: { regions: [REGION] } }, context);
    expect(summary.regions).toEqual([REGION]);
  });
});

/**
 * What a payload may do, as one table: it cannot change where results go (table, topic) or widen
 * what is read (regions, checks, key lookups, report wait); it may narrow checks and regions and
 * tighten thresholds; a looser threshold or alert setting is a preview only (dryRun); mutes, which
 * hide findings, are refused dry run or not; anything unknown is refused.
 */
describe('payload safety: only narrower, never elsewhere', () => {
  const MUTE = {
    check: 'user-full-access',
    resource: `arn:aws:iam::${ACCOUNT}:user/breakglass`,
    reason: 'break-glass user, reviewed quarterly',
  };
  const deployed: DeployedConfig = {
    tableName: 'account-auditor-findings',
    topicArn: TOPIC,
    defaultRegion: REGION,
    settings: parseSettings({
      regions: [REGION, 'eu-west-1'],
      checks: ['root-access-key', 'access-key-age', 'user-full-access'],
      keyIdLookups: 10,
      alertOn: 'open',
      minAlertSeverity: 'medium',
      mutes: [MUTE],
    }),
  };

  /** `dryRun`: what a dry run of the same payload gets: refused too, or allowed (a preview). */
  const refused: { kind: string; payload: Record<string, unknown>; named: string; dryRun: 'refused' | 'allowed' }[] = [
    {
      kind: 'destination',
      payload: { tableName: 'someone-elses-table' },
      named: 'tableName: not accepted; results always go to the deployed table and topic',
      dryRun: 'refused',
    },
    { kind: 'destination', payload: { table: 'x' }, named: 'table: not accepted; results always go', dryRun: 'refused' },
    {
      kind: 'destination',
      payload: { topicArn: 'arn:aws:sns:us-east-1:999999999999:elsewhere' },
      named: 'topicArn: not accepted; results always go',
      dryRun: 'refused',
    },
    { kind: 'destination', payload: { topic: 'elsewhere' }, named: 'topic: not accepted; results always go', dryRun: 'refused' },
    {
      kind: 'destination',
      payload: { destination: 'https://example.com/hook' },
      named: 'destination: not accepted; results always go',
      dryRun: 'refused',
    },
    { kind: 'destination', payload: { output_bucket: 'b' }, named: 'output_bucket: unknown field', dryRun: 'refused' },
    {
      kind: 'destination',
      payload: { settings: { table_name: 'x' } },
      named: 'settings.table_name: not accepted; results always go',
      dryRun: 'refused',
    },
    {
      kind: 'destination',
      payload: { settings: { TopicArn: 'arn:aws:sns:us-east-1:999999999999:elsewhere' } },
      named: 'settings.TopicArn: not accepted; results always go',
      dryRun: 'refused',
    },
    {
      kind: 'destination',
      payload: { endpointUrl: 'http://127.0.0.1:1' },
      named: 'endpointUrl: not accepted; results always go',
      dryRun: 'refused',
    },
    {
      kind: 'destination',
      payload: { roleArn: `arn:aws:iam::${ACCOUNT}:role/x` },
      named: 'roleArn: not accepted; results always go',
      dryRun: 'refused',
    },
    { kind: 'destination', payload: { region: 'eu-west-1' }, named: 'region: not accepted; results always go', dryRun: 'refused' },
    {
      kind: 'wider read',
      payload: { settings: { regions: ['ap-south-1'] } },
      named: 'settings.regions.0: "ap-south-1" is not a deployed region (us-east-1, eu-west-1)',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { settings: { regions: [REGION, 'ap-south-1'] } },
      named: 'settings.regions.1: "ap-south-1" is not a deployed region',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { checks: ['dax-service-role'] },
      named: 'checks.0: "dax-service-role" is not among the deployed checks',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { settings: { keyIdLookups: 11 } },
      named: 'settings.keyIdLookups: Too big: must not exceed the deployed keyIdLookups (10)',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { settings: { reportWaitSeconds: 600 } },
      named: 'settings.reportWaitSeconds: not accepted in a payload',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { settings: { checks: ['dax-service-role'] } },
      named: 'settings.checks: not accepted in a payload',
      dryRun: 'refused',
    },
    {
      kind: 'wider read',
      payload: { settings: { awsMaxAttempts: 10 } },
      named: 'settings.awsMaxAttempts: not accepted in a payload',
      dryRun: 'refused',
    },
    {
      kind: 'deployment only',
      payload: { settings: { historyTtlDays: 1 } },
      named: 'settings.historyTtlDays: not accepted in a payload',
      dryRun: 'refused',
    },
    {
      kind: 'looser threshold',
      payload: { settings: { maxKeyAgeDays: 365 } },
      named: 'settings.maxKeyAgeDays: 365 is looser than the deployed 90',
      dryRun: 'allowed',
    },
    {
      kind: 'looser threshold',
      payload: { settings: { warnKeyAgeDays: 85 } },
      named: 'settings.warnKeyAgeDays: 85 is looser than the deployed 80',
      dryRun: 'allowed',
    },
    {
      kind: 'looser threshold',
      payload: { settings: { minAlertSeverity: 'high' } },
      named: 'settings.minAlertSeverity: high alerts less than the deployed medium',
      dryRun: 'allowed',
    },
    {
      kind: 'looser threshold',
      payload: { settings: { alertOn: 'new' } },
      named: 'settings.alertOn: new alerts less than the deployed open',
      dryRun: 'allowed',
    },
    { kind: 'mutes', payload: { settings: { mutes: [] } }, named: 'settings.mutes: not accepted; mutes hide findings', dryRun: 'refused' },
    {
      kind: 'mutes',
      payload: { settings: { mutes: [{ check: '*', resource: '*', reason: 'quiet' }] } },
      named: 'settings.mutes: not accepted; mutes hide findings',
      dryRun: 'refused',
    },
    {
      kind: 'mutes',
      payload: { mutes: [{ check: '*', resource: '*', reason: 'quiet' }] },
      named: 'mutes: not accepted; mutes hide findings',
      dryRun: 'refused',
    },
    {
      kind: 'mutes',
      payload: { mute: { check: '*', resource: '*', reason: 'quiet' } },
      named: 'mute: not accepted; mutes hide findings',
      dryRun: 'refused',
    },
    {
      kind: 'unknown',
      payload: { verbose: true },
      named: 'verbose: unknown field; a payload may only have checks, dryRun, notify, settings',
      dryRun: 'refused',
    },
    {
      kind: 'unknown',
      payload: { settings: { maxKeyAge: 30 } },
      named: 'settings.maxKeyAge: not accepted in a payload',
      dryRun: 'refused',
    },
    {
      kind: 'unknown',
      payload: JSON.parse('{"__proto__":{"tableName":"x"}}') as Record<string, unknown>,
      named: '__proto__: unknown field',
      dryRun: 'refused',
    },
  ];

  it.each(refused)('$kind: $payload is refused, naming the field; with dryRun: $dryRun', ({ payload, named, dryRun }) => {
    expect(() => parseEvent(payload, deployed)).toThrow(PayloadError);
    expect(() => parseEvent(payload, deployed)).toThrow(named);
    const preview = { ...payload, dryRun: true };
    if (dryRun === 'refused') {
      expect(() => parseEvent(preview, deployed)).toThrow(named);
    } else {
      const request = parseEvent(preview, deployed);
      expect(request.dryRun).toBe(true);
    }
  });

  const allowed: { kind: string; payload: Record<string, unknown> }[] = [
    { kind: 'nothing', payload: {} },
    { kind: 'fewer checks', payload: { checks: ['access-key-age'] } },
    { kind: 'fewer regions', payload: { settings: { regions: ['eu-west-1'] } } },
    { kind: 'fewer lookups', payload: { settings: { keyIdLookups: 0 } } },
    { kind: 'stricter key age', payload: { settings: { maxKeyAgeDays: 30, warnKeyAgeDays: 20 } } },
    { kind: 'more alerts', payload: { settings: { alertOn: 'always', minAlertSeverity: 'informational' } } },
    {
      kind: 'everything narrowed at once',
      payload: { checks: ['root-access-key'], notify: false, settings: { regions: [REGION], keyIdLookups: 1, maxKeyAgeDays: 45 } },
    },
    { kind: 'a looser preview', payload: { dryRun: true, settings: { maxKeyAgeDays: 365, alertOn: 'new', minAlertSeverity: 'critical' } } },
  ];

  it.each(allowed)('$kind: accepted, and the request can only be narrower than the deployment', ({ payload }) => {
    const request = parseEvent(payload, deployed);
    const current = deployed.settings;
    // No field of the request can say where results go: the handler takes table and topic from the deployment.
    expect(Object.keys(request).sort()).toEqual(['dryRun', 'notify', 'settings', 'trigger']);
    expect(request.trigger).toBe('on-demand');
    const s = request.settings;
    expect(current.checks).toEqual(expect.arrayContaining(s.checks));
    expect(s.checks.length).toBeGreaterThan(0);
    expect(current.regions).toEqual(expect.arrayContaining(s.regions));
    expect(s.regions.length).toBeGreaterThan(0);
    expect(s.keyIdLookups).toBeLessThanOrEqual(current.keyIdLookups);
    expect(s.reportWaitSeconds).toBe(current.reportWaitSeconds);
    expect(s.historyTtlDays).toBe(current.historyTtlDays);
    expect(s.mutes).toEqual(current.mutes);
    if (!request.dryRun) {
      expect(s.maxKeyAgeDays).toBeLessThanOrEqual(current.maxKeyAgeDays);
      expect(s.warnKeyAgeDays).toBeLessThanOrEqual(current.warnKeyAgeDays);
      expect(['open', 'always']).toContain(s.alertOn);
      expect(['medium', 'low', 'informational']).toContain(s.minAlertSeverity);
    }
  });
});

describe('dryRun and notify', () => {
  it('dryRun: true evaluates and reconciles against the stored state, but writes and publishes nothing', async () => {
    const handler = makeHandler();
    await handler(SCHEDULED_EVENT, context);
    iam.on(GetAccountSummaryCommand).resolves(accountSummaryResponse({ rootKeysPresent: 1 }));
    emf.length = 0;

    const summary = await handler({ dryRun: true }, context);

    expect(summary).toMatchObject({
      dryRun: true,
      saved: null,
      alert: { wanted: true, published: false, messageId: null, skipped: 'dry run' },
    });
    // The root user was compliant (nothing stored): against that state, its key is new.
    expect(summary.counts).toMatchObject({ new: 1, regressed: 0 });
    expect(summary.newFindings).toEqual([
      expect.objectContaining({ change: 'new', checkId: 'root-access-key', status: 'FAIL', severity: 'critical' }),
    ]);
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
    expect(summary.saved).toMatchObject({ written: 3, compliantNotStored: 6 });
    expect(await store.latestRuns(ACCOUNT)).toEqual([expect.objectContaining({ runId: summary.runId })]);
    expect(published()).toEqual([]);
    expect(runMetrics()!.values).toMatchObject({ [METRIC.runSucceeded]: 1 });
  });
});

describe('the time budget', () => {
  it('a credential report that never finishes: collection stops before the timeout, the run is stored as incomplete and alerted', async () => {
    iam.on(GenerateCredentialReportCommand).resolves({ State: 'STARTED' });
    // 5 s left with 4.7 s kept back: collection gets 300 ms, where the report wait alone would take a minute.
    const shortContext: Context = { ...context, getRemainingTimeInMillis: () => 5_000 };
    const started = performance.now();

    const summary = await makeHandler({}, { reserveMs: 4_700 })(SCHEDULED_EVENT, shortContext);

    expect(performance.now() - started).toBeLessThan(5_000);
    expect(summary.complete).toBe(false);
    expect(summary.sourcesNotRead).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: 'credential report', code: 'TimeBudgetExceeded' })]),
    );
    // Key age needs the report: ERROR, never PASS. The others keep their verdicts (root keys come
    // from GetAccountSummary's real-time count, which was read).
    expect(summary.checksInError.map((c) => c.checkId)).toEqual(['access-key-age']);
    expect(summary.counts.byStatus.ERROR).toBe(1);
    expect(summary.counts.failBySeverity.critical).toBe(1); // alice's full access, from the authorization details
    // Stored and alerted: a timeout is never silent.
    expect(await store.latestRuns(ACCOUNT)).toEqual([expect.objectContaining({ runId: summary.runId, complete: false })]);
    const [alert] = published();
    expect(emailOf(alert!)).toMatch(/time budget/i);
  });

  it('without a usable context clock, there is no budget and the audit runs as usual', async () => {
    const summary = await makeHandler()(SCHEDULED_EVENT, { ...context, getRemainingTimeInMillis: undefined as never });
    expect(summary.complete).toBe(true);
  });
});

describe('a failing collector', () => {
  it('AccessDenied on GetAccountAuthorizationDetails: ERROR findings, the run still written and the alert published', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied'));

    const summary: AuditSummary = await makeHandler()(SCHEDULED_EVENT, context);

    const inError = ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'];
    expect(summary.complete).toBe(false);
    expect(summary.checksInError.map((c) => c.checkId).sort()).toEqual([...inError].sort());
    expect(summary.sourcesNotRead).toEqual([expect.objectContaining({ call: 'iam:GetAccountAuthorizationDetails', code: 'AccessDenied' })]);
    // What to grant, for the run and for each check it stopped.
    expect(summary.missingPermissions).toEqual(['iam:GetAccountAuthorizationDetails']);
    for (const check of summary.checksInError) expect(check.missingPermissions).toEqual(['iam:GetAccountAuthorizationDetails']);
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
      [METRIC.checksInError]: inError.length,
      [SOURCES_NOT_READ_METRIC]: 1,
      [FINDINGS_METRIC.ERROR]: summary.counts.byStatus.ERROR,
    });
  });
});

describe("the deployment's configuration", () => {
  const cases: { name: string; env: Record<string, string | undefined>; named: RegExp }[] = [
    {
      name: 'AUDITOR_SETTINGS out of range',
      env: { [ENV.settings]: '{"maxKeyAgeDays":0}' },
      named: /AUDITOR_SETTINGS: invalid settings: maxKeyAgeDays: Too small/,
    },
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
