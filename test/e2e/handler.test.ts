/**
 * The deployed artifact end to end: the function bundle CDK staged during `npm run synth`, run in
 * a plain `node` process with the environment the template gives it, against moto's IAM, STS,
 * ElastiCache, DAX, DynamoDB, SNS and SQS. The table is created as the template defines it; the
 * topic has an SQS subscriber, which receives what a machine subscriber would.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CreateUserCommand, AttachUserPolicyCommand } from '@aws-sdk/client-iam';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertSummary } from '#lib/notify/alert.ts';
import { accountPk, historyPk } from '#lib/store/keys.ts';
import type { AuditSummary } from '#lib/lambda/summary.ts';
import { childEnv, clients, motoEndpoint } from './harness/aws.ts';
import { expectVerdicts, NIGHT_1, NIGHT_2, NIGHT_2_NEW, NIGHT_2_RESOLVED, type FindingLike } from './harness/expected.ts';
import { ACCOUNT_ID, motoControl, REGION } from './harness/moto.ts';
import { ADMIN_POLICY_ARN, arnOf, changeAccount, seedAccount, type SeededAccount, topicWithQueue } from './harness/seed.ts';
import { createTableAsDefined, functionBundle, onlyResource, resolve, template } from './harness/template.ts';

const TABLE = 'account-auditor-findings';
const TOPIC = 'account-auditor-alerts';

let home: string;
let seeded: SeededAccount;
let topicArn: string;
let queueUrl: string;
let env: NodeJS.ProcessEnv;
let bundle: ReturnType<typeof functionBundle>;
const c = () => clients();

/**
 * One invocation in a fresh `node` (a cold start): imports the bundle, calls its handler with the
 * event and a Lambda-like context, and returns what the handler returned or threw.
 */
type Outcome = ({ ok: true; result: AuditSummary } | { ok: false; name: string; message: string }) & { metrics: Record<string, number> };

/** The metrics the invocation emitted: Powertools writes them to stdout in CloudWatch's embedded metric format. */
function emittedMetrics(stdout: string): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let record: any;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    for (const group of record?._aws?.CloudWatchMetrics ?? []) {
      if (group.Namespace !== 'AccountAuditor') continue;
      for (const { Name } of group.Metrics) metrics[Name] = record[Name];
    }
  }
  return metrics;
}

