/**
 * The collector's half of the time budget: an AbortSignal that, when it fires, aborts the calls in
 * flight, stops the credential report wait, starts no further call, and turns every source not
 * read yet into `unread` TimeBudgetExceeded, while collectLive still returns, promptly.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { DescribeCacheClustersCommand, DescribeReplicationGroupsCommand } from '@aws-sdk/client-elasticache';
import { DescribeClustersCommand } from '@aws-sdk/client-dax';
import { StandardRetryStrategy } from '@smithy/core/retry';
import { evaluateChecks } from '#lib/audit/run.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { collectLive, type LiveOptions } from '#lib/inventory/live.ts';
import { TIME_BUDGET_CODE, TIME_BUDGET_REASON } from '#lib/inventory/failure.ts';
import { KEY_LOOKUP_CONCURRENCY } from '#lib/inventory/sources/access-keys/live.ts';
import { type LiveRequest, liveOptions } from '#lib/audit/collect.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import { daxCluster, FIXTURE_NOW, generateAccount, iamError, mockIam, roleArn, type GeneratedAccount } from '#test/aws.ts';
import { dax, elastiCache, iam, resetAws, serveRegions, sts } from '#test/mock-aws.ts';
import { auditThroughSdk, HANG, SDK_REGION, sources, unreadSources } from '#test/sdk-boundary.ts';
import { serveSmallAccount } from '#test/small-account.ts';

const REGION = 'eu-west-1';
const BUDGET = { code: TIME_BUDGET_CODE, reason: TIME_BUDGET_REASON };
/** A source the budget stopped: its code and reason, and the kind of failure the collector gave it. */
const STOPPED = { ...BUDGET, kind: 'timeBudget' };

/** Far below anything a hung call or an uninterrupted wait would take (the waits here are seconds). */
const PROMPTLY_MS = 1_000;

// 2,400 users: three pages of GetAccountAuthorizationDetails, 24 over-age keys to look up.
const account: GeneratedAccount = generateAccount({ users: 2400, overAgeKeyRatio: 0.01 });

const allCalls = (): number => iam.calls().length + sts.calls().length + elastiCache.calls().length + dax.calls().length;

/** Polls until `done`, so that an abort lands after the calls it must not disturb. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(2);
  }
}

/** How long after the abort something returned: `since()` once it has. */
function abortClock(signal: AbortSignal): { since: () => number } {
  let abortedAt = signal.aborted ? performance.now() : Number.NaN;
  signal.addEventListener('abort', () => (abortedAt = performance.now()), { once: true });
  return { since: () => performance.now() - abortedAt };
}

async function collect(controller: AbortController, settings: SettingsInput = {}, extra: Partial<LiveRequest> = {}) {
  const progress: string[] = [];
  const clock = abortClock(controller.signal);
  const inventory = await collectLive(
    liveOptions({
      settings: parseSettings(settings),
      regions: [REGION],
      now: () => FIXTURE_NOW,
      sleep: async () => {},
      onProgress: (m) => progress.push(m),
      signal: controller.signal,
      ...extra,
    }),
  );
  // NaN (never aborted) fails every `toBeLessThan`, as it should in these tests.
  const sinceAbort = clock.since();
  const findings = evaluateChecks(inventory, parseSettings(settings), ALL_CHECKS).findings;
  return { inventory, findings, sinceAbort, progress };
}

const ofCheck = (findings: Finding[], checkId: string): Finding[] => findings.filter((f) => f.checkId === checkId);

/** The sources that must stay read, and the findings that rest on them: no ERROR among those. */
function expectReadExcept(inv: Inventory, unread: string[]): void {
  expect(unreadSources(inv)).toEqual(unread);
  for (const [name, source] of sources(inv)) {
    if (unread.includes(name)) expect(source, name).toMatchObject({ state: 'unread', ...STOPPED });
  }
}

