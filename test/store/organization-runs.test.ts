import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStore } from '#lib/store/local.ts';
import { fitOrganizationRun, type OrganizationRunRecord } from '#lib/store/organization-runs.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { ITEM_LIMIT_BYTES, jsonBytes } from '#lib/store/size.ts';
import { freshTable } from '#test/dynalite.ts';
import { section } from '#test/digest.ts';

let local: LocalStore;
let store: FindingsStore;
const NOW = Date.parse('2026-11-02T03:00:00.000Z');
beforeEach(async () => {
  local = await freshTable();
  store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 30, now: () => NOW });
});
afterEach(async () => {
  await local.close();
});

const line = (i: number, state: 'complete' | 'incomplete' | 'failed' = 'complete') => ({
  id: String(100_000_000_000 + i),
  name: `account-${i} ${'x'.repeat(60)}`,
  state,
  runId: state === 'failed' ? null : `run-${i}`,
  counts: state === 'failed' ? null : { total: 10, PASS: 9, FAIL: 1, WARN: 0, ERROR: 0 },
  reason: state === 'complete' ? null : `States.Timeout: ${'the task timed out '.repeat(12)}`,
});

function record(startedAt: string, id: string, lines = [line(1), line(2, 'failed')]): OrganizationRunRecord {
  const inError = lines.filter((l) => l.state !== 'complete');
  return {
    organizationRunId: id,
    startedAt,
    summarizedAt: startedAt,
    discovery: { listed: lines.length, active: lines.length, filteredOut: 0, missing: [] },
    accounts: lines.length,
    complete: lines.length - inError.length,
    incomplete: 0,
    failed: inError.length,
    totals: { total: 10, PASS: 9, FAIL: 1, WARN: 0, ERROR: 0 },
    perAccount: lines,
    inError,
    alert: { mode: 'digest', wanted: true, messageId: 'msg-1', reason: '1 account in ERROR' },
  };
}

describe('digest sections', () => {
  it('written per account under the organization run, with the history TTL; read back in one Query', async () => {
    await store.putAccountSection('org-1', section('222222222222', { items: { new: 2 } }));
    await store.putAccountSection('org-1', section('111111111111'));
    await store.putAccountSection('org-2', section('333333333333'));
    // Written twice (a retried invocation): still one section.
    await store.putAccountSection('org-1', section('111111111111'));
    const found = await store.querySections('org-1');
    expect(found.map((s) => s.accountId)).toEqual(['111111111111', '222222222222']);
    expect(found[1]!.section).toEqual(section('222222222222', { items: { new: 2 } }));
    const raw = await local.client.send(
      new (await import('@aws-sdk/client-dynamodb')).GetItemCommand({
        TableName: local.tableName,
        Key: { PK: { S: 'ORGRUN#org-1' }, SK: { S: 'ACCOUNT#111111111111' } },
      }),
    );
    expect(Number(raw.Item!.expiresAt!.N)).toBe(NOW / 1000 + 30 * 86_400);
  });

  it('pages through many sections (more than one 1 MB page)', async () => {
    const big = (i: number) => section(String(100_000_000_000 + i), { items: { new: 150 }, title: 'y'.repeat(200) });
    expect(jsonBytes(big(0))).toBeGreaterThan(50_000);
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.putAccountSection('org-big', big(i))));
    expect((await store.querySections('org-big')).length).toBe(30);
  });

  it('a section over the item limit is refused naming the account, not written', async () => {
    const huge = { ...section('111111111111'), reason: 'z'.repeat(ITEM_LIMIT_BYTES) };
    await expect(store.putAccountSection('org-1', huge)).rejects.toThrow(
      /digest section of account 111111111111 .* over DynamoDB's item limit/,
    );
    expect(await store.querySections('org-1')).toEqual([]);
  });

  it('a damaged section is handed back as stored, for the reader to name', async () => {
    const doc = DynamoDBDocumentClient.from(local.client);
    await doc.send(
      new PutCommand({ TableName: local.tableName, Item: { PK: 'ORGRUN#org-1', SK: 'ACCOUNT#111111111111', section: '{not json' } }),
    );
    expect(await store.querySections('org-1')).toEqual([{ accountId: '111111111111', section: '{not json' }]);
  });
});

describe('organization run records', () => {
  it('listed newest first, limited, each as written; written again: one record', async () => {
    await store.putOrganizationRun(record('2026-11-01T03:00:00.000Z', 'org-a'));
    await store.putOrganizationRun(record('2026-11-03T03:00:00.000Z', 'org-c'));
    await store.putOrganizationRun(record('2026-11-02T03:00:00.000Z', 'org-b'));
    await store.putOrganizationRun(record('2026-11-02T03:00:00.000Z', 'org-b'));
    const runs = await store.listOrganizationRuns({ limit: 2 });
    expect(runs.map((r) => r.organizationRunId)).toEqual(['org-c', 'org-b']);
    expect(runs[1]).toEqual(record('2026-11-02T03:00:00.000Z', 'org-b'));
    expect((await store.listOrganizationRuns()).length).toBe(3);
    expect(await store.getOrganizationRun('2026-11-02T03:00:00.000Z', 'org-b')).toEqual(record('2026-11-02T03:00:00.000Z', 'org-b'));
    expect(await store.getOrganizationRun('2026-11-02T03:00:00.000Z', 'org-x')).toBeNull();
  });

  it('5,000 accounts: cut under 400 KB, the accounts in ERROR kept first, both cuts counted', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => line(i, i % 5 === 0 ? 'failed' : 'complete'));
    const full = record('2026-11-04T03:00:00.000Z', 'org-d', lines);
    expect(jsonBytes(full)).toBeGreaterThan(ITEM_LIMIT_BYTES);
    const fitted = fitOrganizationRun(full);
    expect(jsonBytes(fitted)).toBeLessThan(ITEM_LIMIT_BYTES - 16 * 1024);
    expect(fitted.perAccount.length + fitted.perAccountOmitted!).toBe(5000);
    expect(fitted.inError.length + (fitted.inErrorOmitted ?? 0)).toBe(1000);
    expect(fitted.inError.length).toBeGreaterThan(100);
    expect(fitted.failed).toBe(1000);
    await store.putOrganizationRun(full);
    const [stored] = await store.listOrganizationRuns({ limit: 1 });
    expect(stored).toEqual(fitted);
  });

  it('a bad limit is refused', async () => {
    await expect(store.listOrganizationRuns({ limit: 0 })).rejects.toThrow(/positive integer/);
  });
});
