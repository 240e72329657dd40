/**
 * The Lambda handler with the securityHub setting: the import runs after the run is saved and
 * alerted, in the function's region; its outcome is in the returned summary and the metrics; a
 * refused import still returns the saved run, with the failures alerted and counted.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { BatchImportFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createAuditHandler } from '#lib/lambda/audit-handler.ts';
import { ENV, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore } from '#lib/store/store.ts';
import type { Settings } from '#lib/settings.ts';
import { FIXTURE_ACCOUNT_ID, FIXTURE_NOW } from '#test/aws.ts';
import { resetAws } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';
import { lambdaContext } from '#test/lambda.ts';

const ACCOUNT = FIXTURE_ACCOUNT_ID;
const REGION = 'us-east-1';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:account-auditor-alerts`;
const EVENT = {
  version: '0',
  id: 'e',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: ACCOUNT,
  time: '2026-11-01T00:00:00Z',
  region: REGION,
  resources: [],
  detail: {},
};
const context = lambdaContext(REGION);

let local: LocalStore;
let emf: Record<string, unknown>[];
let made: { region: string; settings: Settings }[];
const sns = mockClient(SNSClient);
const hub = mockClient(SecurityHubClient);

function handler(settings: object) {
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  return createAuditHandler({
    dynamodb: local.client,
    sns: new SNSClient({ region: REGION }),
    logger,
    metrics,
    securityHub: (region, s) => {
      made.push({ region, settings: s });
      return new SecurityHubClient({ region });
    },
    env: {
      [ENV.tableName]: local.tableName,
      [ENV.topicArn]: TOPIC,
      [ENV.settings]: JSON.stringify({ regions: [REGION], ...settings }),
      AWS_REGION: REGION,
    },
  });
}

const metricsBlob = () => emf.find((e) => METRIC.durationMs in e)!;
const kinds = () =>
  sns
    .commandCalls(PublishCommand)
    .map((c) => (JSON.parse(JSON.parse(c.args[0].input.Message!).default as string) as { kind: string }).kind);

beforeEach(async () => {
  resetAws(REGION);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIATESTTESTTESTTEST');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(FIXTURE_NOW);
  serveSmallAccount(REGION);
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  hub.reset();
  hub
    .on(BatchImportFindingsCommand)
    .callsFake((input: { Findings: unknown[] }) => ({ FailedCount: 0, SuccessCount: input.Findings.length, FailedFindings: [] }));
  made = [];
  local = await freshTable();
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
});

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await local.close();
});

describe('the handler with securityHub: true', () => {
  it("imports the open findings in the function's region; the summary and the metrics say how many", async () => {
    const summary = await handler({ securityHub: true })(EVENT, context);
    expect(made.map((m) => m.region)).toEqual([REGION]);
    expect(summary.securityHub).toEqual({
      productArn: `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`,
      selected: 3,
      imported: 3,
      archived: 0,
      workflowNew: 3,
      failedCount: 0,
      failed: [],
      alertPublished: false,
    });
    const sent = hub.commandCalls(BatchImportFindingsCommand).flatMap((c) => c.args[0].input.Findings ?? []);
    expect(sent.map((f) => f.ProductArn)).toEqual(Array(3).fill(summary.securityHub!.productArn));
    expect(metricsBlob()).toMatchObject({ [METRIC.securityHubImported]: 3, [METRIC.securityHubFailed]: 0 });
    expect(kinds()).toEqual(['findings']);
  });

  it('a refused import returns the saved run; the failures are in the summary, a second alert and the metric', async () => {
    hub
      .on(BatchImportFindingsCommand)
      .rejects(
        Object.assign(new Error('User is not authorized to perform: securityhub:BatchImportFindings'), { name: 'AccessDeniedException' }),
      );
    const summary = await handler({ securityHub: true })(EVENT, context);
    expect(summary.saved).not.toBeNull();
    expect(
      await new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 }).latestRuns(ACCOUNT),
    ).toHaveLength(1);
    expect(summary.securityHub).toMatchObject({ imported: 0, failedCount: 3, alertPublished: true });
    expect(summary.securityHub!.failed[0]).toMatchObject({ code: 'AccessDeniedException' });
    expect(kinds()).toEqual(['findings', 'security-hub-failed']);
    expect(metricsBlob()).toMatchObject({ [METRIC.runSucceeded]: 1, [METRIC.securityHubImported]: 0, [METRIC.securityHubFailed]: 3 });
  });

  it('off (the default): no client, no call, no Security Hub metrics', async () => {
    const summary = await handler({})(EVENT, context);
    expect(made).toEqual([]);
    expect(hub.commandCalls(BatchImportFindingsCommand)).toHaveLength(0);
    expect(summary.securityHub).toBeNull();
    expect(METRIC.securityHubFailed in metricsBlob()).toBe(false);
  });
});
