/**
 * The Security Hub import: 100 findings a call; throttled calls retried by the SDK's retry
 * strategy; FailedFindings retried one by one when retryable; everything not imported reported,
 * never dropped. And in the pipeline: only after the run is saved and alerted, archiving only what
 * the run's scope resolved, Workflow NEW only for new findings, firstSeen never reset.
 */
import { Readable } from 'node:stream';
import { BatchImportFindingsCommand, SecurityHubClient, type AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditAndRecord } from '#lib/audit/pipeline.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import type { ReconciledFinding, ReconciledRun, StoredFinding } from '#lib/reconcile/types.ts';
import { BATCH_SIZE, FAILED_FINDING_RETRIES, selectForSecurityHub, syncSecurityHub } from '#lib/securityhub/sync.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore } from '#lib/store/store.ts';

const AT = '2026-11-02T00:00:00.000Z';
const TARGET = { partition: 'aws', region: 'eu-west-1', now: '2026-11-02T01:00:00.000Z' };
const noSleep = async () => {};

function state(i: number, overrides: Partial<StoredFinding> = {}): StoredFinding {
  const resource = `arn:aws:iam::123456789012:user/u${i}`;
  return {
    id: `123456789012#user-full-access#${resource}`,
    accountId: '123456789012',
    checkId: 'user-full-access',
    resource,
    status: 'FAIL',
    severity: 'high',
    title: `u${i} has full access`,
    details: {},
    firstSeen: '2026-10-01T00:00:00.000Z',
    lastSeen: AT,
    lastChanged: AT,
    resolvedAt: null,
    runId: 'run-2',
    mute: null,
    ...overrides,
  };
}

/** A reconciled finding without its observed finding and staleness: this run saw each one, none stale. */
type Seen = Omit<ReconciledFinding, 'finding' | 'stale'>;

function run(findings: Seen[]): ReconciledRun {
  return {
    run: { runId: 'run-2', accountId: '123456789012', partition: 'aws', collectedAt: AT } as ReconciledRun['run'],
    findings: findings.map((f) => ({ ...f, finding: f.state, stale: false })),
  };
}

const open = (n: number): Seen[] =>
  Array.from({ length: n }, (_, i) => ({ change: 'open', previousStatus: 'FAIL', previousSeverity: 'high', state: state(i) }));

/** A real client whose HTTP layer answers from `respond`: the SDK's own retry strategy runs. */
function httpClient(
  respond: (body: { Findings: AwsSecurityFinding[] }) => { status: number; body: object; errorType?: string },
  maxAttempts = 3,
) {
  const requests: { Findings: AwsSecurityFinding[] }[] = [];
  const client = new SecurityHubClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts,
    requestHandler: {
      handle: async (request: { body?: string }) => {
        const body = JSON.parse(String(request.body)) as { Findings: AwsSecurityFinding[] };
        requests.push(body);
        const answer = respond(body);
        return {
          response: {
            statusCode: answer.status,
            headers: { 'content-type': 'application/json', ...(answer.errorType ? { 'x-amzn-errortype': answer.errorType } : {}) },
            body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
          },
        };
      },
    } as never,
  });
  return { client, requests };
}

const ok = (body: { Findings: AwsSecurityFinding[] }) => ({
  status: 200,
  body: { FailedCount: 0, SuccessCount: body.Findings.length, FailedFindings: [] },
});

