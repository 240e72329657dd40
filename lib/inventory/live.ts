import { setTimeout as delay } from 'node:timers/promises';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  type GetAccountAuthorizationDetailsResponse,
  type GetCredentialReportResponse,
  IAMClient,
  type IAMClientConfig,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  type CacheCluster as SdkCacheCluster,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  type ReplicationGroup as SdkReplicationGroup,
} from '@aws-sdk/client-elasticache';
import { type Cluster as SdkDaxCluster, DAXClient, DescribeClustersCommand } from '@aws-sdk/client-dax';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { inputsOf } from '#lib/checks/catalogue.ts';
import { ageInDays } from '#lib/checks/support/key-facts.ts';
import { type AwsRetryMode, awsRetryConfig, type Settings } from '#lib/settings.ts';
import { normalizeAuthorizationDetails } from './authorization-details.ts';
import { parseCredentialReport } from './credential-report.ts';
import { dateBound, dateProblem } from './integrity.ts';
import { accessKeyMetadata, accountFromArn, normalizeAccountSummary, normalizeCacheClusters, normalizeDaxClusters, normalizeReplicationGroups } from './normalize.ts';
import {
  type AccessKeyMetadata,
  type AccountSummary,
  type AuthorizationDetails,
  type CredentialReport,
  type DaxInventory,
  type ElastiCacheInventory,
  type Inventory,
  type RegionInventory,
  type Source,
  unread,
} from './types.ts';

/**
 * Every IAM permission the live collector needs, and nothing else: the README's policy and the
 * deployed role derive from this list. `sts:GetCallerIdentity` needs no permission.
 */
export const LIVE_READ_ACTIONS = [
  'iam:GetAccountSummary',
  'iam:GenerateCredentialReport',
  'iam:GetCredentialReport',
  'iam:GetAccountAuthorizationDetails',
  'iam:ListAccessKeys',
  'elasticache:DescribeCacheClusters',
  'elasticache:DescribeReplicationGroups',
  'dax:DescribeClusters',
] as const;

export type LiveReadAction = (typeof LIVE_READ_ACTIONS)[number];

/**
 * Credential report calls per run, and why so few: SPEC section 2 budgets the IAM calls of a run
 * whatever the account's size, at 12 plus the key lookups for a 5,000-user account (1
 * GetAccountSummary + at most 5 report calls + 6 GetAccountAuthorizationDetails pages). So at most
 * MAX_GENERATE_REPORT_CALLS GenerateCredentialReport calls (the first and 3 polls, a re-generation
 * after ReportNotPresent/ReportExpired included), and at most MAX_REPORT_CALLS report calls in all
 * (GetCredentialReport, and its retries after ReportInProgress, included). A backoff that doubles
 * from a short first wait would spend ~16 calls over a 60 s bound instead.
 */
export const MAX_GENERATE_REPORT_CALLS = 4;
export const MAX_REPORT_CALLS = MAX_GENERATE_REPORT_CALLS + 1;

/**
 * The waits between report calls, as shares of `settings.reportWaitSeconds`: one per poll, each
 * twice the one before, adding up to the whole bound (1/7, 2/7, 4/7 for 3 polls). Polls come
 * sooner at first, when a small account's report is usually ready, and the bound is used in full.
 */
export const REPORT_WAIT_SHARES: readonly number[] = Array.from(
  { length: MAX_GENERATE_REPORT_CALLS - 1 },
  (_, i) => 2 ** i / (2 ** (MAX_GENERATE_REPORT_CALLS - 1) - 1),
);

/** The waits in milliseconds for a bound, rounded so that they add up to the bound exactly. */
export function reportWaitsMs(boundMs: number): number[] {
  let cumulative = 0;
  let before = 0;
  return REPORT_WAIT_SHARES.map((share) => {
    cumulative += share;
    const until = Math.round(boundMs * Math.min(cumulative, 1));
    const wait = until - before;
    before = until;
    return wait;
  });
}

/** At most this many `ListAccessKeys` calls in flight, to stay well under IAM's rate limit. */
export const KEY_LOOKUP_CONCURRENCY = 5;

/** IAM's largest page: the fewer pages, the fewer calls against the shared rate limit. */
export const AUTHORIZATION_DETAILS_PAGE_SIZE = 1000;

