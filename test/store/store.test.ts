import { setTimeout as delay } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReconciledRun, StoredFinding } from '#lib/reconcile/types.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { ensureTable } from '#lib/store/local.ts';
import type { StoreOptions } from '#lib/store/store.ts';
import { FindingsStore, StoreBusyError, StoreError, tableDefinition } from '#lib/store/store.ts';
import {
  ACCOUNT,
  change,
  dumpTable,
  judged,
  reconciledRun,
  recordCommands,
  runRecord,
  stored,
  T0,
  T1,
  T2,
  T3,
  userArn,
} from '#test/store.ts';

const DAY_SECONDS = 86_400;
const alice = userArn('alice');
const bob = userArn('bob');
const carol = userArn('carol');
const dave = userArn('dave');

let local: LocalStore;
let client: DynamoDBClient;

beforeEach(async () => {
  local = await freshTable();
  client = local.client;
});

afterEach(async () => {
  await local.close();
});

function makeStore(options: Partial<StoreOptions> = {}): FindingsStore {
  return new FindingsStore({ client, tableName: local.tableName, historyTtlDays: 400, ...options });
}

const dump = () => dumpTable(client, local.tableName);
const itemOf = (items: Record<string, unknown>[], id: string) => items.find((i) => i.type === 'finding' && i.id === id);

/** One run in which every listed state is new (FAIL/WARN/ERROR) or a new PASS. */
function firstRun(runId: string, at: string, states: StoredFinding[]): ReconciledRun {
  return reconciledRun(
    runRecord(runId, at),
    states.map((s) => change(s.status === 'PASS' ? 'unchanged' : 'new', null, s)),
  );
}

describe('table', () => {
  it('is on-demand, keyed PK/SK, with the sparse "open" GSI projecting everything', async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: local.tableName }));
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual(tableDefinition('x').KeySchema);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus, i.Projection?.ProjectionType])).toEqual([
      ['open', 'ACTIVE', 'ALL'],
    ]);
  });

  it('ensureTable is idempotent, and refuses a table without the open index', async () => {
    await ensureTable(client, local.tableName);
    await client.send(
      new CreateTableCommand({
        TableName: 'someone-elses',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'PK', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }],
      }),
    );
    await expect(ensureTable(client, 'someone-elses')).rejects.toThrow(/without the "open" index/);
  });
});