describe('syncSecurityHub', () => {
  it('sends 100 findings a call', async () => {
    const { client, requests } = httpClient(ok);
    const result = await syncSecurityHub(run(open(250)), { client, target: TARGET, sleep: noSleep });
    expect(requests.map((r) => r.Findings.length)).toEqual([BATCH_SIZE, BATCH_SIZE, 50]);
    expect(result).toMatchObject({ selected: 250, imported: 250, failed: [], calls: 3, retried: 0 });
  });

  it('a throttled call is retried by the SDK and then imports', async () => {
    let calls = 0;
    const { client, requests } = httpClient((body) =>
      ++calls <= 2 ? { status: 429, errorType: 'TooManyRequestsException', body: { message: 'Rate exceeded' } } : ok(body),
    );
    const result = await syncSecurityHub(run(open(3)), { client, target: TARGET, sleep: noSleep });
    expect(requests).toHaveLength(3);
    expect(result).toMatchObject({ imported: 3, failed: [], calls: 1 });
  });

  it('a call still throttled after the SDK gave up reports every finding of its batch, and the other batches go on', async () => {
    let calls = 0;
    const { client } = httpClient(
      (body) => (++calls <= 2 ? { status: 429, errorType: 'TooManyRequestsException', body: { message: 'Rate exceeded' } } : ok(body)),
      2,
    );
    const result = await syncSecurityHub(run(open(150)), { client, target: TARGET, sleep: noSleep });
    expect(result.imported).toBe(50);
    expect(result.failed).toHaveLength(100);
    expect(result.failed[0]).toMatchObject({ code: 'TooManyRequestsException' });
  });

  it('FailedFindings: retryable ones are sent again one by one, the others reported', async () => {
    const items = open(5);
    const ids = items.map((r) => r.state.id);
    let round = 0;
    const { client, requests } = httpClient((body) => {
      round += 1;
      const failed =
        round === 1
          ? [
              { Id: ids[1], ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
              { Id: ids[2], ErrorCode: 'InternalError', ErrorMessage: 'try again' },
              { Id: ids[3], ErrorCode: 'InvalidInput', ErrorMessage: 'Finding does not adhere to ASFF' },
            ]
          : [];
      return {
        status: 200,
        body: { FailedCount: failed.length, SuccessCount: body.Findings.length - failed.length, FailedFindings: failed },
      };
    });
    const result = await syncSecurityHub(run(items), { client, target: TARGET, sleep: noSleep });
    expect(requests.map((r) => r.Findings.map((f) => f.Id))).toEqual([ids, [ids[1], ids[2]]]);
    expect(result).toMatchObject({ imported: 4, retried: 2, calls: 2 });
    expect(result.failed).toEqual([{ id: ids[3], code: 'InvalidInput', message: 'Finding does not adhere to ASFF' }]);
  });

  it('a finding that stays throttled is reported after the last retry round', async () => {
    const items = open(2);
    const { client, requests } = httpClient((body) => ({
      status: 200,
      body: {
        FailedCount: 1,
        SuccessCount: body.Findings.length - 1,
        FailedFindings: [{ Id: items[0]!.state.id, ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }],
      },
    }));
    const result = await syncSecurityHub(run(items), { client, target: TARGET, sleep: noSleep });
    expect(requests).toHaveLength(1 + FAILED_FINDING_RETRIES);
    expect(result.imported).toBe(1);
    expect(result.failed).toEqual([{ id: items[0]!.state.id, code: 'ThrottlingException', message: 'slow down' }]);
  });

  it('a finding the validator refuses is reported with the field, and never sent', async () => {
    const items = [
      ...open(1),
      { change: 'new' as const, previousStatus: null, previousSeverity: null, state: state(9, { accountId: 'not-an-account' }) },
    ];
    const { client, requests } = httpClient(ok);
    const result = await syncSecurityHub(run(items), { client, target: TARGET, sleep: noSleep });
    expect(requests.flatMap((r) => r.Findings)).toHaveLength(1);
    expect(result.failed).toEqual([{ id: items[1]!.state.id, code: 'ValidationFailed', message: expect.stringContaining('AwsAccountId') }]);
  });

  it('a denied call (Security Hub not enabled, no permission) reports every finding', async () => {
    const { client } = httpClient(() => ({
      status: 403,
      errorType: 'AccessDeniedException',
      body: { message: 'not authorized to perform securityhub:BatchImportFindings' },
    }));
    const result = await syncSecurityHub(run(open(3)), { client, target: TARGET, sleep: noSleep });
    expect(result.imported).toBe(0);
    expect(result.failed.map((f) => f.code)).toEqual(['AccessDeniedException', 'AccessDeniedException', 'AccessDeniedException']);
  });

  it('selects open findings this run saw and those it resolved; never a PASS that was never open, nor one a newer run stored', () => {
    const items: Seen[] = [
      { change: 'new', previousStatus: null, previousSeverity: null, state: state(1) },
      { change: 'unchanged', previousStatus: null, previousSeverity: null, state: state(2, { status: 'PASS' }) },
      { change: 'resolved', previousStatus: 'FAIL', previousSeverity: 'high', state: state(3, { status: 'PASS', resolvedAt: AT }) },
      {
        change: 'resolved',
        previousStatus: 'WARN',
        previousSeverity: 'low',
        state: state(4, { lastSeen: '2026-11-01T00:00:00.000Z', resolvedAt: AT }),
      },
      { change: 'open', previousStatus: 'FAIL', previousSeverity: 'high', state: state(5) },
    ];
    expect(selectForSecurityHub(run(items)).map((i) => i.state.id)).toEqual(
      [items[0], items[2], items[3], items[4]].map((r) => r!.state.id),
    );
    expect(selectForSecurityHub(run(items), new Set([items[4]!.state.id])).map((i) => i.state.id)).not.toContain(items[4]!.state.id);
  });
});

describe('the pipeline with Security Hub on', () => {
  let local: LocalStore;
  let store: FindingsStore;
  // Mocks every SecurityHubClient's send while this block runs; restored after each test.
  const mockHub = () => mockClient(SecurityHubClient);
  const mockSns = () => mockClient(SNSClient);
  let hub: ReturnType<typeof mockHub>;
  let sns: ReturnType<typeof mockSns>;
  const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:audit';

  beforeEach(async () => {
    local = await freshTable();
    store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
    hub = mockHub();
    sns = mockSns();
    hub
      .on(BatchImportFindingsCommand)
      .callsFake((input: { Findings: unknown[] }) => ({ FailedCount: 0, SuccessCount: input.Findings.length, FailedFindings: [] }));
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
  });
  afterEach(async () => {
    hub.restore();
    sns.restore();
    await local.close();
  });

  const night = (dir: string, settings: SettingsInput = {}) =>
    auditAndRecord({
      collect: () => loadOffline(dir),
      settings: parseSettings({ securityHub: true, ...settings }),
      trigger: 'schedule',
      store,
      publisher: snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC),
      securityHub: { client: new SecurityHubClient({ region: 'eu-west-1' }), region: 'eu-west-1', sleep: noSleep },
    });
  const sent = () => hub.commandCalls(BatchImportFindingsCommand).flatMap((c) => c.args[0].input.Findings ?? []);

  it('night 1 imports the open findings as NEW; night 2 archives the resolved ones with their first FirstObservedAt and no Workflow', async () => {
    const first = await night(DEMO_DIR);
    const night1 = sent();
    expect(first.securityHub).toMatchObject({ failed: [], imported: night1.length, alertMessageId: null });
    expect(night1.length).toBe(
      first.reconciled.run.counts.byStatus.FAIL + first.reconciled.run.counts.byStatus.WARN + first.reconciled.run.counts.byStatus.ERROR,
    );
    expect(night1.every((f) => f.Workflow?.Status === 'NEW' && f.RecordState === 'ACTIVE')).toBe(true);
    const firstObserved = new Map(night1.map((f) => [f.Id!, f.FirstObservedAt]));

    hub.resetHistory();
    const second = await night(DEMO_NEXT_DIR);
    const night2 = sent();
    const archived = night2.filter((f) => f.RecordState === 'ARCHIVED');
    expect(archived.length).toBe(second.reconciled.run.counts.resolved);
    expect(archived.length).toBeGreaterThan(0);
    for (const f of archived) {
      expect(f.Compliance?.Status).toBe('PASSED');
      expect(f.Workflow).toBeUndefined();
      expect(f.FirstObservedAt).toBe(firstObserved.get(f.Id!));
      expect(f.CreatedAt).toBe(firstObserved.get(f.Id!));
    }
    for (const f of night2.filter((x) => firstObserved.has(x.Id!))) {
      expect(f.FirstObservedAt).toBe(firstObserved.get(f.Id!));
      expect(f.Workflow).toBeUndefined();
    }
    const news = night2.filter((f) => f.Workflow !== undefined);
    expect(news.map((f) => f.Id)).toEqual(second.reconciled.findings.filter((r) => r.change === 'new').map((r) => r.state.id));
  });

  it('a run narrowed to one check archives nothing outside it', async () => {
    await night(DEMO_DIR);
    hub.resetHistory();
    await night(DEMO_NEXT_DIR, { checks: ['access-key-age'] });
    const findings = sent();
    expect(findings.length).toBeGreaterThan(0);
    expect(new Set(findings.map((f) => f.GeneratorId))).toEqual(new Set(['access-key-age']));
  });

  it('a Security Hub failure never loses the run: saved and alerted first, then reported in the result and its own alert', async () => {
    hub
      .on(BatchImportFindingsCommand)
      .rejects(Object.assign(new Error('Account 123456789012 is not subscribed to AWS Security Hub'), { name: 'InvalidAccessException' }));
    const p = await night(DEMO_DIR);
    expect(p.saved).not.toBeNull();
    expect((await store.openFindings('123456789012')).length).toBeGreaterThan(0);
    expect(p.securityHub!.imported).toBe(0);
    expect(p.securityHub!.failed.length).toBeGreaterThan(0);
    expect(p.securityHub!.failed[0]).toMatchObject({ code: 'InvalidAccessException' });
    const published = sns
      .commandCalls(PublishCommand)
      .map((c) => JSON.parse(JSON.parse(c.args[0].input.Message!).default as string) as { kind: string; failedCount?: number });
    expect(published.map((m) => m.kind)).toEqual(['findings', 'security-hub-failed']);
    expect(published[1]!.failedCount).toBe(p.securityHub!.failed.length);
    expect(p.securityHub!.alertMessageId).toBe('m');
  });

  it('a dry run imports nothing', async () => {
    const p = await auditAndRecord({
      collect: () => loadOffline(DEMO_DIR),
      settings: parseSettings({ securityHub: true }),
      trigger: 'on-demand',
      store,
      dryRun: true,
      securityHub: { client: new SecurityHubClient({ region: 'eu-west-1' }), region: 'eu-west-1' },
    });
    expect(p.securityHub).toBeNull();
    expect(sent()).toHaveLength(0);
  });
});