async function invoke(event: unknown): Promise<Outcome> {
  const resultFile = join(home, `result-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const script = `
    import { writeFileSync } from 'node:fs';
    const [moduleUrl, exportName, event, resultFile] = process.argv.slice(1);
    const context = {
      functionName: 'account-auditor', functionVersion: '$LATEST', memoryLimitInMB: '1024',
      invokedFunctionArn: 'arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:account-auditor',
      awsRequestId: '00000000-0000-4000-8000-000000000000', logGroupName: '/aws/lambda/account-auditor',
      logStreamName: 'e2e', callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 600000,
      done() {}, fail() {}, succeed() {},
    };
    const mod = await import(moduleUrl);
    try {
      const result = await mod[exportName](JSON.parse(event), context);
      writeFileSync(resultFile, JSON.stringify({ ok: true, result }));
    } catch (error) {
      writeFileSync(resultFile, JSON.stringify({ ok: false, name: error.name, message: error.message }));
    }
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', script, pathToFileURL(bundle.file).href, bundle.handler, JSON.stringify(event), resultFile],
    { env, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (process.env.E2E_DEBUG) console.log(stdout);
  return { ...JSON.parse(await readFile(resultFile, 'utf8')), metrics: emittedMetrics(stdout) };
}

let lastMetrics: Record<string, number> = {};

async function invokeOk(event: unknown): Promise<AuditSummary> {
  const outcome = await invoke(event);
  if (!outcome.ok) throw new Error(`the handler failed: ${outcome.name}: ${outcome.message}`);
  lastMetrics = outcome.metrics;
  return outcome.result;
}

const scheduledEvent = () => ({
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: ACCOUNT_ID,
  time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  region: REGION,
  resources: [`arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/account-auditor-nightly`],
  detail: {},
});

/** Every item of the account's partition, as stored. */
async function accountItems(): Promise<Record<string, any>[]> {
  const doc = DynamoDBDocumentClient.from(c().dynamodb);
  const items: Record<string, any>[] = [];
  let ExclusiveStartKey: Record<string, any> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': accountPk(ACCOUNT_ID) },
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** A finding's history items, oldest first (one Query, as SPEC 4 wants). */
async function findingHistory(findingId: string): Promise<Record<string, any>[]> {
  const doc = DynamoDBDocumentClient.from(c().dynamodb);
  const page = await doc.send(
    new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': historyPk(findingId) } }),
  );
  return (page.Items ?? []).filter((i) => i.type === 'history');
}

interface Delivered {
  subject: string;
  messageId: string;
  summary: AlertSummary;
  attributes: Record<string, { Type: string; Value: string }>;
}

/** What the SQS subscriber received: SNS's envelope with the message's `default` part. */
async function delivered(): Promise<Delivered[]> {
  return (await c().sqs.drain(queueUrl)).map((m) => {
    const envelope = JSON.parse(m.Body) as {
      Subject: string;
      MessageId: string;
      Message: string;
      MessageAttributes: Delivered['attributes'];
      TopicArn: string;
    };
    expect(envelope.TopicArn).toBe(topicArn);
    return {
      subject: envelope.Subject,
      messageId: envelope.MessageId,
      summary: JSON.parse(envelope.Message) as AlertSummary,
      attributes: envelope.MessageAttributes,
    };
  });
}

/** Every message published to the topic, whole (both parts), from moto's record of the topic. */
async function published(): Promise<{ messageId: string; structure: { default: string; email: string } }[]> {
  return (await motoControl(motoEndpoint()).published(topicArn)).map(({ messageId, message }) => ({
    messageId,
    structure: JSON.parse(message),
  }));
}

const brief = (items: { checkId: string; resource: string }[]) => items.map(({ checkId, resource }) => ({ checkId, resource }));

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'aa-e2e-handler-'));
  const moto = motoControl(motoEndpoint());
  await moto.reset();
  await moto.enforceIam(Infinity);
  await moto.awsFidelity(true);
  const tpl = template();
  bundle = functionBundle(tpl);
  const table = await createTableAsDefined(c().dynamodb, tpl, TABLE);
  ({ topicArn, queueUrl } = await topicWithQueue(c(), TOPIC));
  const physical = {
    [onlyResource(tpl, 'AWS::DynamoDB::Table').id]: { ref: TABLE, arn: table.arn },
    [onlyResource(tpl, 'AWS::SNS::Topic').id]: { ref: topicArn, arn: topicArn },
  };
  const deployed = resolve(bundle.environment, physical) as Record<string, string>;
  // The deployed settings, plus a short credential report wait: moto answers the first
  // GenerateCredentialReport with STARTED, and the default 60 s bound would wait 8.6 s to poll.
  const settings = { ...JSON.parse(deployed.AUDITOR_SETTINGS!), reportWaitSeconds: 2 };
  env = childEnv(home, undefined, { ...deployed, AUDITOR_SETTINGS: JSON.stringify(settings), AWS_LAMBDA_FUNCTION_NAME: 'account-auditor' });
  seeded = await seedAccount(c(), motoEndpoint());
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('the bundled handler against moto', () => {
  it('runs the deployed settings: the template audits its own region', () => {
    expect(JSON.parse(env.AUDITOR_SETTINGS!)).toMatchObject({ regions: [REGION] });
    expect(env.TABLE_NAME).toBe(TABLE);
    expect(env.TOPIC_ARN).toBe(topicArn);
  });

  it('night 1 (schedule): SPEC 3 findings and the run record stored, one alert delivered with both parts and its attributes', async () => {
    const summary = await invokeOk(scheduledEvent());
    expect(summary).toMatchObject({ trigger: 'schedule', complete: true, dryRun: false, accountId: ACCOUNT_ID, checksInError: [] });
    expect(summary.alert).toMatchObject({ wanted: true, published: true });

    // SPEC 6: findings by status and severity, checks in ERROR, duration.
    expect(lastMetrics).toMatchObject({
      RunSucceeded: 1,
      ChecksInError: 0,
      FindingsFAIL: NIGHT_1.filter((e) => e.status === 'FAIL').length,
      FindingsERROR: 0,
      FindingsWARN: 1,
      FailFindingsCritical: 1,
      FailFindingsHigh: NIGHT_1.filter((e) => e.status === 'FAIL' && e.severity === 'high').length,
      NewFindings: summary.counts.new + summary.counts.regressed,
    });
    expect(lastMetrics.AuditDuration).toBeGreaterThan(0);

    // The table: the run record, and every finding that is not compliant, as SPEC 3 decides it.
    const items = await accountItems();
    const runs = items.filter((i) => i.type === 'run');
    expect(runs).toHaveLength(1);
    // SPEC 4: trigger, start and end, counts by status and severity, checks in ERROR, new / resolved counts.
    expect(runs[0]).toMatchObject({
      runId: summary.runId,
      trigger: 'schedule',
      complete: true,
      startedAt: expect.any(String),
      endedAt: expect.any(String),
      checksInError: [],
      counts: expect.objectContaining({
        byStatus: expect.any(Object),
        failBySeverity: expect.any(Object),
        new: NIGHT_1.filter((e) => e.status !== 'PASS').length,
        resolved: 0,
      }),
    });
    const stored = items.filter((i) => i.type === 'finding') as FindingLike[];
    const notCompliant = NIGHT_1.filter((e) => e.status !== 'PASS');
    expectVerdicts(
      stored.filter((f) => f.status !== 'PASS'),
      notCompliant,
    );
    for (const f of stored.filter((x) => x.status === 'PASS'))
      expect(NIGHT_1.some((e) => e.checkId === f.checkId && e.status === 'PASS')).toBe(true);

    // The alert, as the SQS subscriber got it: subject, JSON summary, filterable attributes.
    const [message, ...more] = await delivered();
    expect(more).toEqual([]);
    expect(message!.messageId).toBe(summary.alert.messageId);
    expect(message!.subject.length).toBeLessThanOrEqual(100);
    expect(message!.subject).toContain(ACCOUNT_ID);
    const failing = NIGHT_1.filter((e) => e.status === 'FAIL');
    expect(message!.subject).toContain(`${failing.length} new`);
    expect(brief(message!.summary.new).sort(byKey)).toEqual(brief(failing as { checkId: string; resource: string }[]).sort(byKey));
    expect(message!.summary).toMatchObject({
      accountId: ACCOUNT_ID,
      runId: summary.runId,
      complete: true,
      highestSeverity: 'critical',
      resolved: [],
    });
    expect(message!.attributes).toMatchObject({
      accountId: { Type: 'String', Value: ACCOUNT_ID },
      highestSeverity: { Type: 'String', Value: 'critical' },
      complete: { Type: 'String', Value: 'true' },
      newCount: { Type: 'Number', Value: String(failing.length) },
      resolvedCount: { Type: 'Number', Value: '0' },
    });

    // The whole message as published: the email part is readable text naming each new finding and its fix.
    const [whole] = await published();
    expect(whole!.messageId).toBe(message!.messageId);
    expect(JSON.parse(whole!.structure.default)).toEqual(message!.summary);
    const email = whole!.structure.email;
    for (const f of message!.summary.new) {
      expect(email).toContain(f.resource);
      expect(email).toContain(f.checkId);
      if (f.remediation) expect(email).toContain(f.remediation);
    }
    expect(email).toContain('aws iam');
  });

  it('night 2, after bob became an admin and rotated his key: the alert lists exactly the new and the resolved', async () => {
    await changeAccount(c(), seeded);
    const before = (await published()).length;
    const summary = await invokeOk(scheduledEvent());
    expect(summary).toMatchObject({ complete: true, counts: expect.objectContaining({ new: 1, resolved: 1 }) });

    const [message, ...more] = await delivered();
    expect(more).toEqual([]);
    expect(brief([...message!.summary.new, ...message!.summary.regressed])).toEqual(NIGHT_2_NEW);
    expect(brief(message!.summary.resolved)).toEqual(NIGHT_2_RESOLVED);
    expect(message!.attributes).toMatchObject({
      newCount: { Value: '1' },
      resolvedCount: { Value: '1' },
      highestSeverity: { Value: 'critical' },
    });
    const whole = (await published())[before]!;
    expect(whole.messageId).toBe(message!.messageId);
    // The email lists the same: bob's new full access with its fix, his old key resolved.
    const email = whole.structure.email;
    const section = (title: string) => email.slice(email.indexOf(`\n${title} (`), email.indexOf('\n\n', email.indexOf(`\n${title} (`) + 1));
    expect(section('NEW')).toMatch(new RegExp(`^\\nNEW \\(1\\)\\n.*CRITICAL.*user-full-access ${arnOf.user('bob')}\\n`));
    expect(section('NEW')).toContain(`aws iam detach-user-policy --user-name bob --policy-arn ${ADMIN_POLICY_ARN}`);
    expect(section('RESOLVED')).toMatch(new RegExp(`^\\nRESOLVED \\(1\\)\\n.*access-key-age ${arnOf.user('bob')}#access_key_1\\n`));
    expect(section('STILL OPEN')).toContain(arnOf.user('alice'));

    // The stored state follows: bob's user finding FAIL, his old key's finding resolved.
    const stored = (await accountItems()).filter((i) => i.type === 'finding') as (FindingLike & { resolvedAt?: string })[];
    const bob = stored.find((f) => f.checkId === 'user-full-access' && f.resource === arnOf.user('bob'))!;
    expect(bob).toMatchObject({ status: 'FAIL', severity: 'critical' });
    const key = stored.find((f) => f.checkId === 'access-key-age' && f.resource === `${arnOf.user('bob')}#access_key_1`)!;
    expect(key.resolvedAt).toBeTruthy();
    expectVerdicts(
      stored.filter((f) => f.status !== 'PASS'),
      NIGHT_2.filter((e) => e.status !== 'PASS'),
    );
    expect((await accountItems()).filter((i) => i.type === 'run')).toHaveLength(2);

    // SPEC 4: one history item per change of status, expiring through the TTL attribute.
    const history = await findingHistory(`${ACCOUNT_ID}#access-key-age#${arnOf.user('bob')}#access_key_1`);
    expect(history.map((h) => h.status)).toEqual(['FAIL', 'PASS']);
    const ttl = onlyResource(template(), 'AWS::DynamoDB::Table').properties.TimeToLiveSpecification.AttributeName as string;
    for (const h of history) expect(h[ttl]).toBeGreaterThan(Date.now() / 1000);
  });

  it('on demand with dryRun: the summary says what is new, and nothing is written or published', async () => {
    await c().iam.send(new CreateUserCommand({ UserName: 'eve' }));
    await c().iam.send(new AttachUserPolicyCommand({ UserName: 'eve', PolicyArn: ADMIN_POLICY_ARN }));
    const itemsBefore = await accountItems();
    const publishedBefore = (await published()).length;

    const summary = await invokeOk({ dryRun: true });
    expect(summary).toMatchObject({ dryRun: true, saved: null, trigger: 'on-demand' });
    expect(summary.alert).toMatchObject({ wanted: true, published: false, messageId: null, skipped: 'dry run' });
    expect(brief(summary.newFindings)).toEqual([{ checkId: 'user-full-access', resource: arnOf.user('eve') }]);

    // A dry run reports its duration only: its counts are not in the nightly series.
    expect(lastMetrics.RunSucceeded).toBeUndefined();
    expect(lastMetrics.AuditDuration).toBeGreaterThan(0);
    expect(await accountItems()).toEqual(itemsBefore);
    expect(await delivered()).toEqual([]);
    expect((await published()).length).toBe(publishedBefore);
  });
});

function byKey(a: { checkId: string; resource: string }, b: { checkId: string; resource: string }): number {
  return `${a.checkId} ${a.resource}`.localeCompare(`${b.checkId} ${b.resource}`);
}
