/**
 * The nightly pipeline end to end on the demo account, against the in-memory repository and
 * publisher (test/support/fakes.ts): mutes stored and never alerted, an expired mute alerting
 * again, a third night regressing what the second resolved, and the order of publishing and
 * saving. The pipeline against DynamoDB's semantics (dynalite): pipeline-store.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { auditAndRecord, SAVE_ATTEMPTS } from '#lib/audit/pipeline.ts';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import { StoreError } from '#lib/store/errors.ts';
import { MemoryFindingsRepository, RecordingPublisher } from '#test/fakes.ts';

const ZOE = 'arn:aws:iam::123456789012:user/zoe';
const ZOE_ID = `123456789012#user-full-access#${ZOE}`;

let store: MemoryFindingsRepository;
let alerts: RecordingPublisher;

beforeEach(() => {
  store = new MemoryFindingsRepository();
  alerts = new RecordingPublisher('m');
});

const night = (dir: string, settings: SettingsInput = {}) =>
  auditAndRecord({
    collect: () => loadOffline(dir),
    settings: parseSettings(settings),
    trigger: 'schedule',
    store,
    publisher: alerts,
  });

describe('auditAndRecord with a findings repository', () => {
  it('a muted new admin is stored and reported as muted, never alerted', async () => {
    await night(DEMO_DIR);
    expect(alerts.published).toHaveLength(1); // the first night: everything is new
    const mutes = [{ check: 'user-full-access', resource: 'arn:aws:iam::123456789012:user/z*', reason: 'approved admin, ticket OPS-12' }];
    const next = await night(DEMO_NEXT_DIR, { mutes });
    expect(next.reconciled.run.counts).toMatchObject({ new: 1, muted: 1 });
    expect(next.alert.wanted).toBe(false);
    expect(alerts.published).toHaveLength(1);
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
    const publish = alerts.published.at(-1)!;
    expect(publish.subject).toContain('1 new (1 critical)');
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
    const dry = await auditAndRecord({
      collect: () => loadOffline(DEMO_DIR),
      settings: parseSettings({}),
      trigger: 'on-demand',
      store,
      dryRun: true,
      publisher: alerts,
    });
    expect(dry.saved).toBeNull();
    expect(dry.alert.wanted).toBe(true);
    expect(alerts.published).toHaveLength(0);
    expect(await store.accounts()).toEqual([]);
  });
});

describe('publishing and saving', () => {
  it('a failed publish saves nothing, so the retry alerts again instead of losing the alert', async () => {
    alerts.messageId = 'retry';
    alerts.rejectOnce(new Error('SNS unavailable'));
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
      if (calls === 1) throw new StoreError('1 history item still unprocessed', ['history']);
      return original(run);
    };
    const result = await night(DEMO_DIR);
    expect(calls).toBe(2);
    expect(result.saved?.written).toBeGreaterThan(0);
    expect((await store.latestRuns('123456789012')).map((r) => r.runId)).toEqual([result.reconciled.run.runId]);
  });

  it('gives up after SAVE_ATTEMPTS and fails loudly, the alert already published', async () => {
    let calls = 0;
    store.saveRun = async () => {
      calls += 1;
      throw new StoreError('throttled', ['x']);
    };
    await expect(night(DEMO_DIR)).rejects.toThrow('throttled');
    expect(calls).toBe(SAVE_ATTEMPTS);
    expect(alerts.summaries().map((m) => m.kind)).toEqual(['findings', 'state-not-saved']);
  });
});