describe('FindingsStore', () => {
  it('round-trips current state, run records and the account entry', async () => {
    const store = makeStore();
    const muted = stored('access-key-age', `${bob}#access_key_1`, 'WARN', {
      at: T0,
      runId: 'r0',
      severity: 'low',
      mute: { reason: 'rotating next sprint', expires: '2027-01-01', check: 'access-key-age', resource: `${bob}#*` },
    });
    const states = [
      stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0', severity: 'critical' }),
      muted,
      stored('user-full-access', carol, 'PASS', { at: T0, runId: 'r0' }),
    ];
    const run = firstRun('r0', T0, states);

    const result = await store.saveRun(run);

    // carol's PASS has no stored state to follow: it is counted, not written.
    expect(result).toEqual({ written: 2, skippedStale: [], history: 2, compliantNotStored: 1 });
    const state = await store.loadState(ACCOUNT);
    expect(state).toEqual(new Map(states.filter((s) => s.status !== 'PASS').map((s) => [s.id, s])));
    expect(await store.latestRuns(ACCOUNT)).toEqual([run.run]);
    expect(await store.accounts()).toEqual([{ accountId: ACCOUNT, lastRunAt: T0, lastRunId: 'r0' }]);
    expect(await store.loadState('999999999999')).toEqual(new Map());
  });

  it('answers every access pattern with Query alone, never a Scan', async () => {
    const store = makeStore();
    await store.saveRun(firstRun('r0', T0, [stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' })]));
    const sent = recordCommands(client);
    const id = `${ACCOUNT}#user-full-access#${alice}`;

    await store.loadState(ACCOUNT);
    await store.openFindings(ACCOUNT);
    await store.openFindings(ACCOUNT, { severity: 'high', checkId: 'user-full-access' });
    await store.latestRuns(ACCOUNT, 5);
    await store.history(id);
    await store.accounts();

    // One Query per access pattern; loadState, openFindings and history add one key lookup of the
    // run records that wrote what they read (the commit check), never a second Query or a Scan.
    const queries = sent.filter((c) => c.name === 'QueryCommand');
    expect(sent.map((c) => c.name)).toEqual([
      'QueryCommand',
      'GetItemCommand',
      'BatchGetItemCommand',
      'QueryCommand',
      'BatchGetItemCommand',
      'QueryCommand',
      'BatchGetItemCommand',
      'QueryCommand',
      'QueryCommand',
      'BatchGetItemCommand',
      'QueryCommand',
    ]);
    expect(sent.filter((c) => c.name === 'BatchGetItemCommand').map((c) => c.input.RequestItems)).toEqual(
      Array(4).fill({
        [local.tableName]: { Keys: [{ PK: `ACCOUNT#${ACCOUNT}`, SK: `RUN#${T0}#r0` }], ProjectionExpression: 'SK', ConsistentRead: true },
      }),
    );
    expect(queries.map((c) => [c.input.IndexName, c.input.KeyConditionExpression, c.input.FilterExpression])).toEqual([
      [undefined, 'PK = :pk AND begins_with(SK, :prefix)', undefined],
      ['open', 'GSI1PK = :pk', undefined],
      ['open', 'GSI1PK = :pk AND begins_with(GSI1SK, :severity)', 'checkId = :checkId'],
      [undefined, 'PK = :pk AND begins_with(SK, :prefix)', undefined],
      [undefined, 'PK = :pk AND begins_with(SK, :prefix)', undefined],
      [undefined, 'PK = :pk', undefined],
    ]);
    expect(queries[3]!.input).toMatchObject({ ScanIndexForward: false, Limit: 5, ExpressionAttributeValues: { ':prefix': 'RUN#' } });
    expect(queries[4]!.input).toMatchObject({ ExpressionAttributeValues: { ':pk': `FINDING#${id}`, ':prefix': 'HISTORY#' } });

    // Writing: the lease (put, delete), one Query of the stored findings and the commit check of
    // their writers, batch writes, the observed scopes and account entry, then the lease renewed
    // and the run record: the commit point, last.
    sent.length = 0;
    await store.saveRun(firstRun('r1', T1, [stored('user-full-access', bob, 'FAIL', { at: T1, runId: 'r1' })]));
    expect(sent.map((c) => c.name)).toEqual([
      'PutItemCommand', // lease
      'QueryCommand', // stored findings
      'GetItemCommand', // observed scopes
      'BatchGetItemCommand', // which of their writers completed
      'BatchWriteItemCommand', // state
      'BatchWriteItemCommand', // history
      'PutItemCommand', // observed scopes
      'PutItemCommand', // account entry
      'PutItemCommand', // lease renewed
      'PutItemCommand', // run record: the commit point
      'DeleteItemCommand', // lease
    ]);
    expect(sent[1]!.input).toMatchObject({ ConsistentRead: true });
  });

  it('follows Query pages past 1 MB', async () => {
    const store = makeStore();
    const big = 'x'.repeat(20_000);
    const states = Array.from({ length: 60 }, (_, i) =>
      stored('access-key-age', `${userArn(`user${String(i).padStart(3, '0')}`)}#access_key_1`, 'FAIL', {
        at: T0,
        runId: 'r0',
        details: { big },
      }),
    );
    await store.saveRun(firstRun('r0', T0, states));
    const sent = recordCommands(client);

    expect((await store.loadState(ACCOUNT)).size).toBe(60);
    expect((await store.openFindings(ACCOUNT)).length).toBe(60);
    expect(sent.filter((c) => c.name === 'QueryCommand').length).toBeGreaterThanOrEqual(4);
    expect(sent.every((c) => c.name === 'QueryCommand' || c.name === 'BatchGetItemCommand' || c.name === 'GetItemCommand')).toBe(true);
  });

  it('saving the same run twice leaves identical items', async () => {
    const store = makeStore();
    await store.saveRun(
      firstRun('r0', T0, [
        stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' }),
        stored('user-full-access', bob, 'FAIL', { at: T0, runId: 'r0' }),
      ]),
    );
    const run1 = reconciledRun(runRecord('r1', T1), [
      change('resolved', 'FAIL', stored('user-full-access', alice, 'PASS', { at: T1, runId: 'r1', firstSeen: T0, resolvedAt: T1 })),
      change('open', 'FAIL', stored('user-full-access', bob, 'FAIL', { at: T1, runId: 'r1', firstSeen: T0, lastChanged: T0 })),
      change('new', null, stored('access-key-age', `${carol}#access_key_2`, 'WARN', { at: T1, runId: 'r1', severity: 'low' })),
    ]);

    const first = await store.saveRun(run1);
    const after = await dump();
    const second = await store.saveRun(run1);

    expect(await dump()).toEqual(after);
    expect(second).toEqual(first);
    expect(first).toEqual({ written: 3, skippedStale: [], history: 2, compliantNotStored: 0 });
    // r0: 2 findings + 2 history + run; r1: 1 new finding + 2 history + run; 1 account entry; the observed scopes.
    expect(after.map((i) => i.type).sort()).toEqual([
      'account',
      'finding',
      'finding',
      'finding',
      'history',
      'history',
      'history',
      'history',
      'observed',
      'run',
      'run',
    ]);
  });

  it('an older run saved after a newer one changes none of the findings they share, but its run record is stored', async () => {
    const store = makeStore();
    const x = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' });
    const y = stored('access-key-age', `${bob}#access_key_1`, 'FAIL', { at: T0, runId: 'r0', severity: 'medium' });
    await store.saveRun(firstRun('r0', T0, [x, y]));

    // The newer run (T2): x still open, y gone (resolved by absence: its lastSeen stays T0), z new.
    const newer = reconciledRun(runRecord('r2', T2), [
      change('open', 'FAIL', { ...x, lastSeen: T2, runId: 'r2' }),
      change('resolved', 'FAIL', { ...y, resolvedAt: T2, lastChanged: T2, runId: 'r2' }),
      change('new', null, stored('user-full-access', carol, 'FAIL', { at: T2, runId: 'r2' })),
    ]);
    await store.saveRun(newer);
    const before = await dump();

    // The older run (T1) finishes last: it saw x turn WARN, y still open, w failing (the newer
    // run covered user-full-access and stored nothing for w: compliant by then), and, in a
    // check the newer run did not run, v for the first time.
    const w = stored('user-full-access', dave, 'FAIL', { at: T1, runId: 'r1' });
    const v = stored('dax-service-role', `arn:aws:dax:eu-west-1:${ACCOUNT}:cache/orders`, 'FAIL', { at: T1, runId: 'r1' });
    const older = reconciledRun(runRecord('r1', T1, { checks: ['user-full-access', 'access-key-age', 'dax-service-role'] }), [
      change('open', 'FAIL', { ...x, status: 'WARN', lastSeen: T1, lastChanged: T1, runId: 'r1' }),
      change('open', 'FAIL', { ...y, lastSeen: T1, runId: 'r1' }),
      change('new', null, w),
      change('new', null, v),
    ]);
    const result = await store.saveRun(await judged(store, older));

    expect(result.skippedStale.sort()).toEqual([x.id, y.id, w.id].sort());
    expect(result).toMatchObject({ written: 1, history: 1 });
    const after = await dump();
    expect(itemOf(after, x.id)).toEqual(itemOf(before, x.id));
    expect(itemOf(after, y.id)).toEqual(itemOf(before, y.id));
    expect(itemOf(after, w.id)).toBeUndefined();
    expect((await store.loadState(ACCOUNT)).get(v.id)).toEqual(v);
    // y stays resolved although its lastSeen (T0) is older than the stale run's observation (T1).
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id).sort()).toEqual(
      [x.id, v.id, `${ACCOUNT}#user-full-access#${carol}`].sort(),
    );
    // The observed scopes keep the newest time of each: the older run moved none back.
    expect(await store.loadObserved(ACCOUNT)).toEqual(
      new Map([
        ['user-full-access', Date.parse(T2)],
        ['user-full-access@eu-west-1', Date.parse(T2)],
        ['access-key-age', Date.parse(T2)],
        ['access-key-age@eu-west-1', Date.parse(T2)],
        ['dax-service-role', Date.parse(T1)],
        ['dax-service-role@eu-west-1', Date.parse(T1)],
      ]),
    );
    expect((await store.history(x.id)).map((h) => h.runId)).toEqual(['r0']);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r2', 'r1', 'r0']);
    expect(await store.accounts()).toEqual([{ accountId: ACCOUNT, lastRunAt: T2, lastRunId: 'r2' }]);
  });

  it('an older run saved last does not reopen a finding a newer run saw gone, even with nothing to rewrite', async () => {
    const store = makeStore();
    const x = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' });
    await store.saveRun(firstRun('r0', T0, [x]));
    await store.saveRun(
      reconciledRun(runRecord('r1', T1), [change('resolved', 'FAIL', { ...x, resolvedAt: T1, lastChanged: T1, runId: 'r1' })]),
    );
    // T3 covers the check and writes nothing for x (already resolved).
    await store.saveRun(reconciledRun(runRecord('r3', T3), []));
    const before = itemOf(await dump(), x.id);

    const result = await store.saveRun(
      await judged(
        store,
        reconciledRun(runRecord('r2', T2), [change('regressed', 'FAIL', { ...x, lastSeen: T2, lastChanged: T2, runId: 'r2' })]),
      ),
    );

    expect(result.skippedStale).toEqual([x.id]);
    expect(itemOf(await dump(), x.id)).toEqual(before);
  });

  it('latestRuns is newest first and honours the limit', async () => {
    const store = makeStore();
    for (const [id, at] of [
      ['r1', T1],
      ['r3', T3],
      ['r0', T0],
      ['r2', T2],
    ] as const)
      await store.saveRun(reconciledRun(runRecord(id, at), []));
    expect((await store.latestRuns(ACCOUNT, 2)).map((r) => r.runId)).toEqual(['r3', 'r2']);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r3', 'r2', 'r1', 'r0']);
    await expect(store.latestRuns(ACCOUNT, 0)).rejects.toThrow(RangeError);
  });

  it('moves findings in and out of the open index as they open and resolve', async () => {
    const store = makeStore();
    const a = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0', severity: 'critical' });
    const b = stored('access-key-age', `${bob}#access_key_1`, 'WARN', { at: T0, runId: 'r0', severity: 'medium' });
    const c = stored('user-full-access', carol, 'FAIL', { at: T0, runId: 'r0', severity: 'high' });
    const d = stored('root-access-key', `arn:aws:iam::${ACCOUNT}:root`, 'PASS', { at: T0, runId: 'r0', severity: 'low' });
    await store.saveRun(firstRun('r0', T0, [b, d, c, a]));

    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([a.id, c.id, b.id]);
    expect((await store.openFindings(ACCOUNT))[0]).toEqual(a);
    expect((await store.openFindings(ACCOUNT, { severity: 'high' })).map((f) => f.id)).toEqual([c.id]);
    expect(await store.openFindings(ACCOUNT, { severity: 'low' })).toEqual([]);
    expect((await store.openFindings(ACCOUNT, { checkId: 'user-full-access' })).map((f) => f.id)).toEqual([a.id, c.id]);
    expect((await store.openFindings(ACCOUNT, { checkId: 'access-key-age', severity: 'medium' })).map((f) => f.id)).toEqual([b.id]);
    expect(await store.openFindings('999999999999')).toEqual([]);
    let items = await dump();
    expect(itemOf(items, a.id)).toMatchObject({ GSI1PK: `OPEN#${ACCOUNT}`, GSI1SK: `1#user-full-access#${alice}` });
    expect(itemOf(items, b.id)).toMatchObject({ GSI1SK: `3#access-key-age#${bob}#access_key_1` });
    expect(itemOf(items, d.id)).toBeUndefined(); // a PASS never open is not stored

    // a fixed (PASS), c gone from a complete run (resolved, status kept), b still open.
    await store.saveRun(
      reconciledRun(runRecord('r1', T1), [
        change('resolved', 'FAIL', { ...a, status: 'PASS', lastSeen: T1, lastChanged: T1, resolvedAt: T1, runId: 'r1' }),
        change('resolved', 'FAIL', { ...c, resolvedAt: T1, lastChanged: T1, runId: 'r1' }),
        change('open', 'WARN', { ...b, lastSeen: T1, runId: 'r1' }),
      ]),
    );
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([b.id]);
    items = await dump();
    for (const id of [a.id, c.id]) {
      expect(itemOf(items, id)).not.toHaveProperty('GSI1PK');
      expect(itemOf(items, id)).not.toHaveProperty('GSI1SK');
    }

    // a regresses.
    await store.saveRun(
      reconciledRun(runRecord('r2', T2), [change('regressed', 'PASS', { ...a, lastSeen: T2, lastChanged: T2, runId: 'r2' })]),
    );
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([a.id, b.id]);
    expect((await store.openFindings(ACCOUNT, { severity: 'critical' }))[0]).toMatchObject({ id: a.id, runId: 'r2', resolvedAt: null });
  });

  it('keeps one history item per change of status, oldest first, expiring historyTtlDays after it', async () => {
    const store = makeStore({ historyTtlDays: 30 });
    const a = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' });
    const k = stored('access-key-age', `${bob}#access_key_1`, 'WARN', { at: T0, runId: 'r0', severity: 'low' });
    const e = stored('user-full-access', carol, 'FAIL', { at: T0, runId: 'r0' });
    const p = stored('user-full-access', dave, 'PASS', { at: T0, runId: 'r0' });
    await store.saveRun(firstRun('r0', T0, [a, k, e, p]));
    await store.saveRun(
      reconciledRun(runRecord('r1', T1), [
        change('resolved', 'FAIL', { ...a, status: 'PASS', lastSeen: T1, lastChanged: T1, resolvedAt: T1, runId: 'r1' }),
        change('open', 'WARN', { ...k, lastSeen: T1, runId: 'r1' }), // no change of status: no item
        change('open', 'FAIL', { ...e, status: 'ERROR', lastSeen: T1, lastChanged: T1, runId: 'r1' }), // still open, but FAIL -> ERROR
        change('unchanged', 'PASS', { ...p, resolvedAt: T1, runId: 'r1' }), // gone while PASS
      ]),
    );
    await store.saveRun(
      reconciledRun(runRecord('r2', T2), [
        change('regressed', 'PASS', { ...a, lastSeen: T2, lastChanged: T2, runId: 'r2' }),
        change('regressed', 'WARN', { ...k, status: 'FAIL', severity: 'medium', lastSeen: T2, lastChanged: T2, runId: 'r2' }),
      ]),
    );

    expect(await store.history(a.id)).toEqual([
      { findingId: a.id, at: T0, runId: 'r0', change: 'new', status: 'FAIL', previousStatus: null, severity: 'high', title: a.title },
      {
        findingId: a.id,
        at: T1,
        runId: 'r1',
        change: 'resolved',
        status: 'PASS',
        previousStatus: 'FAIL',
        severity: 'high',
        title: a.title,
      },
      {
        findingId: a.id,
        at: T2,
        runId: 'r2',
        change: 'regressed',
        status: 'FAIL',
        previousStatus: 'PASS',
        severity: 'high',
        title: a.title,
      },
    ]);
    expect((await store.history(k.id)).map((h) => [h.runId, h.change, h.status, h.severity])).toEqual([
      ['r0', 'new', 'WARN', 'low'],
      ['r2', 'regressed', 'FAIL', 'medium'],
    ]);
    expect((await store.history(e.id)).map((h) => [h.runId, h.change, h.previousStatus, h.status])).toEqual([
      ['r0', 'new', null, 'FAIL'],
      ['r1', 'open', 'FAIL', 'ERROR'],
    ]);
    expect(await store.history(p.id)).toEqual([]);

    const history = (await dump()).filter((i) => i.type === 'history');
    expect(history).toHaveLength(7);
    for (const item of history) {
      expect(item.expiresAt).toBe(Date.parse(String(item.at)) / 1000 + 30 * DAY_SECONDS);
      expect(item.PK).toBe(`FINDING#${String(item.findingId)}`);
      expect(item.SK).toBe(`HISTORY#${String(item.at)}#${String(item.runId)}`);
    }
  });

  it('runs the batch writes with bounded concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        try {
          await delay(5);
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize', name: 'countInFlight' },
    );
    const store = makeStore({ concurrency: 3 });
    const states = Array.from({ length: 120 }, (_, i) => stored('user-full-access', userArn(`u${i}`), 'FAIL', { at: T0, runId: 'r0' }));

    expect(await store.saveRun(firstRun('r0', T0, states))).toMatchObject({ written: 120, history: 120 });
    expect(peak).toBe(3);
  });
});