beforeEach(() => {
  resetAws(REGION);
  mockIam(iam, account);
  serveRegions({
    [REGION]: {
      cacheClusters: [],
      replicationGroups: [],
      daxClusters: [daxCluster({ name: 'orders', region: REGION, iamRoleArn: roleArn('DAXServiceRole') })],
    },
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('collectLive: the time budget', () => {
  it('aborted while paging authorization details: that source is TimeBudgetExceeded, the page in flight aborted, no page after it', async () => {
    const controller = new AbortController();
    let callsAtAbort = -1;
    iam.on(GetAccountAuthorizationDetailsCommand).callsFake(async (input: { MaxItems?: number; Marker?: string }) => {
      if (!input.Marker) return account.authorizationDetailsPage(input);
      // Page 2: once everything else has been read, the budget runs out while this page is in flight.
      await until(
        () =>
          iam.commandCalls(ListAccessKeysCommand).length === account.overAgeUsers.length &&
          dax.calls().length > 0 &&
          elastiCache.calls().length === 2,
        'the other sources are read',
      );
      await delay(20);
      callsAtAbort = allCalls();
      controller.abort();
      return new Promise(() => {}); // no answer: only the abort ends this call
    });

    const { inventory, findings, progress, sinceAbort } = await collect(controller);
    expect(sinceAbort).toBeLessThan(PROMPTLY_MS);
    expect(inventory.authorizationDetails).toEqual({ state: 'unread', call: 'iam:GetAccountAuthorizationDetails', ...STOPPED });
    expectReadExcept(inventory, ['authorizationDetails']);
    expect(Object.keys(inventory.accessKeys)).toHaveLength(account.overAgeUsers.length);

    // The page in flight got the signal; the third page was never asked for; no call started after.
    const pages = iam.commandCalls(GetAccountAuthorizationDetailsCommand);
    expect(pages).toHaveLength(2);
    expect(((pages[1]!.args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal).toBe(controller.signal);
    expect(controller.signal.aborted).toBe(true);
    await delay(20);
    expect(allCalls()).toBe(callsAtAbort);
    expect(progress.some((m) => m.startsWith('time budget exhausted'))).toBe(true);

    // The checks that need the policies are ERROR naming the budget, never PASS; the others ran.
    for (const checkId of ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role']) {
      const own = ofCheck(findings, checkId);
      expect(own.length, checkId).toBeGreaterThan(0);
      for (const f of own) {
        expect(f.status, checkId).toBe('ERROR');
        expect(f.title, checkId).toContain(`(${TIME_BUDGET_CODE})`);
      }
    }
    expect(ofCheck(findings, 'root-access-key').map((f) => f.status)).toEqual(['PASS']);
    expect(ofCheck(findings, 'access-key-age').some((f) => f.status === 'ERROR')).toBe(false);
  });

  it('aborted during the credential report wait: the (real) wait stops at once; the report is TimeBudgetExceeded, nothing looked up', async () => {
    iam.on(GenerateCredentialReportCommand).resolves({ State: 'STARTED' });
    const controller = new AbortController();
    const others = until(
      () =>
        iam.commandCalls(GetAccountAuthorizationDetailsCommand).length === 3 &&
        iam.commandCalls(GetAccountSummaryCommand).length === 1 &&
        dax.calls().length > 0 &&
        elastiCache.calls().length === 2,
      'the other sources are read',
    ).then(() => delay(20));
    void others.then(() => controller.abort());
    // The default sleep: the first wait is 1/7 of 60 s, 8.6 s of real time, unless the signal stops it.
    const { inventory, findings, sinceAbort } = await collect(controller, {}, { sleep: undefined });

    expect(sinceAbort).toBeLessThan(PROMPTLY_MS);
    expect(inventory.credentialReport).toEqual({ state: 'unread', call: 'iam:GenerateCredentialReport', ...STOPPED });
    expectReadExcept(inventory, ['credentialReport']);
    expect(iam.commandCalls(GenerateCredentialReportCommand)).toHaveLength(1);
    expect(iam.commandCalls(GetCredentialReportCommand)).toHaveLength(0);
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(0);
    expect(inventory.accessKeys).toEqual({});
    expect(ofCheck(findings, 'access-key-age')).toEqual([
      expect.objectContaining({
        status: 'ERROR',
        title: `could not be evaluated: iam:GenerateCredentialReport failed (${TIME_BUDGET_CODE})`,
        details: { call: 'iam:GenerateCredentialReport', ...BUDGET },
      }),
    ]);
  });

  it('an injected sleep that ignores the signal cannot hold the collector either', async () => {
    iam.on(GetCredentialReportCommand).rejects(iamError('ReportInProgress'));
    const controller = new AbortController();
    let asked: AbortSignal | undefined;
    const sleep = (_ms: number, signal?: AbortSignal): Promise<void> => {
      asked = signal;
      setTimeout(() => controller.abort(), 10);
      return new Promise(() => {});
    };
    const { inventory, sinceAbort } = await collect(controller, {}, { sleep });
    expect(sinceAbort).toBeLessThan(PROMPTLY_MS);
    expect(asked).toBe(controller.signal);
    // Waiting to call GetCredentialReport again: the report is unread for that call.
    expect(inventory.credentialReport).toEqual({ state: 'unread', call: 'iam:GetCredentialReport', ...STOPPED });
  });

  it('aborted during the key lookups: the lookups done stay read, the others are TimeBudgetExceeded, none starts after', async () => {
    const many = generateAccount({ users: 40, overAgeKeyRatio: 1 });
    mockIam(iam, many);
    const controller = new AbortController();
    let callsAtAbort = -1;
    let lookups = 0;
    iam.on(ListAccessKeysCommand).callsFake(async (input: { UserName: string }) => {
      lookups++;
      if (lookups === 8) {
        callsAtAbort = allCalls();
        controller.abort();
        return new Promise(() => {});
      }
      await delay(1);
      return many.listAccessKeys(input.UserName);
    });

    const { inventory, findings, sinceAbort } = await collect(controller, { keyIdLookups: 30 });
    expect(sinceAbort).toBeLessThan(PROMPTLY_MS);
    await delay(20);
    expect(allCalls()).toBe(callsAtAbort);
    const candidates = many.overAgeUsers.slice(0, 30);
    expect(Object.keys(inventory.accessKeys)).toEqual(candidates);
    const read = candidates.filter((u) => inventory.accessKeys[u]!.state === 'read');
    const stopped = candidates.filter((u) => inventory.accessKeys[u]!.state === 'unread');
    expect(read.length).toBeGreaterThan(0);
    expect(read.length).toBeLessThan(8);
    expect(read.length + stopped.length).toBe(30);
    for (const u of stopped) expect(inventory.accessKeys[u]).toEqual({ state: 'unread', call: 'iam:ListAccessKeys', ...STOPPED });
    // In flight when the budget ran out (at most the concurrency), or never started: 30 - 8 were never called.
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(8);
    expect(stopped.length).toBeGreaterThanOrEqual(30 - 8);
    expect(8 - read.length).toBeLessThanOrEqual(KEY_LOOKUP_CONCURRENCY);
    // The lookup only names a key: the over-age keys whose lookup was stopped stay FAIL, never PASS.
    const stoppedOverAge = ofCheck(findings, 'access-key-age').filter(
      (f) => (f.details.keyIdLookup as { code?: string } | undefined)?.code === TIME_BUDGET_CODE && (f.details.ageDays as number) > 90,
    );
    expect(stoppedOverAge.length).toBeGreaterThanOrEqual(stopped.length);
    expect(stoppedOverAge.every((f) => f.status === 'FAIL')).toBe(true);
  });

  it('aborted before it starts: no call at all, every source TimeBudgetExceeded, every check ERROR', async () => {
    const controller = new AbortController();
    controller.abort();
    const { inventory, findings, sinceAbort, progress } = await collect(controller);
    expect(sinceAbort).toBeLessThan(PROMPTLY_MS);
    expect(allCalls()).toBe(0);
    expect(inventory.accountId).toBe('unknown');
    expectReadExcept(inventory, ['accountSummary', 'credentialReport', 'authorizationDetails', `${REGION}.elastiCache`, `${REGION}.dax`]);
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) expect(f.status, `${f.checkId} ${f.resource}`).toBe('ERROR');
    for (const check of ALL_CHECKS) expect(ofCheck(findings, check.id).length, check.id).toBeGreaterThan(0);
    expect(progress[0]).toMatch(/^time budget exhausted/);
  });

  it('no signal: nothing changes (the SDK gets no options, as before)', async () => {
    const inventory = await collectLive(
      liveOptions({ settings: parseSettings({}), regions: [REGION], now: () => FIXTURE_NOW, sleep: async () => {} }),
    );
    expect(unreadSources(inventory)).toEqual([]);
    expect(iam.calls().every((c) => (c.args as unknown[])[1] === undefined)).toBe(true);
  });
});

describe('collectLive: the time budget reaches the SDK', () => {
  beforeEach(() => {
    resetAws(SDK_REGION);
    serveSmallAccount(SDK_REGION);
  });

  /** Aborts once the fixture has answered every call but `except`, and their answers have landed. */
  function abortAfterOthers(controller: AbortController, except: string): void {
    const stubs = {
      GetCallerIdentity: sts,
      GetAccountSummary: iam,
      GetCredentialReport: iam,
      ListAccessKeys: iam,
      GetAccountAuthorizationDetails: iam,
      DescribeCacheClusters: elastiCache,
      DescribeReplicationGroups: elastiCache,
      DescribeClusters: dax,
    };
    const commands = {
      GetCallerIdentity: GetCallerIdentityCommand,
      GetAccountSummary: GetAccountSummaryCommand,
      GetCredentialReport: GetCredentialReportCommand,
      ListAccessKeys: ListAccessKeysCommand,
      GetAccountAuthorizationDetails: GetAccountAuthorizationDetailsCommand,
      DescribeCacheClusters: DescribeCacheClustersCommand,
      DescribeReplicationGroups: DescribeReplicationGroupsCommand,
      DescribeClusters: DescribeClustersCommand,
    } as const;
    const names = (Object.keys(commands) as (keyof typeof commands)[]).filter((n) => n !== except);
    void until(
      () => names.every((n) => (stubs[n] as typeof iam).commandCalls(commands[n] as never).length > 0),
      'the other calls are answered',
    )
      .then(() => delay(30))
      .then(() => controller.abort());
  }

  it('an attempt in flight is aborted inside the SDK (its abortSignal fires), the source is TimeBudgetExceeded', async () => {
    const controller = new AbortController();
    abortAfterOthers(controller, 'GetAccountAuthorizationDetails');
    const clock = abortClock(controller.signal);
    const run = await auditThroughSdk({}, (a) => (a.command === 'GetAccountAuthorizationDetails' ? HANG : undefined), {
      signal: controller.signal,
    });
    expect(clock.since()).toBeLessThan(PROMPTLY_MS);
    expect(run.inventory.authorizationDetails).toEqual({ state: 'unread', call: 'iam:GetAccountAuthorizationDetails', ...STOPPED });
    expect(unreadSources(run.inventory)).toEqual(['authorizationDetails']);
    // The hanging attempt saw the signal in the SDK's handler context, and ended as the HTTP handler would.
    const hung = run.attempts.filter((a) => a.command === 'GetAccountAuthorizationDetails');
    await delay(20);
    expect(hung.map((a) => a.outcome)).toEqual(['AbortError']);
  });

  it("a retry backoff in progress is cut short: the SDK's wait stops and no further attempt is made", async () => {
    const controller = new AbortController();
    abortAfterOthers(controller, 'GetAccountSummary');
    const clock = abortClock(controller.signal);
    // Throttled, then a backoff before the next attempt: the budget runs out during it.
    const BACKOFF_MS = 800;
    const slowRetry: LiveOptions['retryStrategy'] = ({ maxAttempts }) =>
      new StandardRetryStrategy({ maxAttempts, backoff: { computeNextBackoffDelay: () => BACKOFF_MS, setDelayBase: () => {} } });
    const run = await auditThroughSdk(
      {},
      (a) =>
        a.command === 'GetAccountSummary'
          ? Object.assign(new Error('Rate exceeded'), { name: 'Throttling', Code: 'Throttling', $metadata: { httpStatusCode: 400 } })
          : undefined,
      { signal: controller.signal, retryStrategy: slowRetry },
    );
    // Back well before the backoff would have ended; and past its end, still no second attempt.
    expect(clock.since()).toBeLessThan(BACKOFF_MS / 2);
    expect(run.inventory.accountSummary).toEqual({ state: 'unread', call: 'iam:GetAccountSummary', ...STOPPED });
    expect(unreadSources(run.inventory)).toEqual(['accountSummary']);
    await delay(BACKOFF_MS + 100);
    expect(run.attempts.filter((a) => a.command === 'GetAccountSummary').map((a) => a.outcome)).toEqual(['Throttling']);
    const root = run.findings.filter((f) => f.checkId === 'root-access-key');
    expect(root.map((f) => f.status)).toEqual(['ERROR']);
    expect(root[0]!.title).toContain(`(${TIME_BUDGET_CODE})`);
  });
});
