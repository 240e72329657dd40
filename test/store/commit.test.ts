/**
 * SPEC §4: a finding becomes known only through a run whose record says it completed, and no item
 * exceeds DynamoDB's 400 KB. Each test is the smallest save that shows one class.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore, StoreError } from '#lib/store/store.ts';
import { ITEM_LIMIT_BYTES, jsonBytes } from '#lib/store/size.ts';
import { ACCOUNT, change, dumpTable, reconciledRun, runRecord, stored, T0, T1, T2, userArn } from '#test/store.ts';

const alice = userArn('alice');
const bob = userArn('bob');

let local: LocalStore;
let client: DynamoDBClient;
let store: FindingsStore;

beforeEach(async () => {
  local = await freshTable();
  client = local.client;
  store = new FindingsStore({ client, tableName: local.tableName, historyTtlDays: 400 });
});
afterEach(async () => {
  await local.close();
});

/** Every PutItem of an item of this type fails, as if the process died just before it. */
function failPutsOf(type: string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const item = (args.input as { Item?: { type?: string } }).Item;
      if (context.commandName === 'PutItemCommand' && item?.type === type)
        throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
      return next(args);
    },
    { step: 'initialize', name: `fail-${type}` },
  );
}

const a0 = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0' });
const r0 = reconciledRun(runRecord('r0', T0), [change('new', null, a0)]);
// r1 resolves alice and finds bob.
const a1 = { ...a0, status: 'PASS' as const, lastSeen: T1, lastChanged: T1, resolvedAt: T1, runId: 'r1' };
const b1 = stored('access-key-age', `${bob}#access_key_1`, 'FAIL', { at: T1, runId: 'r1', severity: 'medium' });
const r1 = reconciledRun(runRecord('r1', T1), [change('resolved', 'FAIL', a1), change('new', null, b1)]);

describe('the commit point', () => {
  it('a save that stops before its run record leaves everything as the completed runs left it', async () => {
    await store.saveRun(r0);
    const observed = await store.loadObserved(ACCOUNT);
    failPutsOf('run');

    await expect(store.saveRun(r1)).rejects.toThrow(StoreError);

    // r1's findings, history, observed scopes and account entry are in the table…
    const items = await dumpTable(client, local.tableName);
    expect(items.filter((i) => i.type === 'finding').map((i) => i.runId)).toEqual(['r1', 'r1']);
    expect(items.filter((i) => i.type === 'history')).toHaveLength(3);
    // …and none of it is known: alice is still open, bob unknown, r1 not a run.
    expect(await store.loadState(ACCOUNT)).toEqual(new Map([[a0.id, a0]]));
    expect(await store.loadObserved(ACCOUNT)).toEqual(observed);
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([a0.id]);
    expect((await store.openFindings(ACCOUNT, { severity: 'high' })).map((f) => f.id)).toEqual([a0.id]);
    expect((await store.history(a0.id)).map((h) => h.runId)).toEqual(['r0']);
    expect(await store.history(b1.id)).toEqual([]);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r0']);

    // The same run saved again, once it can complete, is whole.
    client.middlewareStack.remove('fail-run');
    await store.saveRun(r1);
    expect(await store.loadState(ACCOUNT)).toEqual(
      new Map([
        [a1.id, a1],
        [b1.id, b1],
      ]),
    );
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([b1.id]);
    expect((await store.history(a0.id)).map((h) => [h.runId, h.change])).toEqual([
      ['r0', 'new'],
      ['r1', 'resolved'],
    ]);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r1', 'r0']);
  });

  it('a run that never completes is overwritten by the next one, which sees only the completed state', async () => {
    await store.saveRun(r0);
    failPutsOf('run');
    await expect(store.saveRun(r1)).rejects.toThrow(StoreError);
    client.middlewareStack.remove('fail-run');

    // r2, reconciled against the state loadState gave (alice open), sees alice still failing.
    const a2 = { ...a0, lastSeen: T2, runId: 'r2' };
    await store.saveRun(reconciledRun(runRecord('r2', T2), [change('open', 'FAIL', a2)]));

    expect(await store.loadState(ACCOUNT)).toEqual(new Map([[a2.id, a2]]));
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([a2.id]);
    // The committed state it replaced rides in the item as what differs from it, not a copy.
    const prior = JSON.parse(String(itemOf(await dumpTable(client, local.tableName), a2.id)!.prior)) as Record<string, unknown>;
    expect(prior).toEqual({ observedAt: Date.parse(T0), changed: { lastSeen: T0, runId: 'r0' }, absent: [] });
    expect((await store.history(a0.id)).map((h) => h.runId)).toEqual(['r0']);
    expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r2', 'r0']);
  });

  it('a save that stops after its run record counts; what it resolved leaves the index on the next save', async () => {
    await store.saveRun(r0);
    // Every batch after the run record fails: the open index is not brought up to date.
    let committed = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const item = (args.input as { Item?: { type?: string } }).Item;
        if (context.commandName === 'PutItemCommand' && item?.type === 'run') {
          const out = await next(args);
          committed = true;
          return out;
        }
        if (committed && context.commandName === 'BatchWriteItemCommand')
          throw Object.assign(new Error('killed'), { name: 'TimeoutError' });
        return next(args);
      },
      { step: 'initialize', name: 'killAfterCommit' },
    );
    await store.saveRun(r1);

    expect(itemOf(await dumpTable(client, local.tableName), a1.id)).toHaveProperty('GSI1PK');
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([b1.id]);
    expect(await store.loadState(ACCOUNT)).toEqual(
      new Map([
        [a1.id, a1],
        [b1.id, b1],
      ]),
    );

    client.middlewareStack.remove('killAfterCommit');
    const b2 = { ...b1, lastSeen: T2, runId: 'r2' };
    await store.saveRun(reconciledRun(runRecord('r2', T2, { checks: ['access-key-age'] }), [change('open', 'FAIL', b2)]));
    expect(itemOf(await dumpTable(client, local.tableName), a1.id)).not.toHaveProperty('GSI1PK');
    expect((await store.openFindings(ACCOUNT)).map((f) => f.id)).toEqual([b1.id]);
  });
});