/** The region name recorded when no region could be resolved, so that regional checks say ERROR. */
export const NO_REGION = '(no region)';
export const NO_REGION_REASON = 'no region configured: pass --region or set AWS_REGION';

/** A retry strategy as the SDK clients take it (`retryStrategy` in their configuration). */
export type SdkRetryStrategy = NonNullable<IAMClientConfig['retryStrategy']>;

export interface LiveOptions {
  settings: Settings;
  /** A named profile for every client; otherwise the SDK's default credential chain, untouched. */
  profile?: string;
  /** Overrides `settings.regions`; when both are empty, the SDK's default region. */
  regions?: string[];
  /** Progress lines for the slow steps (report generation, paging). */
  onProgress?: (message: string) => void;
  /** The credential report wait; it must stop when `signal` aborts (the default one does). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => Date;
  /** SDK attempts per call, the first one included; overrides `settings.awsMaxAttempts`. */
  maxAttempts?: number;
  /**
   * The time budget. When it aborts, the calls in flight are aborted (the SDK's `abortSignal`),
   * the credential report wait stops at once, no further call starts, and every source not read
   * yet becomes `unread` with code TIME_BUDGET_CODE, so that the checks needing it say ERROR.
   * Sources already read stay read, and collectLive still returns, promptly.
   */
  signal?: AbortSignal;
  /**
   * Builds each client's retry strategy (one per client, as the SDK does) from the retry settings,
   * instead of the SDK building its own from `maxAttempts` and `retryMode`. For tests: the SDK's
   * own strategy classes with a backoff that does not sleep for seconds.
   */
  retryStrategy?: (retry: { maxAttempts: number; retryMode: AwsRetryMode }) => SdkRetryStrategy;
}

/** The code and reason of every source the time budget stopped before it was read. */
export const TIME_BUDGET_CODE = 'TimeBudgetExceeded';
export const TIME_BUDGET_REASON = 'stopped before the Lambda timeout: time budget exhausted';

/** Thrown instead of starting (or waiting for) a call once the time budget is spent. */
class TimeBudgetError extends Error {
  override name = TIME_BUDGET_CODE;
  constructor() {
    super(TIME_BUDGET_REASON);
  }
}

type Unread = Extract<Source<never>, { state: 'unread' }>;

/**
 * `unread()` keeps the AWS error code; Node network errors carry theirs in `code` (ENOTFOUND,
 * ECONNRESET) under the name `Error`, which `unread()` does not look at. The SDK counts its
 * attempts in `$metadata.attempts`: a failure that survived its retries says how many there were.
 */
function failure(call: string, error: unknown): Unread {
  if (error instanceof TimeBudgetError) return { state: 'unread', call, reason: TIME_BUDGET_REASON, code: TIME_BUDGET_CODE };
  let result: Unread = unread(call, error);
  const nodeCode = (error as { code?: unknown } | null | undefined)?.code;
  if (!result.code && typeof nodeCode === 'string' && nodeCode) result = { ...result, code: nodeCode };
  const attempts = (error as { $metadata?: { attempts?: unknown } } | null | undefined)?.$metadata?.attempts;
  if (typeof attempts === 'number' && attempts > 1) result = { ...result, reason: `${result.reason} (gave up after ${attempts} attempts)` };
  return result;
}

/**
 * Runs one step (a call, a wait) under the time budget: refused once the budget is spent, and
 * abandoned the moment it runs out, whatever the step does with the signal itself.
 */