describe('the write lease', () => {
  /** A store whose clock the test moves, and whose waits move it too (no real sleeping). */
  function clocked(start: number, options: Partial<StoreOptions> = {}) {
    const clock = { now: start, waits: [] as number[] };
    const store = makeStore({
      leaseMs: 60_000,
      leaseWaitMs: 10_000,
      now: () => clock.now,
      sleep: async (ms) => {
        clock.waits.push(ms);
        clock.now += ms;
      },
      ...options,
    });
    return { store, clock };
  }
  const START = Date.parse(T1);

  it('lets one run at a time write an account: the other waits, then is refused with the holder named', async () => {
    const { store, clock } = clocked(START);
    const lease = await store.acquireLease(ACCOUNT, 'r1');
    expect(lease).toEqual({ accountId: ACCOUNT, runId: 'r1', until: START + 60_000 });
    const before = await dump();

    const error = (await store
      .saveRun(firstRun('r2', T2, [stored('user-full-access', alice, 'FAIL', { at: T2, runId: 'r2' })]))
      .catch((e: unknown) => e)) as StoreBusyError;

    expect(error).toBeInstanceOf(StoreBusyError);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toBe(
      `account ${ACCOUNT} is being saved by run r1 (lease until ${new Date(START + 60_000).toISOString()}); nothing was saved, run again after that`,
    );
    // It waited (with growing backoff) for about leaseWaitMs before giving up, and wrote nothing.
    expect(clock.now - START).toBeGreaterThanOrEqual(10_000);
    expect(clock.waits.length).toBeGreaterThan(3);
    expect(await dump()).toEqual(before);
    // Another account is not blocked.
    expect((await store.acquireLease('999999999999', 'r2')).runId).toBe('r2');
  });

  it('a run waiting for the lease gets it as soon as the holder releases it', async () => {
    const { store } = clocked(START);
    const lease = await store.acquireLease(ACCOUNT, 'r1');
    const waiting = store.saveRun(firstRun('r2', T2, [stored('user-full-access', alice, 'FAIL', { at: T2, runId: 'r2' })]));
    await store.releaseLease(lease);
    expect(await waiting).toMatchObject({ written: 1 });
    expect((await dump()).filter((i) => i.type === 'lease')).toEqual([]);
  });

  it('a lease left by a crashed run is taken over once it ends; the same run renews its own', async () => {
    const { store, clock } = clocked(START);
    await store.acquireLease(ACCOUNT, 'crashed');
    clock.now = START + 60_001;
    const lease = await store.acquireLease(ACCOUNT, 'r2', { wait: false });
    expect(lease.runId).toBe('r2');
    clock.now += 30_000;
    expect((await store.acquireLease(ACCOUNT, 'r2', { wait: false })).until).toBe(clock.now + 60_000);
    // The crashed run's late release does not free r2's lease.
    await store.releaseLease({ accountId: ACCOUNT, runId: 'crashed', until: 0 });
    await expect(store.acquireLease(ACCOUNT, 'r3', { wait: false })).rejects.toThrow(/being saved by run r2/);
  });

  it('an exclusive store (local mode, behind its lock file) takes over any lease at once', async () => {
    await makeStore().acquireLease(ACCOUNT, 'killed-cli-run');
    const { store } = clocked(START, { exclusive: true });
    expect(await store.saveRun(firstRun('r1', T1, [stored('user-full-access', alice, 'FAIL', { at: T1, runId: 'r1' })]))).toMatchObject({
      written: 1,
    });
  });

  it('a lease another run took and released since is lost too: renewing needs this run to still hold it', async () => {
    const { store } = clocked(START);
    const mine = await store.acquireLease(ACCOUNT, 'r1');
    await store.releaseLease(mine); // as if another run had taken it after expiry and finished
    await expect(
      store.saveRun(firstRun('r1', T1, [stored('user-full-access', alice, 'FAIL', { at: T1, runId: 'r1' })]), { lease: mine }),
    ).rejects.toThrow(StoreBusyError);
    expect((await dump()).filter((i) => i.type === 'finding')).toEqual([]);
  });

  it('a save whose lease was lost to another run writes nothing', async () => {
    const { store, clock } = clocked(START);
    const mine = await store.acquireLease(ACCOUNT, 'r1');
    clock.now = mine.until + 1;
    await store.acquireLease(ACCOUNT, 'r2', { wait: false });
    const before = await dump();
    await expect(
      store.saveRun(firstRun('r1', T1, [stored('user-full-access', alice, 'FAIL', { at: T1, runId: 'r1' })]), { lease: mine }),
    ).rejects.toThrow(StoreBusyError);
    expect(await dump()).toEqual(before);
  });
});

