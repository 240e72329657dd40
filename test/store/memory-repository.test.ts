/**
 * The in-memory repository the unit tests use (test/support/fakes.ts) answers as FindingsStore
 * does: the same runs, reconciled against each and saved under a lease, leave the same known
 * state, open findings, history, runs and accounts in both.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FindingsRepository } from '#lib/audit/ports.ts';
import { runAudit } from '#lib/audit/run.ts';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import { parseSettings } from '#lib/settings.ts';
import { startLocalStore, type LocalStore } from '#lib/store/local.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { MemoryFindingsRepository } from '#test/fakes.ts';

const ACCOUNT = '123456789012';

let local: LocalStore;
beforeEach(async () => {
  local = await startLocalStore(null);
});
afterEach(async () => {
  await local.close();
});

/** Each repository's reading of everything it holds. */
async function everything(repository: FindingsStore | MemoryFindingsRepository) {
  const known = await repository.loadKnown(ACCOUNT);
  const ids = [...known.state.keys()].sort();
  return {
    known,
    open: await repository.openFindings(ACCOUNT),
    openCritical: await repository.openFindings(ACCOUNT, { severity: 'critical' }),
    openOfCheck: await repository.openFindings(ACCOUNT, { checkId: 'access-key-age' }),
    history: await Promise.all(ids.map((id) => repository.history(id))),
    runs: await repository.latestRuns(ACCOUNT),
    accounts: await repository.accounts(),
  };
}

describe('MemoryFindingsRepository', () => {
  it('after each night (new, next, an older one saved last, one re-observed later, a narrowed one) holds what FindingsStore holds', async () => {
    const mutes = [{ check: 'user-full-access', resource: 'arn:aws:iam::123456789012:user/z*', reason: 'approved' }];
    const later = (dir: string, collectedAt: string) => async () => ({ ...(await loadOffline(dir)), collectedAt });
    const nights = [
      { collect: () => loadOffline(DEMO_DIR), settings: parseSettings({ mutes }) },
      { collect: () => loadOffline(DEMO_NEXT_DIR), settings: parseSettings({ mutes }) },
      { collect: () => loadOffline(DEMO_DIR), settings: parseSettings({ mutes }) },
      { collect: later(DEMO_DIR, '2026-11-03T00:00:00.000Z'), settings: parseSettings({}) },
      { collect: later(DEMO_NEXT_DIR, '2026-11-04T00:00:00.000Z'), settings: parseSettings({ checks: ['access-key-age'] }) },
    ];
    const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
    const memory = new MemoryFindingsRepository();
    let clock = Date.parse('2026-11-05T00:00:00.000Z');
    const results = [];
    for (const { collect, settings } of nights) {
      const result = await runAudit({
        collect,
        settings,
        trigger: 'schedule',
        now: () => {
          clock += 1000;
          return new Date(clock);
        },
      });
      const saved = [];
      for (const repository of [store, memory] satisfies FindingsRepository[]) {
        const lease = await repository.acquireLease(ACCOUNT, result.run.runId);
        const known = await repository.loadKnown(ACCOUNT);
        saved.push(await repository.saveRun(reconcile(result, known.state, settings.mutes, known.observed), { lease }));
        await repository.releaseLease(lease);
      }
      expect(saved[1]).toEqual(saved[0]);
      expect(await everything(memory)).toEqual(await everything(store));
      results.push(saved[0]!);
    }
    // The nights did what their names say: the older one left what the newer one stored, the
    // re-observed one changed what it found again; and there was something to compare.
    expect(results[2]!.skippedStale.length).toBeGreaterThan(0);
    expect(results[3]!.history).toBeGreaterThan(0);
    const final = await everything(memory);
    expect(final.runs).toHaveLength(5);
    expect(final.open.length).toBeGreaterThan(0);
    expect(final.openCritical.length).toBeGreaterThan(0);
    expect(final.openOfCheck.length).toBeGreaterThan(0);
    expect(final.history.flat().length).toBeGreaterThan(final.known.state.size);
  });
});