function budgeted(signal: AbortSignal | undefined) {
  return async <T>(step: () => Promise<T>): Promise<T> => {
    if (!signal) return step();
    if (signal.aborted) throw new TimeBudgetError();
    let onAbort = (): void => {};
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(new TimeBudgetError());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([step(), stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}

function errorCodes(error: unknown): string[] {
  const e = error as { name?: unknown; Code?: unknown } | null | undefined;
  return [e?.name, e?.Code].filter((v): v is string => typeof v === 'string');
}

/** The SDK names errors after the exception class, and keeps IAM's wire code in `Code`: match either. */
function hasCode(error: unknown, ...codes: string[]): boolean {
  return errorCodes(error).some((c) => codes.includes(c));
}

const REPORT_IN_PROGRESS = ['ReportInProgress', 'CredentialReportNotReadyException'];
const REPORT_GONE = ['ReportNotPresent', 'CredentialReportNotPresentException', 'ReportExpired', 'CredentialReportExpiredException'];

/** The service sent an HTTP response (success or error), so its regional endpoint exists and is reachable. */
function answered(outcome: Outcome<unknown>): boolean {
  if (outcome.ok) return true;
  const status = (outcome.error as { $metadata?: { httpStatusCode?: unknown } } | null | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number';
}

/**
 * How a missing regional endpoint surfaces. SDK v3 resolves every region to
 * `dax.<region>.amazonaws.com` and lets DNS fail: Node's `getaddrinfo ENOTFOUND <host>` error,
 * name `Error`, `code: 'ENOTFOUND'`, passed through unchanged after the SDK's retries. SDK v2
 * called it `UnknownEndpoint`; endpoint rule sets say "Could not resolve endpoint". EAI_AGAIN is
 * a temporary DNS failure, not an absent service, so it is not listed.
 */
export function isMissingEndpoint(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 5) return false;
  const e = error as { code?: unknown; name?: unknown; Code?: unknown; message?: unknown; hostname?: unknown; cause?: unknown };
  const hostname = typeof e.hostname === 'string' ? e.hostname : null;
  if (e.code === 'ENOTFOUND') return hostname === null || /(^|\.)dax\./.test(hostname);
  if (e.name === 'UnknownEndpoint' || e.Code === 'UnknownEndpoint') return true;
  if (typeof e.message === 'string' && /getaddrinfo ENOTFOUND|Could not resolve endpoint|UnknownEndpoint|Inaccessible host/i.test(e.message)) {
    return true;
  }
  return isMissingEndpoint(e.cause, depth + 1);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Follows a Marker/NextToken chain; a token that repeats would loop forever, so it is an error. */
async function allPages<T>(what: string, fetch: (token: string | undefined) => Promise<{ items: T[] | undefined; next: string | undefined }>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetch(token);
    items.push(...(page.items ?? []));
    token = page.next || undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new Error(`${what} returned the same pagination token twice`);
      seen.add(token);
    }
  } while (token !== undefined);
  return items;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface ClientBase {
  maxAttempts: number;
  retryMode: AwsRetryMode;
  profile?: string;
  retryStrategy?: LiveOptions['retryStrategy'];
}

/**
 * One client's configuration. The retry settings are given explicitly, so AWS_MAX_ATTEMPTS or a
 * profile's `max_attempts` cannot lift the bound; a strategy is built per client because it holds
 * state (the retry quota, adaptive mode's rate).
 */
function clientConfig(base: ClientBase, region?: string) {
  const { retryStrategy, ...config } = base;
  return {
    ...config,
    ...(retryStrategy ? { retryStrategy: retryStrategy({ maxAttempts: base.maxAttempts, retryMode: base.retryMode }) } : {}),
    ...(region ? { region } : {}),
  };
}

/** The region the SDK would use on its own (AWS_REGION, the profile's `region`), or undefined. */
async function resolveDefaultRegion(base: ClientBase): Promise<string | undefined> {
  const probe = new STSClient(clientConfig(base));
  try {
    const region = await probe.config.region();
    return region || undefined;
  } catch {
    return undefined;
  } finally {
    probe.destroy();
  }
}

function pickRegions(requested: string[] | undefined, configured: string[], fallback: string | undefined): string[] {
  const chosen = requested && requested.length > 0 ? requested : configured.length > 0 ? configured : fallback ? [fallback] : [];
  return [...new Set(chosen)];
}

interface Context {
  settings: Settings;
  progress: (message: string) => void;
  /** Sleeps under the time budget. */
  sleep: (ms: number) => Promise<void>;
  /** Runs a call under the time budget. */
  budgeted: <T>(step: () => Promise<T>) => Promise<T>;
  /** The SDK's per-call options: the time budget's signal aborts the call in flight. */
  http: { abortSignal: AbortSignal } | undefined;
  /**
   * The latest date an answer may carry (epoch ms): the clock when the answer is read, plus the
   * tolerance of integrity.dateBound. Answers arrive after the audit time, so later dates than
   * the audit time are normal up to the moment they were read, and impossible after it.
   */
  notAfter: () => number;
}

async function readAccountSummary(iam: IAMClient, ctx: Context): Promise<Source<AccountSummary>> {
  const call = 'iam:GetAccountSummary';
  try {
    const out = await ctx.budgeted(() => iam.send(new GetAccountSummaryCommand({}), ctx.http));
    return { state: 'read', data: normalizeAccountSummary(out, call) };
  } catch (error) {
    return failure(call, error);
  }
}

/**
 * Tracks the report wait against its bound. Time slept is counted as it was asked for, so an
 * injected sleep makes the bound deterministic; the wall clock also counts, so slow calls cannot
 * stretch the wait past the bound either.
 */
function waitClock(sleep: (ms: number) => Promise<void>) {
  const started = performance.now();
  let slept = 0;
  return {
    elapsed: () => Math.max(slept, performance.now() - started),
    async sleep(ms: number) {
      slept += ms;
      await sleep(ms);
    },
  };
}

/** The report's content is not a credential report: empty, not UTF-8, or not the expected CSV. */
const REPORT_FORMAT_CODE = 'CredentialReportFormatError';

function parseReport(out: GetCredentialReportResponse, notAfter: number): Source<CredentialReport> {
  const call = 'iam:GetCredentialReport';
  if (!out.Content || out.Content.length === 0) return { state: 'unread', call, reason: 'GetCredentialReport returned no content', code: REPORT_FORMAT_CODE };
  let csv: string;
  try {
    // fatal: a report with broken bytes must fail loudly rather than parse with replacement characters.
    csv = new TextDecoder('utf-8', { fatal: true }).decode(out.Content);
  } catch (error) {
    return { state: 'unread', call, reason: `the credential report cannot be decoded as UTF-8 text: ${(error as Error).message}`, code: REPORT_FORMAT_CODE };
  }
  let generated: string | null = null;
  if (out.GeneratedTime !== undefined) {
    const problem = out.GeneratedTime instanceof Date ? dateProblem(out.GeneratedTime, notAfter) : 'is not a date';
    if (problem) return { state: 'unread', call, reason: `GetCredentialReport: GeneratedTime ${problem}`, code: REPORT_FORMAT_CODE };
    generated = (out.GeneratedTime as Date).toISOString();
  }
  try {
    return { state: 'read', data: parseCredentialReport(csv, generated, { notAfter }) };
  } catch (error) {
    return failure(call, error);
  }
}

/**
 * GenerateCredentialReport until COMPLETE, then GetCredentialReport, within `reportWaitSeconds`
 * and within MAX_REPORT_CALLS calls (MAX_GENERATE_REPORT_CALLS of them Generate): the waits follow
 * REPORT_WAIT_SHARES, and a call is made only when the budget leaves room for it (a Generate only
 * when a Get can still follow). A report that vanished or expired between the two calls is
 * generated again, once: a second disappearance means something else is wrong, and looping would
 * hide it.
 */
async function readCredentialReport(iam: IAMClient, ctx: Context): Promise<Source<CredentialReport>> {
  const boundMs = ctx.settings.reportWaitSeconds * 1000;
  const clock = waitClock(ctx.sleep);
  const waits = reportWaitsMs(boundMs);
  let calls = 0;
  let generates = 0;
  const canGenerate = (): boolean => generates < MAX_GENERATE_REPORT_CALLS && calls + 2 <= MAX_REPORT_CALLS;
  const canGet = (): boolean => calls < MAX_REPORT_CALLS;
  const stillGenerating = (call: string, outOfCalls: boolean): Unread => ({
    state: 'unread',
    call,
    // IAM's own code for a report not ready yet, so the finding's title names why.
    code: 'ReportInProgress',
    reason: outOfCalls
      ? `the credential report was still being generated after ${calls} report calls in ${Math.round(clock.elapsed() / 1000)} s ` +
        `(at most ${MAX_REPORT_CALLS} per run, to spare IAM's rate limit); run again in a minute`
      : `the credential report was still being generated after ${ctx.settings.reportWaitSeconds} s (reportWaitSeconds); run again in a minute or raise reportWaitSeconds`,
  });
  /**
   * Waits before the next call, when both the bound and the call budget allow one; otherwise says
   * why not, without sleeping for a call that will not be made.
   */
  const backoff = async (call: string, nextAllowed: boolean): Promise<Unread | null> => {
    const remaining = boundMs - clock.elapsed();
    if (waits.length === 0 || remaining <= 0) return stillGenerating(call, false);
    if (!nextAllowed) return stillGenerating(call, true);
    await clock.sleep(Math.min(waits.shift()!, remaining));
    return null;
  };

  ctx.progress('generating the IAM credential report…');
  let regenerated = false;
  let phase: 'generate' | 'get' = 'generate';
  try {
    for (;;) {
      if (phase === 'generate') {
        let state: string | undefined;
        calls++;
        generates++;
        try {
          state = (await ctx.budgeted(() => iam.send(new GenerateCredentialReportCommand({}), ctx.http))).State;
        } catch (error) {
          return failure('iam:GenerateCredentialReport', error);
        }
        if (state === 'COMPLETE') {
          phase = 'get';
          continue;
        }
        const stop = await backoff('iam:GenerateCredentialReport', canGenerate());
        if (stop) return stop;
        ctx.progress(`the IAM credential report is still being generated (${Math.round(clock.elapsed() / 1000)} s)…`);
        continue;
      }
      try {
        calls++;
        const out = await ctx.budgeted(() => iam.send(new GetCredentialReportCommand({}), ctx.http));
        return parseReport(out, ctx.notAfter());
      } catch (error) {
        if (hasCode(error, ...REPORT_IN_PROGRESS)) {
          const stop = await backoff('iam:GetCredentialReport', canGet());
          if (stop) return stop;
          ctx.progress(`waiting for the IAM credential report (${Math.round(clock.elapsed() / 1000)} s)…`);
          continue;
        }
        if (hasCode(error, ...REPORT_GONE) && !regenerated && clock.elapsed() < boundMs && canGenerate()) {
          regenerated = true;
          phase = 'generate';
          ctx.progress(`the IAM credential report was not available (${errorCodes(error).at(-1) ?? 'gone'}); generating it again…`);
          continue;
        }
        return failure('iam:GetCredentialReport', error);
      }
    }
  } catch (error) {
    // The wait between calls ran out of time budget: the report is unread for the call it awaited.
    return failure(phase === 'generate' ? 'iam:GenerateCredentialReport' : 'iam:GetCredentialReport', error);
  }
}

/** Every page must be read: a partial list of users or policies would pass users it never saw. */
async function readAuthorizationDetails(iam: IAMClient, ctx: Context): Promise<Source<AuthorizationDetails>> {
  const call = 'iam:GetAccountAuthorizationDetails';
  const pages: GetAccountAuthorizationDetailsResponse[] = [];
  const counts = { users: 0, groups: 0, roles: 0, policies: 0 };
  try {
    await allPages('GetAccountAuthorizationDetails', async (marker) => {
      const out = await ctx.budgeted(() =>
        iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: AUTHORIZATION_DETAILS_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), ctx.http),
      );
      pages.push(out);
      counts.users += out.UserDetailList?.length ?? 0;
      counts.groups += out.GroupDetailList?.length ?? 0;
      counts.roles += out.RoleDetailList?.length ?? 0;
      counts.policies += out.Policies?.length ?? 0;
      ctx.progress(
        `read IAM authorization details page ${pages.length} (${counts.users} users, ${counts.groups} groups, ${counts.roles} roles, ${counts.policies} policies so far)`,
      );
      if (out.IsTruncated && !out.Marker) throw new Error('GetAccountAuthorizationDetails said IsTruncated but returned no Marker');
      return { items: [], next: out.IsTruncated ? out.Marker : undefined };
    });
    return { state: 'read', data: normalizeAuthorizationDetails(pages, call, { notAfter: ctx.notAfter() }) };
  } catch (error) {
    return failure(call, error);
  }
}

/** Users (not root) whose report shows an active key past the age limit, oldest key first. */
export function keyLookupCandidates(report: CredentialReport, settings: Settings, collectedAt: Date): string[] {
  const candidates: { user: string; rotated: number }[] = [];
  const seen = new Set<string>();
  for (const row of report.rows) {
    if (row.isRoot || seen.has(row.user)) continue;
    let oldest = Infinity;
    for (const key of row.keys) {
      if (!key.active || !key.lastRotated) continue;
      // The access-key-age check's own age, so every lookup names a key it reports as FAIL.
      if (ageInDays(key.lastRotated, collectedAt.toISOString()) > settings.maxKeyAgeDays) oldest = Math.min(oldest, Date.parse(key.lastRotated));
    }
    if (oldest !== Infinity) {
      seen.add(row.user);
      candidates.push({ user: row.user, rotated: oldest });
    }
  }
  candidates.sort((a, b) => a.rotated - b.rotated || a.user.localeCompare(b.user));
  return candidates.slice(0, settings.keyIdLookups).map((c) => c.user);
}

async function lookupAccessKeys(
  iam: IAMClient,
  users: string[],
  ctx: Context,
): Promise<Record<string, Source<AccessKeyMetadata[]>>> {
  if (users.length === 0) return {};
  ctx.progress(`looking up the access key IDs of ${users.length} user(s) with over-age keys…`);
  const results = await mapLimit(users, KEY_LOOKUP_CONCURRENCY, async (user): Promise<[string, Source<AccessKeyMetadata[]>]> => {
    try {
      const out = await ctx.budgeted(() => iam.send(new ListAccessKeysCommand({ UserName: user }), ctx.http));
      const keys = accessKeyMetadata(out.AccessKeyMetadata, user, `ListAccessKeys for user ${user}`, ctx.notAfter());
      return [user, { state: 'read', data: keys }];
    } catch (error) {
      return [user, failure('iam:ListAccessKeys', error)];
    }
  });
  return Object.fromEntries(results);
}

async function readRegion(region: string, base: ClientBase, ctx: Context): Promise<RegionInventory> {
  const elastiCache = new ElastiCacheClient(clientConfig(base, region));
  const dax = new DAXClient(clientConfig(base, region));
  try {
    const [clusters, groups, daxClusters] = await Promise.all([
      attempt(() =>
        allPages<SdkCacheCluster>('DescribeCacheClusters', async (Marker) => {
          const out = await ctx.budgeted(() => elastiCache.send(new DescribeCacheClustersCommand({ MaxRecords: 100, ...(Marker ? { Marker } : {}) }), ctx.http));
          if (Marker) ctx.progress(`${region}: reading more ElastiCache clusters…`);
          return { items: out.CacheClusters, next: out.Marker };
        }),
      ),
      attempt(() =>
        allPages<SdkReplicationGroup>('DescribeReplicationGroups', async (Marker) => {
          const out = await ctx.budgeted(() =>
            elastiCache.send(new DescribeReplicationGroupsCommand({ MaxRecords: 100, ...(Marker ? { Marker } : {}) }), ctx.http),
          );
          if (Marker) ctx.progress(`${region}: reading more ElastiCache replication groups…`);
          return { items: out.ReplicationGroups, next: out.Marker };
        }),
      ),
      attempt(() =>
        allPages<SdkDaxCluster>('DescribeClusters', async (NextToken) => {
          const out = await ctx.budgeted(() => dax.send(new DescribeClustersCommand({ MaxResults: 100, ...(NextToken ? { NextToken } : {}) }), ctx.http));
          if (NextToken) ctx.progress(`${region}: reading more DAX clusters…`);
          return { items: out.Clusters, next: out.NextToken };
        }),
      ),
    ]);
    return {
      region,
      elastiCache: elastiCacheSource(region, clusters, groups),
      dax: daxSource(region, daxClusters, answered(clusters) || answered(groups)),
    };
  } finally {
    elastiCache.destroy();
    dax.destroy();
  }
}

function elastiCacheSource(region: string, clusters: Outcome<SdkCacheCluster[]>, groups: Outcome<SdkReplicationGroup[]>): Source<ElastiCacheInventory> {
  if (!clusters.ok) return failure('elasticache:DescribeCacheClusters', clusters.error);
  if (!groups.ok) return failure('elasticache:DescribeReplicationGroups', groups.error);
  try {
    return {
      state: 'read',
      data: {
        cacheClusters: normalizeCacheClusters({ CacheClusters: clusters.value }, `elasticache:DescribeCacheClusters in ${region}`),
        replicationGroups: normalizeReplicationGroups({ ReplicationGroups: groups.value }, `elasticache:DescribeReplicationGroups in ${region}`),
      },
    };
  } catch (error) {
    return failure('elasticache:DescribeCacheClusters', error);
  }
}

/**
 * A DAX endpoint that does not resolve means "DAX is not offered here" only when the region itself
 * is reachable: offline, or with DNS down, every endpoint fails the same way, and calling that
 * "no DAX" would let the DAX checks pass on data never read. ElastiCache, called in the same region
 * at the same time, is the witness.
 */
function daxSource(region: string, outcome: Outcome<SdkDaxCluster[]>, regionReachable: boolean): Source<DaxInventory> {
  const call = 'dax:DescribeClusters';
  if (outcome.ok) {
    try {
      return { state: 'read', data: { available: true, clusters: normalizeDaxClusters({ Clusters: outcome.value }, `${call} in ${region}`) } };
    } catch (error) {
      return failure(call, error);
    }
  }
  if (!isMissingEndpoint(outcome.error)) return failure(call, outcome.error);
  const detail = failure(call, outcome.error);
  if (regionReachable) {
    return { state: 'read', data: { available: false, reason: `DAX is not available in ${region} (${unread(call, outcome.error).reason})` } };
  }
  return {
    ...detail,
    reason: `${detail.reason}; ElastiCache in ${region} did not answer either, so this looks like a network or DNS failure rather than DAX being absent from the region`,
  };
}

/** A source no selected check reads is not read at all: `--checks` and payload `checks` save the calls too. */
export const NOT_NEEDED_CODE = 'NotNeeded';
const NOT_NEEDED_REASON = 'not read: none of the selected checks needs it';
const notNeeded = <T>(call: string): Source<T> => ({ state: 'unread', call, reason: NOT_NEEDED_REASON, code: NOT_NEEDED_CODE });

function noRegion(): RegionInventory {
  return {
    region: NO_REGION,
    elastiCache: { state: 'unread', call: 'elasticache:DescribeCacheClusters', reason: NO_REGION_REASON },
    dax: { state: 'unread', call: 'dax:DescribeClusters', reason: NO_REGION_REASON },
  };
}

async function callerIdentity(sts: STSClient, ctx: Context): Promise<Outcome<{ accountId: string; partition: string }>> {
  return attempt(async () => {
    const out = await ctx.budgeted(() => sts.send(new GetCallerIdentityCommand({}), ctx.http));
    const fromArn = out.Arn ? accountFromArn(out.Arn) : null;
    const accountId = out.Account ?? fromArn?.accountId;
    if (!accountId) throw new Error('GetCallerIdentity returned no account');
    return { accountId, partition: fromArn?.partition ?? 'aws' };
  });
}

/** When STS is unreachable, any ARN the account returned still names it; the root row first. */
function accountFromInventory(report: Source<CredentialReport>, details: Source<AuthorizationDetails>): { accountId: string; partition: string } | null {
  function* arns(): Generator<string> {
    if (report.state === 'read') {
      const rows = report.data.rows;
      for (const row of rows) if (row.isRoot) yield row.arn;
      for (const row of rows) yield row.arn;
    }
    if (details.state === 'read') {
      const d = details.data;
      for (const entity of [...d.users, ...d.roles, ...d.groups]) yield entity.arn;
      yield* Object.keys(d.policies);
    }
  }
  for (const arn of arns()) {
    const found = accountFromArn(arn);
    if (found) return found;
  }
  return null;
}

/** Waits `ms`, or less when the signal aborts (the timer is cleared, so nothing lingers). */
function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : {}).then(() => undefined);
}