describe('BatchWriteItem retries', () => {
  interface Injection {
    /** BatchWriteItem calls still to answer with leftovers. */
    remaining: number;
    /** Of each such call, how many requests actually reach the table. */
    keep: (requests: number) => number;
    calls: number[];
  }

  /**
   * Makes the first `remaining` BatchWriteItem calls hand back part of their requests as
   * UnprocessedItems, as DynamoDB does under load: the rest really is written.
   */
  function injectUnprocessed(injection: Injection): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        const input = args.input as { RequestItems: Record<string, unknown[]> };
        const [table, requests] = Object.entries(input.RequestItems)[0]!;
        injection.calls.push(requests.length);
        if (injection.remaining <= 0) return next(args);
        injection.remaining -= 1;
        const kept = requests.slice(0, injection.keep(requests.length));
        const left = requests.slice(kept.length);
        if (kept.length > 0) await next({ ...args, input: { ...input, RequestItems: { [table]: kept } } });
        return { output: { $metadata: {}, UnprocessedItems: { [table]: left } }, response: {} } as never;
      },
      { step: 'initialize', name: 'injectUnprocessed' },
    );
  }

  const states = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      stored('user-full-access', userArn(`u${String(i).padStart(2, '0')}`), 'FAIL', { at: T0, runId: 'r0' }),
    );

  it('retries UnprocessedItems with growing, jittered waits until everything is written', async () => {
    const injection: Injection = { remaining: 3, keep: (n) => Math.floor(n / 2), calls: [] };
    injectUnprocessed(injection);
    const waits: number[] = [];
    const store = makeStore({ concurrency: 1, sleep: async (ms) => void waits.push(ms) });
    const findings = states(30);

    const result = await store.saveRun(firstRun('r0', T0, findings));

    expect(result).toEqual({ written: 30, skippedStale: [], history: 30, compliantNotStored: 0 });
    // States in batches of 25 and 5, the first losing half three times (25 -> 13 -> 7 -> 4 -> done); then history.
    expect(injection.calls).toEqual([25, 13, 7, 4, 5, 25, 5]);
    expect(waits).toHaveLength(3);
    // Equal jitter: retry n waits between half and all of 50 ms * 2^(n-1).
    waits.forEach((ms, i) => {
      const window = 50 * 2 ** i;
      expect(ms).toBeGreaterThanOrEqual(window / 2);
      expect(ms).toBeLessThanOrEqual(window);
    });
    for (const f of findings) expect(await store.history(f.id)).toHaveLength(1);
  });

  it('fails loudly with StoreError when items stay unprocessed, losing nothing already written', async () => {
    const injection: Injection = { remaining: Number.POSITIVE_INFINITY, keep: () => 0, calls: [] };
    injectUnprocessed(injection);
    const waits: number[] = [];
    const store = makeStore({ maxBatchAttempts: 4, sleep: async (ms) => void waits.push(ms), random: () => 0.5 });
    const findings = states(30);
    const run = firstRun('r0', T0, findings);

    const error: unknown = await store.saveRun(run).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreError);
    const storeError = error as StoreError;
    expect(storeError.message).toMatch(/run r0 was not fully stored: 30 of 30 items failed/);
    expect(storeError.message).toMatch(/and 20 more/);
    expect(storeError.failedItems).toHaveLength(30);
    expect(storeError.failedItems[0]).toMatch(
      /^finding 123456789012#user-full-access#arn:aws:iam::123456789012:user\/u\d\d \(still unprocessed after 4 attempts\)$/,
    );
    // Two batches of state, four attempts each; no history is written for states that were not.
    expect(injection.calls).toHaveLength(8);
    expect(waits.sort((x, y) => x - y)).toEqual([38, 38, 75, 75, 150, 150]);
    // Nothing was stored, and no run record claims a run that was not fully stored.
    expect(await store.loadState(ACCOUNT)).toEqual(new Map());
    expect(await store.latestRuns(ACCOUNT)).toEqual([]);
    expect(await store.accounts()).toEqual([]);

    // Saving the same run again, once DynamoDB cooperates, repairs it.
    injection.remaining = 0;
    expect(await store.saveRun(run)).toEqual({ written: 30, skippedStale: [], history: 30, compliantNotStored: 0 });
    expect(await store.history(findings[7]!.id)).toHaveLength(1);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r0']);
  });

  it('any other failure under the lease (a read, the run record) is a StoreError too, so the run is retried and alerted', async () => {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'QueryCommand')
          throw Object.assign(new Error('not authorized to perform dynamodb:Query'), { name: 'AccessDeniedException' });
        return next(args);
      },
      { step: 'initialize', name: 'denyQuery' },
    );
    const error = await makeStore()
      .saveRun(firstRun('r0', T0, states(3)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toBe(
      'run r0 was not fully stored (AccessDeniedException: not authorized to perform dynamodb:Query); saving the same run again is safe',
    );
    expect((error as StoreError).cause).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('a batch refused for a reason one item cannot cause (AccessDenied) is not retried item by item', async () => {
    const sent = recordCommands(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchWriteItemCommand')
          throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
        return next(args);
      },
      { step: 'initialize', name: 'denyBatches' },
    );
    const error = (await makeStore()
      .saveRun(firstRun('r0', T0, states(30)))
      .catch((e: unknown) => e)) as StoreError;
    expect(error.failedItems).toHaveLength(30);
    expect(error.failedItems[0]).toMatch(/\(AccessDeniedException: not authorized\)$/);
    // The lease only: no put per finding.
    expect(sent.filter((c) => c.name === 'PutItemCommand')).toHaveLength(1);
  });

  it('names the findings whose state could not be written, and writes no history for them', async () => {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        // DynamoDB rejects a whole batch for one oversized item, and the item alone when put.
        const input = args.input as {
          Item?: { resource?: string };
          RequestItems?: Record<string, { PutRequest: { Item: { resource?: string } } }[]>;
        };
        if (context.commandName !== 'PutItemCommand' && context.commandName !== 'BatchWriteItemCommand') return next(args);
        const items = input.Item
          ? [input.Item]
          : Object.values(input.RequestItems ?? {})
              .flat()
              .map((r) => r.PutRequest.Item);
        if (items.some((item) => item.resource === bob)) {
          throw Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'rejectBob' },
    );
    const store = makeStore();
    const a = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' });
    const b = stored('user-full-access', bob, 'FAIL', { at: T0, runId: 'r0' });

    const error = (await store.saveRun(firstRun('r0', T0, [a, b])).catch((e: unknown) => e)) as StoreError;

    expect(error).toBeInstanceOf(StoreError);
    expect(error.failedItems).toEqual([`finding ${b.id} (ValidationException: Item size has exceeded the maximum allowed size)`]);
    expect(error.message).toMatch(/1 of 3 items failed/);
    // Alice's state and history were written, Bob's neither; as the run did not complete, none of
    // it is known yet (SPEC §4: a finding becomes known only through a completed run).
    const items = await dump();
    expect(items.filter((i) => i.type === 'finding').map((i) => i.resource)).toEqual([alice]);
    expect(items.filter((i) => i.type === 'history').map((i) => i.findingId)).toEqual([a.id]);
    expect(await store.loadState(ACCOUNT)).toEqual(new Map());
    expect(await store.history(a.id)).toEqual([]);
    expect(await store.history(b.id)).toEqual([]);
  });
});
