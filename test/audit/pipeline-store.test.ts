/**
 * The nightly pipeline end to end on the demo account, against dynalite in-process (real
 * DynamoDB semantics) and SNS mocked at the SDK: a save that stops before its commit point,
 * storage faults, a busy lease, an older snapshot saved last. The rest of the pipeline's
 * behaviour, on the in-memory repository: pipeline.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { auditAndRecord, unsavedRun } from '#lib/audit/pipeline.ts';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import { startLocalStore, type LocalStore } from '#lib/store/local.ts';
import { FindingsStore, StoreBusyError, StoreError, type StoreOptions } from '#lib/store/store.ts';
import { dumpTable } from '#test/store.ts';

const ZOE = 'arn:aws:iam::123456789012:user/zoe';
const ZOE_ID = `123456789012#user-full-access#${ZOE}`;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:audit';

let local: LocalStore;
let store: FindingsStore;
const sns = mockClient(SNSClient);

beforeEach(async () => {
  local = await startLocalStore(null);
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});
afterEach(async () => {
  await local.close();
});

const night = (dir: string, settings: SettingsInput = {}, on: FindingsStore = store) =>
  auditAndRecord({
    collect: () => loadOffline(dir),
    settings: parseSettings(settings),
    trigger: 'schedule',
    store: on,
    publisher: snsPublisher(new SNSClient({ region: 'eu-west-1' }), TOPIC),
  });

/** The JSON (`default`) part of every message published, in order. */
const publishedSummaries = () =>
  sns
    .commandCalls(PublishCommand)
    .map((c) => JSON.parse((JSON.parse(c.args[0].input.Message!) as { default: string }).default) as Record<string, unknown>);

/** A store on the same table that never sleeps between its retries. */
const fastStore = (options: Partial<StoreOptions> = {}) =>
  new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400, sleep: async () => {}, ...options });

/** Makes every matching DynamoDB command answer `fault` instead of reaching the table. */
function injectFault(commandName: string, fault: (input: Record<string, unknown>) => unknown): void {
  local.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== commandName) return next(args);
      return fault(args.input as Record<string, unknown>) as never;
    },
    { step: 'initialize', name: `fault-${commandName}` },
  );
}

describe('a save that stops before its run record (the commit point)', () => {
  it('the failed run is still reported, and the next night reports as new what it found', async () => {
    await night(DEMO_DIR);
    // The night's findings and history are written, the run record never is.
    local.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && (args.input as { Item?: { type?: string } }).Item?.type === 'run')
          throw Object.assign(new Error('Task timed out'), { name: 'TimeoutError' });
        return next(args);
      },
      { step: 'initialize', name: 'noRunRecord' },
    );
    const error = await night(DEMO_NEXT_DIR, {}, fastStore()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    const report = unsavedRun(error)!;
    expect(report.notSaved).toBe(error);
    expect(report.reconciled.findings.filter((r) => r.change === 'new').map((r) => r.state.id)).toEqual([ZOE_ID]);
    expect(report.alert.messageId).toBe('m');
    expect(unsavedRun(new Error('other'))).toBeNull();

    local.client.middlewareStack.remove('noRunRecord');
    const again = await night(DEMO_NEXT_DIR);
    expect(again.reconciled.findings.filter((r) => r.change === 'new').map((r) => r.state.id)).toEqual([ZOE_ID]);
    expect(again.alert.wanted).toBe(true);
  });
});

