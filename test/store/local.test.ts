import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalStore } from '#lib/store/local.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { ACCOUNT, change, reconciledRun, runRecord, stored, T0, T1, userArn } from '#test/store.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'account-auditor-local-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('startLocalStore', () => {
  it('keeps state on disk across close and reopen, creating the folder', async () => {
    const dir = join(root, 'nested', 'state');
    const a = stored('user-full-access', userArn('alice'), 'FAIL', { at: T0, runId: 'r0' });
    const run = reconciledRun(runRecord('r0', T0), [change('new', null, a)]);

    const first = await startLocalStore(dir);
    expect(first.tableName).toBe('account-auditor');
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await new FindingsStore({ client: first.client, tableName: first.tableName, historyTtlDays: 400 }).saveRun(run);
    await first.close();
    await first.close(); // a second close is harmless

    const second = await startLocalStore(dir);
    try {
      const store = new FindingsStore({ client: second.client, tableName: second.tableName, historyTtlDays: 400 });
      expect(await store.loadState(ACCOUNT)).toEqual(new Map([[a.id, a]]));
      expect(await store.history(a.id)).toHaveLength(1);
      expect((await store.latestRuns(ACCOUNT)).map((r) => r.runId)).toEqual(['r0']);
      expect(await store.accounts()).toEqual([{ accountId: ACCOUNT, lastRunAt: T0, lastRunId: 'r0' }]);

      // And it keeps working as a store: the next run resolves what the first one found.
      await store.saveRun(
        reconciledRun(runRecord('r1', T1), [
          change('resolved', 'FAIL', { ...a, status: 'PASS', lastSeen: T1, lastChanged: T1, resolvedAt: T1, runId: 'r1' }),
        ]),
      );
      expect(await store.openFindings(ACCOUNT)).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('refuses a folder another store has open, and takes over a lock its dead owner left', async () => {
    const dir = join(root, 'state');
    const first = await startLocalStore(dir);
    try {
      await expect(startLocalStore(dir)).rejects.toThrow(/in use by process \d+ \(this one\)/);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dir, 'account-auditor.pid'))).toBe(false);

    // A pid that cannot be running (beyond Linux's pid_max) stands for a crashed run.
    await writeFile(join(dir, 'account-auditor.pid'), '4194305');
    const again = await startLocalStore(dir);
    await again.close();
  });

  it('the lock file appears with its content: of two starts at once, one holds the folder and the other names it', async () => {
    const dir = join(root, 'state');
    await (await startLocalStore(dir)).close();
    for (let round = 0; round < 5; round++) {
      const [first, second] = await Promise.allSettled([startLocalStore(dir), startLocalStore(dir)]);
      const opened = [first, second].filter((r) => r.status === 'fulfilled');
      const refused = [first, second].filter((r) => r.status === 'rejected');
      expect(opened).toHaveLength(1);
      expect(String(refused[0]?.reason)).toMatch(/in use by process \d+ \(this one\)/);
      expect(await readFile(join(dir, 'account-auditor.pid'), 'utf8')).toBe(String(process.pid));
      await opened[0]!.value.close();
      // The private name the content was written under is gone.
      expect((await readdir(dir)).filter((name) => name.startsWith('account-auditor.pid'))).toEqual([]);
    }
  });

  it('in memory, each start is a fresh, empty store', async () => {
    const a = stored('user-full-access', userArn('alice'), 'FAIL', { at: T0, runId: 'r0' });
    const first = await startLocalStore(null);
    await new FindingsStore({ client: first.client, tableName: first.tableName, historyTtlDays: 400 }).saveRun(
      reconciledRun(runRecord('r0', T0), [change('new', null, a)]),
    );
    await first.close();
    const second = await startLocalStore(null);
    try {
      expect(
        await new FindingsStore({ client: second.client, tableName: second.tableName, historyTtlDays: 400 }).loadState(ACCOUNT),
      ).toEqual(new Map());
    } finally {
      await second.close();
    }
  });
});