const itemOf = (items: Record<string, unknown>[], id: string) => items.find((i) => i.type === 'finding' && i.id === id);

describe('item size', () => {
  it('details over the item limit are cut, counted, and the item stays under 400 KB, its prior included', async () => {
    const statements = Array.from({ length: 4_000 }, (_, i) => ({ sid: `S${i}`, action: 'x'.repeat(200) }));
    const big = stored('user-full-access', alice, 'FAIL', { at: T0, runId: 'r0', details: { user: 'alice', statements } });
    expect(jsonBytes(big.details)).toBeGreaterThan(ITEM_LIMIT_BYTES * 2);
    await store.saveRun(reconciledRun(runRecord('r0', T0), [change('new', null, big)]));
    // Saved again, the item also carries the committed state it replaces: two cut copies.
    await store.saveRun(reconciledRun(runRecord('r1', T1), [change('open', 'FAIL', { ...big, lastSeen: T1, runId: 'r1' })]));

    const details = (await store.loadState(ACCOUNT)).get(big.id)!.details as {
      user: string;
      statements: unknown[];
      detailsTruncated: Record<string, number>;
    };
    expect(details.user).toBe('alice');
    expect(details.statements.length).toBeGreaterThan(0);
    expect(details.detailsTruncated).toEqual({
      originalBytes: jsonBytes(big.details),
      omittedEntries: 4_000 - details.statements.length,
      omittedCharacters: expect.any(Number) as number,
    });
    expect(details.statements[0]).toEqual(statements[0]);
    for (const item of await dumpTable(client, local.tableName)) expect(jsonBytes(item)).toBeLessThan(ITEM_LIMIT_BYTES);
  });

  it('a run record with one reason per ERROR finding of 20,000 is cut, counting the reasons left out', async () => {
    const reasons = Array.from({ length: 20_000 }, (_, i) => `arn:aws:iam::${ACCOUNT}:user/u${i}: missing from the credential report`);
    const run = runRecord('r0', T0, { complete: false, checksInError: [{ checkId: 'access-key-age', reasons }] });
    await store.saveRun(reconciledRun(run, []));
    const [saved] = await store.latestRuns(ACCOUNT);
    const check = saved!.checksInError[0]!;
    expect(check.reasons.length).toBeGreaterThan(0);
    expect(check.reasons.length + check.reasonsOmitted!).toBe(20_000);
    expect(check.reasons[0]).toBe(reasons[0]);
  });
});
