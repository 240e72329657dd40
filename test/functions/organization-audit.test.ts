/**
 * The audit function as the organization state machine's per-account step: a Distributed Map
 * item in, one account audited through its member role (credentials faked, AWS mocked at the SDK
 * boundary), the organization context read from a real dynalite table, the summary the map's
 * ResultSelector reads out. Per-account and digest alerts, a role that cannot be assumed, a
 * missing context, and a malformed item.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AccountAudited, createAuditHandler } from '#lib/lambda/audit-handler.ts';
import { ENV, METRICS_NAMESPACE, SERVICE_NAME } from '#lib/lambda/contract.ts';
import { PayloadError, parseEvent } from '#lib/lambda/event.ts';
import type { AuditSummary } from '#lib/lambda/summary.ts';
import { ORGANIZATION_ENV, type MapItem } from '#lib/organization/contract.ts';
import { parseSettings } from '#lib/settings.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { OrganizationContextStore } from '#lib/store/organization-context.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { FIXTURE_ACCOUNT_ID, FIXTURE_NOW } from '#test/aws.ts';
import { freshTable } from '#test/dynalite.ts';
import { lambdaContext } from '#test/lambda.ts';
import { resetAws } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';

const ACCOUNT = FIXTURE_ACCOUNT_ID;
const REGION = 'us-east-1';
const TOPIC = `arn:aws:sns:${REGION}:999999999999:account-auditor-alerts`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/AccountAuditorMemberRole`;
const RUN = '20261101T030000123Z-nightly-8f2e';
const ITEM: MapItem = { organizationRunId: RUN, account: { id: ACCOUNT, name: 'payments', roleArn: ROLE, guardrails: null } };
const sns = mockClient(SNSClient);
const context = lambdaContext(REGION);

let local: LocalStore;
let store: FindingsStore;

beforeEach(async () => {
  resetAws(REGION);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIATESTTESTTESTTEST');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(FIXTURE_NOW);
  serveSmallAccount(REGION);
  // The metrics (EMF) are the single-account tests' subject, not these.
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  local = await freshTable();
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
});

afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await local.close();
});

async function writeContext(): Promise<void> {
  await new OrganizationContextStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 }).writeContext(
    { organizationRunId: RUN, organizationId: 'o-abcdefghij', managementAccountId: '111111111111', accountIds: ['111111111111', ACCOUNT] },
    new Map(),
  );
}

const assumed = vi.fn(async () => ({
  accessKeyId: 'ASIA',
  secretAccessKey: 's',
  sessionToken: 't',
  expiration: new Date(FIXTURE_NOW.getTime() + 3_600_000),
}));

function handler(
  alerts: 'digest' | 'per-account',
  extra: Parameters<typeof createAuditHandler>[0] extends infer D ? Partial<D> : never = {},
) {
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' });
  return createAuditHandler({
    dynamodb: local.client,
    sns: new SNSClient({ region: REGION }),
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger }),
    env: {
      [ENV.tableName]: local.tableName,
      [ENV.topicArn]: TOPIC,
      [ENV.settings]: JSON.stringify({ regions: [REGION] }),
      [ORGANIZATION_ENV.settings]: JSON.stringify({ alerts }),
      AWS_REGION: REGION,
    },
    credentialsFor: () => assumed,
    ...extra,
  });
}

/** What the state machine's ResultSelector keeps of the summary (infra/organization-stack.ts). */
function selected(summary: AuditSummary) {
  return { runId: summary.runId, complete: summary.complete, counts: summary.counts };
}