/**
 * Collects the inventory from the live AWS APIs with the calls of SPEC section 2: a fixed number
 * of IAM calls whatever the account's size, plus at most `keyIdLookups` ListAccessKeys calls.
 * Each call goes through the SDK's retry strategy (`awsMaxAttempts` attempts, `awsRetryMode`), so
 * throttling, 5xx and network faults are retried a bounded number of times.
 * Never throws for an AWS failure: each failure becomes an `unread` source naming its call, and so
 * does each source the time budget (`signal`) stopped before it was read.
 */
export async function collectLive(options: LiveOptions): Promise<Inventory> {
  const { settings, signal } = options;
  const collectedAt = (options.now ?? (() => new Date()))();
  const sleep = options.sleep ?? defaultSleep;
  const guard = budgeted(signal);
  const ctx: Context = {
    settings,
    progress: options.onProgress ?? (() => {}),
    sleep: (ms) => guard(() => sleep(ms, signal)),
    budgeted: guard,
    http: signal ? { abortSignal: signal } : undefined,
    notAfter: () => dateBound(Math.max(collectedAt.getTime(), (options.now ?? (() => new Date()))().getTime())),
  };
  const retry = awsRetryConfig(settings);
  const base: ClientBase = {
    maxAttempts: options.maxAttempts ?? retry.maxAttempts,
    retryMode: retry.retryMode,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.retryStrategy ? { retryStrategy: options.retryStrategy } : {}),
  };
  const onAbort = (): void => ctx.progress('time budget exhausted: stopping; what was not read yet is reported as ERROR');
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  const defaultRegion = await resolveDefaultRegion(base);
  // IAM is global: any region of the partition reaches it; us-east-1 when nothing is configured.
  const globalRegion = defaultRegion ?? 'us-east-1';
  const iam = new IAMClient(clientConfig(base, globalRegion));
  const sts = new STSClient(clientConfig(base, globalRegion));
  const regionNames = pickRegions(options.regions, settings.regions, defaultRegion);
  if (regionNames.length > 0) ctx.progress(`reading ElastiCache and DAX in ${regionNames.join(', ')}…`);

  // Only what the selected checks read (CHECK_INPUTS). Within a region ElastiCache and DAX go
  // together: ElastiCache answering is what tells "DAX not offered here" from "unreachable".
  const needed = inputsOf(settings.checks.length > 0 ? settings.checks : CHECK_IDS);
  const regional = needed.has('elastiCache') || needed.has('dax');
  const skippedRegion = (region: string): RegionInventory => ({
    region,
    elastiCache: notNeeded('elasticache:DescribeCacheClusters'),
    dax: notNeeded('dax:DescribeClusters'),
  });

  try {
    const [identity, accountSummary, reportAndKeys, authorizationDetails, regions] = await Promise.all([
      callerIdentity(sts, ctx),
      needed.has('accountSummary') ? readAccountSummary(iam, ctx) : notNeeded<AccountSummary>('iam:GetAccountSummary'),
      needed.has('credentialReport') || needed.has('accessKeys')
        ? readCredentialReport(iam, ctx).then(async (report) => ({
            report,
            accessKeys:
              report.state === 'read' && needed.has('accessKeys') ? await lookupAccessKeys(iam, keyLookupCandidates(report.data, settings, collectedAt), ctx) : {},
          }))
        : { report: notNeeded<CredentialReport>('iam:GetCredentialReport'), accessKeys: {} },
      needed.has('authorizationDetails') ? readAuthorizationDetails(iam, ctx) : notNeeded<AuthorizationDetails>('iam:GetAccountAuthorizationDetails'),
      !regional
        ? (regionNames.length > 0 ? regionNames : [NO_REGION]).map(skippedRegion)
        : regionNames.length > 0
          ? Promise.all(regionNames.map((region) => readRegion(region, base, ctx)))
          : [noRegion()],
    ]);

    let account = identity.ok ? identity.value : null;
    if (!identity.ok) {
      const fallback = accountFromInventory(reportAndKeys.report, authorizationDetails);
      const why = failure('sts:GetCallerIdentity', identity.error);
      ctx.progress(
        `could not identify the account (sts:GetCallerIdentity: ${why.reason}); ${fallback ? `using ${fallback.accountId} from the IAM data` : 'account ID unknown'}`,
      );
      account = fallback;
    }

    return {
      accountId: account?.accountId ?? 'unknown',
      partition: account?.partition ?? 'aws',
      origin: 'live',
      collectedAt: collectedAt.toISOString(),
      accountSummary,
      credentialReport: reportAndKeys.report,
      authorizationDetails,
      regions,
      accessKeys: reportAndKeys.accessKeys,
    };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    iam.destroy();
    sts.destroy();
  }
}