describe('storage faults: the run fails loudly, the alert still goes out saying state was not saved, nothing stored is damaged', () => {
  const faults: [string, string, (input: Record<string, unknown>) => unknown][] = [
    [
      'UnprocessedItems forever',
      'BatchWriteItemCommand',
      (input) => ({ output: { $metadata: {}, UnprocessedItems: input.RequestItems }, response: {} }),
    ],
    [
      'throttled writes, beyond every retry',
      'BatchWriteItemCommand',
      () => {
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' });
      },
    ],
  ];
  const denied = () => {
    throw Object.assign(new Error('User is not authorized to perform this action on the table'), { name: 'AccessDeniedException' });
  };

  it.each([
    ...faults.map(([name, command, fault]) => [name, () => injectFault(command, fault)] as const),
    [
      // A refused batch falls back to one put per item: refused too, each one named.
      'writes refused (a role without BatchWriteItem or PutItem on findings)',
      () => {
        injectFault('BatchWriteItemCommand', denied);
        local.client.middlewareStack.add(
          (next, context) => async (args) => {
            const item = (args.input as { Item?: { type?: string } }).Item;
            if (context.commandName === 'PutItemCommand' && item?.type !== 'lease') denied();
            return next(args);
          },
          { step: 'initialize', name: 'denyPuts' },
        );
      },
    ] as const,
  ])('%s', async (_name, inject) => {
    await night(DEMO_DIR);
    const before = await dumpTable(local.client, local.tableName);
    sns.resetHistory();
    inject();

    const error = await night(DEMO_NEXT_DIR, {}, fastStore({ maxBatchAttempts: 2 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/^run .* was not fully stored: \d+ of \d+ items failed/);
    // The night's own alert (zoe is new), then the one saying its state was not saved.
    expect(publishedSummaries().map((m) => m.kind)).toEqual(['findings', 'state-not-saved']);
    const notSaved = sns.commandCalls(PublishCommand)[1]!.args[0].input;
    expect(notSaved.Subject).toMatch(/run state NOT saved/);
    expect(publishedSummaries()[1]).toMatchObject({ stateSaved: false, accountId: '123456789012', error: { name: 'StoreError' } });
    // Batches write nothing here, so the table is exactly as before: no finding, history or run record of the failed night.
    expect(await dumpTable(local.client, local.tableName)).toEqual(before);
  });

  it('a fault on some batches only: what was written is whole, nothing else changed, and saving the run again completes it', async () => {
    await night(DEMO_DIR);
    const before = await dumpTable(local.client, local.tableName);
    // Every second batch is refused for good: part of the night is written.
    let calls = 0;
    local.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand' || ++calls % 2 === 1) return next(args);
        const input = args.input as { RequestItems: unknown };
        return { output: { $metadata: {}, UnprocessedItems: input.RequestItems }, response: {} } as never;
      },
      { step: 'initialize', name: 'halfFault' },
    );
    await expect(night(DEMO_NEXT_DIR, {}, fastStore({ maxBatchAttempts: 1, concurrency: 1 }))).rejects.toThrow(StoreError);
    const after = await dumpTable(local.client, local.tableName);
    // Every item is either untouched or one whole item of the failed night; no run record for it.
    const key = (i: Record<string, unknown>) => `${String(i.PK)} ${String(i.SK)}`;
    const old = new Map(before.map((i) => [key(i), i]));
    for (const item of after) {
      const was = old.get(key(item));
      if (was && JSON.stringify(was) === JSON.stringify(item)) continue;
      expect(['finding', 'history']).toContain(item.type);
      expect(item.runId).not.toBe(before.find((i) => i.type === 'run')!.runId);
    }
    expect(after.filter((i) => i.type === 'run')).toEqual(before.filter((i) => i.type === 'run'));
    local.client.middlewareStack.remove('halfFault');
    const again = await night(DEMO_NEXT_DIR);
    expect(again.saved).toMatchObject({ skippedStale: [] });
    expect((await store.latestRuns('123456789012')).length).toBe(2);
  });

  it('a lease that cannot be taken at all (PutItem denied) still alerts, then says state was not saved', async () => {
    await night(DEMO_DIR);
    const before = await dumpTable(local.client, local.tableName);
    sns.resetHistory();
    injectFault('PutItemCommand', denied);
    const error = await night(DEMO_NEXT_DIR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(/could not take account 123456789012's write lease \(AccessDeniedException: /);
    expect(publishedSummaries().map((m) => m.kind)).toEqual(['findings', 'state-not-saved']);
    expect(publishedSummaries()[1]).toMatchObject({ nothingWritten: true });
    expect(await dumpTable(local.client, local.tableName)).toEqual(before);
  });

  it('an overlapping run holding the lease: this run is refused after waiting, writes nothing, and says so', async () => {
    await night(DEMO_DIR);
    await store.acquireLease('123456789012', 'the-other-run');
    const before = await dumpTable(local.client, local.tableName);
    sns.resetHistory();

    const error = await night(DEMO_NEXT_DIR, {}, fastStore({ leaseWaitMs: 50 })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreBusyError);
    expect((error as Error).message).toMatch(/being saved by run the-other-run/);
    expect(publishedSummaries().map((m) => m.kind)).toEqual(['findings', 'state-not-saved']);
    expect(publishedSummaries()[1]).toMatchObject({ nothingWritten: true, error: { name: 'StoreBusyError' } });
    expect(await dumpTable(local.client, local.tableName)).toEqual(before);
  });

  it('an older snapshot saved after a newer one is a clean skip: no error, nothing new, nothing overwritten', async () => {
    await night(DEMO_NEXT_DIR);
    const before = (await dumpTable(local.client, local.tableName)).filter((i) => i.type === 'finding');
    sns.resetHistory();

    const stale = await night(DEMO_DIR);

    expect(stale.reconciled.run.counts).toMatchObject({ new: 0, regressed: 0, resolved: 0 });
    expect(stale.saved!.skippedStale.length).toBeGreaterThan(0);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect((await dumpTable(local.client, local.tableName)).filter((i) => i.type === 'finding')).toEqual(before);
  });
});
