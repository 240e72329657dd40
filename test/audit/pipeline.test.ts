/**
 * The nightly pipeline end to end on the demo account, against dynalite in-process (real
 * DynamoDB semantics): mutes stored and never alerted, an expired mute alerting again, and a
 * third night regressing what the second resolved.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { auditAndRecord, unsavedRun } from '#lib/audit/pipeline.ts';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore, StoreBusyError, StoreError, type StoreOptions } from '#lib/store/store.ts';
import { dumpTable } from '#test/store.ts';

const ZOE = 'arn:aws:iam::123456789012:user/zoe';
const ZOE_ID = `123456789012#user-full-access#${ZOE}`;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:audit';

let local: LocalStore;
let store: FindingsStore;
const sns = mockClient(SNSClient);

beforeEach(async () => {
  local = await freshTable();
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
    topic: { client: new SNSClient({ region: 'eu-west-1' }), topicArn: TOPIC },
  });

/** The JSON (`default`) part of every message published, in order. */
const publishedSummaries = () =>
  sns.commandCalls(PublishCommand).map((c) => JSON.parse((JSON.parse(c.args[0].input.Message!) as { default: string }).default) as Record<string, unknown>);

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

describe('auditAndRecord with a DynamoDB store', () => {
  it('a muted new admin is stored and reported as muted, never alerted', async () => {
    await night(DEMO_DIR);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1); // the first night: everything is new
    const mutes = [{ check: 'user-full-access', resource: 'arn:aws:iam::123456789012:user/z*', reason: 'approved admin, ticket OPS-12' }];
    const next = await night(DEMO_NEXT_DIR, { mutes });
    expect(next.reconciled.run.counts).toMatchObject({ new: 1, muted: 1 });
    expect(next.alert.wanted).toBe(false);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    const open = await store.openFindings('123456789012', { checkId: 'user-full-access' });
    expect(open.find((f) => f.id === ZOE_ID)?.mute).toMatchObject({ reason: 'approved admin, ticket OPS-12' });
  });

  it('an expired mute stops muting: the finding is stored unmuted and the alert goes out', async () => {
    await night(DEMO_DIR);
    const mutes = [{ check: 'user-full-access', resource: ZOE, reason: 'until the migration', expires: '2026-11-02' }];
    // The next snapshot is observed at 2026-11-02T00:00Z: the mute ended at that instant.
    const next = await night(DEMO_NEXT_DIR, { mutes });
    expect(next.reconciled.run.counts.muted).toBe(0);
    expect(next.alert.wanted).toBe(true);
    const publish = sns.commandCalls(PublishCommand).at(-1)!.args[0].input;
    expect(publish.Subject).toContain('1 new (1 critical)');
    expect((await store.openFindings('123456789012')).find((f) => f.id === ZOE_ID)?.mute).toBeNull();
  });

  it('resolved then regressed across three nights, with the history to show it', async () => {
    const legacy = '123456789012#access-key-age#arn:aws:iam::123456789012:user/service/legacy-etl#access_key_1';
    await night(DEMO_DIR);
    await night(DEMO_NEXT_DIR);
    // A third night, an older key shows up again in the same slot: the 2026-11-01 export, re-observed later.
    const third = await auditAndRecord({
      collect: async () => ({ ...(await loadOffline(DEMO_DIR)), collectedAt: '2026-11-03T00:00:00.000Z' }),
      settings: parseSettings({}),
      trigger: 'schedule',
      store,
    });
    expect(third.reconciled.findings.find((r) => r.state.id === legacy)?.change).toBe('regressed');
    expect((await store.history(legacy)).map((h) => h.change)).toEqual(['new', 'resolved', 'regressed']);
  });

  it('a dry run writes nothing and publishes nothing', async () => {
    const dry = await auditAndRecord({ collect: () => loadOffline(DEMO_DIR), settings: parseSettings({}), trigger: 'on-demand', store, dryRun: true, topic: { client: new SNSClient({ region: 'eu-west-1' }), topicArn: TOPIC } });
    expect(dry.saved).toBeNull();
    expect(dry.alert.wanted).toBe(true);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(await store.accounts()).toEqual([]);
  });
});

describe('publishing and saving', () => {
  it('a failed publish saves nothing, so the retry alerts again instead of losing the alert', async () => {
    sns.on(PublishCommand).rejectsOnce(new Error('SNS unavailable')).resolves({ MessageId: 'retry' });
    await expect(night(DEMO_DIR)).rejects.toThrow('SNS unavailable');
    expect(await store.accounts()).toEqual([]);
    const retry = await night(DEMO_DIR);
    expect(retry.alert.messageId).toBe('retry');
    expect(retry.reconciled.run.counts.new).toBe(14);
  });
});

describe('a save that fails part way', () => {
  it('is retried as a whole, so the history of a partial save is completed', async () => {
    const original = store.saveRun.bind(store);
    let calls = 0;
    store.saveRun = async (run) => {
      calls += 1;
      if (calls === 1) {
        const { StoreError } = await import('#lib/store/store.ts');
        throw new StoreError('1 history item still unprocessed', ['history']);
      }
      return original(run);
    };
    const result = await night(DEMO_DIR);
    expect(calls).toBe(2);
    expect(result.saved?.written).toBeGreaterThan(0);
    expect((await store.latestRuns('123456789012')).map((r) => r.runId)).toEqual([result.reconciled.run.runId]);
  });

  it('gives up after SAVE_ATTEMPTS and fails loudly, the alert already published', async () => {
    const { StoreError } = await import('#lib/store/store.ts');
    const { SAVE_ATTEMPTS } = await import('#lib/audit/pipeline.ts');
    let calls = 0;
    store.saveRun = async () => {
      calls += 1;
      throw new StoreError('throttled', ['x']);
    };
    await expect(night(DEMO_DIR)).rejects.toThrow('throttled');
    expect(calls).toBe(SAVE_ATTEMPTS);
    expect(publishedSummaries().map((m) => m.kind)).toEqual(['findings', 'state-not-saved']);
  });
});

describe('a save that stops before its run record (the commit point)', () => {
  it('the failed run is still reported, and the next night reports as new what it found', async () => {
    await night(DEMO_DIR);
    // The night's findings and history are written, the run record never is.
    local.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && (args.input as { Item?: { type?: string } }).Item?.type === 'run') throw Object.assign(new Error('Task timed out'), { name: 'TimeoutError' });
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