describe('a Distributed Map item', () => {
  it('per-account alerts: audits the account through its role, with the organization check, and publishes its alert', async () => {
    await writeContext();
    const summary = await handler('per-account')(ITEM, context);
    expect(summary).toMatchObject({
      accountId: ACCOUNT,
      organization: { organizationRunId: RUN, accountName: 'payments', state: 'complete', alerts: 'per-account' },
    });
    expect(selected(summary)).toEqual({
      runId: expect.any(String),
      complete: true,
      counts: expect.objectContaining({ total: expect.any(Number) }),
    });
    expect(summary.checks).toContain('organization');
    expect(assumed).toHaveBeenCalled();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual([summary.runId]);
  });

  it('a role that cannot be assumed: one ERROR organization finding, the run saved and alerted, the summary incomplete', async () => {
    await writeContext();
    const denied = Object.assign(new Error(`not authorized to perform: sts:AssumeRole on resource: ${ROLE}`), { name: 'AccessDenied' });
    const summary = await handler('per-account', { credentialsFor: () => async () => Promise.reject(denied) })(ITEM, context);
    expect(summary.organization?.state).toBe('failed');
    expect(summary.checks).toEqual(['organization']);
    expect(summary.complete).toBe(false);
    expect(summary.counts).toMatchObject({ total: 1, byStatus: { ERROR: 1, PASS: 0, FAIL: 0, WARN: 0 } });
    expect(summary.checksInError).toMatchObject([{ checkId: 'organization', reasons: [expect.stringContaining(ROLE)] }]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(await store.latestRuns(ACCOUNT)).toHaveLength(1);
  });

  it('digest alerts: the account’s alert goes to onAccountAudited before its run is saved, nothing to SNS', async () => {
    await writeContext();
    const sections: { audited: AccountAudited; runsSaved: number }[] = [];
    const onAccountAudited = async (audited: AccountAudited) => {
      sections.push({ audited, runsSaved: (await store.latestRuns(ACCOUNT)).length });
      return { messageId: 'section' };
    };
    const summary = await handler('digest', { onAccountAudited })(ITEM, context);
    expect(sections).toHaveLength(1);
    expect(sections[0]!.runsSaved).toBe(0);
    expect(sections[0]!.audited.item).toEqual(ITEM);
    expect(sections[0]!.audited.alert.subject).toContain(ACCOUNT);
    expect(summary.alert).toMatchObject({ published: true, messageId: 'section' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(await store.latestRuns(ACCOUNT)).toHaveLength(1);
  });

  it('digest alerts with no section writer wired: the alert is published on its own, never lost', async () => {
    await writeContext();
    await handler('digest')(ITEM, context);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('no organization context in the table: the SCPs are unknown, so the full-access checks say ERROR naming why', async () => {
    const summary = await handler('per-account')(
      { ...ITEM, account: { ...ITEM.account, guardrails: 'GUARDRAILS#0123456789abcdef' } },
      context,
    );
    expect(summary.complete).toBe(false);
    const inError = summary.checksInError.map((c) => c.checkId);
    expect(inError).toEqual(expect.arrayContaining(['user-full-access', 'role-full-access']));
    expect(JSON.stringify(summary.checksInError)).toContain('CONTEXT');
  });
});

describe('parseEvent: map items', () => {
  const deployed = { tableName: 't', topicArn: TOPIC, settings: parseSettings({}), defaultRegion: REGION };

  it('an item is the deployed settings on one account, as the nightly schedule', () => {
    expect(parseEvent(ITEM, deployed)).toEqual({
      trigger: 'schedule',
      settings: deployed.settings,
      dryRun: false,
      notify: true,
      mapItem: ITEM,
    });
  });

  it.each([
    [{ organizationRunId: RUN, account: { ...ITEM.account, id: '1234' } }, 'account.id: must be a 12-digit AWS account ID'],
    [{ organizationRunId: RUN, account: { ...ITEM.account, roleArn: 'role/x' } }, 'account.roleArn: must be an IAM role ARN'],
    [
      { organizationRunId: RUN, account: { ...ITEM.account, guardrails: 'SCP' } },
      'account.guardrails: must be GUARDRAILS# and 16 hex digits',
    ],
    [{ organizationRunId: RUN, account: { ...ITEM.account, region: 'x' } }, 'account.region: not a field of a map item'],
    [{ account: ITEM.account }, 'organizationRunId: '],
    [{ organizationRunId: RUN }, 'account: '],
  ])('a bad item is refused naming the field (%#)', (item, problem) => {
    let error: unknown;
    try {
      parseEvent(item, deployed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PayloadError);
    expect((error as PayloadError).problems.join('\n')).toContain(problem);
  });
});
