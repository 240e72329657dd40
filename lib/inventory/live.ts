import { setTimeout as delay } from 'node:timers/promises';
import type { IAMClientConfig } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { accountFromArn, type Account } from '#lib/model/arn.ts';
import { attempt, budgeted, failure, type Outcome } from './calls.ts';
import {
  type ClientClass,
  type ClientConfig,
  isAccountSource,
  isRegionalSource,
  isUserSource,
  type LiveContext,
  NO_REGION,
  type RegionalRead,
  type RegionContext,
  type RetryMode,
  SKIPPED_REASON,
  type SourceDefinition,
} from './definition.ts';
import { unreadSource } from './failure.ts';
import { dateBound } from './integrity.ts';
import { SOURCES } from './registry.ts';
import type {
  AccountSourceFields,
  AuthorizationDetails,
  CredentialReport,
  Inventory,
  InventoryInput,
  RegionInventory,
  Source,
  UserSourceFields,
} from './types.ts';

export const NO_REGION_REASON = 'no region configured: pass --region or set AWS_REGION';

/** A retry strategy as the SDK clients take it (`retryStrategy` in their configuration). */
export type SdkRetryStrategy = NonNullable<IAMClientConfig['retryStrategy']>;

/** Credentials as the SDK clients take them: in organization mode, a refreshing provider of the member role's. */
export type SdkCredentials = NonNullable<IAMClientConfig['credentials']>;

export interface LiveOptions {
  /**
   * What to read: the inputs of the selected checks. The sources they need are read too (see
   * `requires`, and a region is read whole); every other source is `skipped`, its calls saved.
   */
  inputs: ReadonlySet<InventoryInput>;
  /** The regions of the regional sources; empty: the SDK's default region. */
  regions: readonly string[];
  /** The bound on the credential report wait. */
  reportWaitSeconds: number;
  /**
   * The users whose keys are looked up by ID: those whose report rows show an active key
   * `isOverAge` calls over the age limit, oldest first, at most `limit` of them.
   */
  keyLookups: { limit: number; isOverAge: (lastRotated: string, collectedAt: string) => boolean };
  /** SDK attempts per call, the first one included, and the SDK's retry mode. */
  maxAttempts: number;
  retryMode: RetryMode;
  /** A named profile for every client; otherwise the SDK's default credential chain, untouched. */
  profile?: string;
  /**
   * The credentials of every client the collection builds, STS's GetCallerIdentity included: in
   * organization mode the member role's (a provider that refreshes them before they expire).
   * Absent: `profile`, or the SDK's default credential chain.
   */
  credentials?: SdkCredentials;
  /** Copied onto the inventory as is: the organization context of organization mode (SPEC 8). */
  organization?: Inventory['organization'];
  /** Progress lines for the slow steps (report generation, paging). */
  onProgress?: (message: string) => void;
  /** The credential report wait; it must stop when `signal` aborts (the default one does). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => Date;
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
  retryStrategy?: (retry: { maxAttempts: number; retryMode: RetryMode }) => SdkRetryStrategy;
}

interface ClientBase {
  maxAttempts: number;
  retryMode: RetryMode;
  profile?: string;
  credentials?: SdkCredentials;
  retryStrategy?: LiveOptions['retryStrategy'];
}

/**
 * One client's configuration. The retry settings are given explicitly, so AWS_MAX_ATTEMPTS or a
 * profile's `max_attempts` cannot lift the bound; a strategy is built per client because it holds
 * state (the retry quota, adaptive mode's rate).
 */
function clientConfig(base: ClientBase, region?: string): ClientConfig {
  const { retryStrategy, ...config } = base;
  return {
    ...config,
    ...(retryStrategy ? { retryStrategy: retryStrategy({ maxAttempts: base.maxAttempts, retryMode: base.retryMode }) } : {}),
    ...(region ? { region } : {}),
  };
}

/** One client per class, built on first use, destroyed with the set. */
function clientSet(base: ClientBase, region: string) {
  const clients = new Map<ClientClass<{ destroy(): void }>, { destroy(): void }>();
  return {
    get<C extends { destroy(): void }>(Client: ClientClass<C>): C {
      let client = clients.get(Client) as C | undefined;
      if (!client) {
        client = new Client(clientConfig(base, region));
        clients.set(Client, client);
      }
      return client;
    },
    destroy(): void {
      for (const client of clients.values()) client.destroy();
    },
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

async function callerIdentity(sts: STSClient, ctx: LiveContext): Promise<Outcome<Account>> {
  return attempt(async () => {
    const out = await ctx.budgeted(() => sts.send(new GetCallerIdentityCommand({}), ctx.http));
    const fromArn = out.Arn ? accountFromArn(out.Arn) : null;
    const accountId = out.Account ?? fromArn?.accountId;
    if (!accountId) throw new Error('GetCallerIdentity returned no account');
    return { accountId, partition: fromArn?.partition ?? 'aws' };
  });
}

/** When STS is unreachable, any ARN the account returned still names it; the root row first. */
function accountFromInventory(report: Source<CredentialReport>, details: Source<AuthorizationDetails>): Account | null {
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

const skipped = <T>(call: string): Source<T> => ({ state: 'skipped', call, reason: SKIPPED_REASON });

/**
 * The inputs to read: those asked for and those they require. A region is read whole: its sources
 * share the region's clients, and ElastiCache answering is what tells "DAX not offered here" from
 * "unreachable".
 */
function inputsToRead(asked: ReadonlySet<InventoryInput>): Set<InventoryInput> {
  const read = new Set<InventoryInput>();
  const add = (input: InventoryInput): void => {
    if (read.has(input)) return;
    read.add(input);
    for (const required of SOURCES.find((s) => s.input === input)?.requires ?? []) add(required);
  };
  for (const input of asked) add(input);
  const regional = SOURCES.filter(isRegionalSource);
  if (regional.some((s) => read.has(s.input))) for (const s of regional) add(s.input);
  return read;
}

/**
 * Collects the inventory from the live AWS APIs with the calls of SPEC section 2: a fixed number
 * of IAM calls whatever the account's size, plus at most `keyLookups.limit` ListAccessKeys calls.
 * Each call goes through the SDK's retry strategy (`maxAttempts` attempts, `retryMode`), so
 * throttling, 5xx and network faults are retried a bounded number of times.
 * Never throws for an AWS failure: each failure becomes an `unread` source naming its call, and so
 * does each source the time budget (`signal`) stopped before it was read.
 */
export async function collectLive(options: LiveOptions): Promise<Inventory> {
  const { signal } = options;
  const now = options.now ?? (() => new Date());
  const collectedAt = now();
  const sleep = options.sleep ?? defaultSleep;
  const guard = budgeted(signal);
  const progress = options.onProgress ?? (() => {});
  const base: ClientBase = {
    maxAttempts: options.maxAttempts,
    retryMode: options.retryMode,
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.retryStrategy ? { retryStrategy: options.retryStrategy } : {}),
  };
  const onAbort = (): void => progress('time budget exhausted: stopping; what was not read yet is reported as ERROR');
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  const defaultRegion = await resolveDefaultRegion(base);
  // IAM is global: any region of the partition reaches it; us-east-1 when nothing is configured.
  const globalClients = clientSet(base, defaultRegion ?? 'us-east-1');
  const regionNames = [...new Set(options.regions.length > 0 ? options.regions : defaultRegion ? [defaultRegion] : [])];
  const regionalSources = SOURCES.filter(isRegionalSource);
  if (regionNames.length > 0) progress(`reading ${regionalSources.map((s) => s.service).join(' and ')} in ${regionNames.join(', ')}…`);

  const toRead = inputsToRead(options.inputs);
  // The readers of the sources to read, loaded before any call starts.
  const load = <D extends SourceDefinition>(defs: D[]) =>
    Promise.all(
      defs.map(async (def) => ({ def, reader: toRead.has(def.input) ? ((await def.live()) as Awaited<ReturnType<D['live']>>) : null })),
    );
  const [account, regional, perUser] = await Promise.all([
    load(SOURCES.filter(isAccountSource)),
    load(regionalSources),
    load(SOURCES.filter(isUserSource)),
  ]);
  const read = new Map<InventoryInput, Promise<Source<unknown>>>();
  const ctx: LiveContext = {
    options,
    collectedAt,
    progress,
    sleep: (ms) => guard(() => sleep(ms, signal)),
    budgeted: guard,
    http: signal ? { abortSignal: signal } : undefined,
    notAfter: () => dateBound(Math.max(collectedAt.getTime(), now().getTime())),
    client: (Client) => globalClients.get(Client),
    read: (input) => read.get(input) as never,
  };

  const readRegion = async (region: string): Promise<RegionInventory> => {
    const clients = clientSet(base, region);
    const reads = new Map<InventoryInput, Promise<RegionalRead<unknown>>>();
    try {
      for (const { def, reader } of regional) {
        const regionCtx: RegionContext = {
          ...ctx,
          region,
          client: (Client) => clients.get(Client),
          othersAnswered: async () => {
            const others = await Promise.all([...reads].filter(([input]) => input !== def.input).map(([, r]) => r));
            return others.some((r) => r.answered);
          },
        };
        reads.set(def.input, reader ? reader.read(regionCtx) : Promise.resolve({ source: skipped(def.call), answered: false }));
      }
      const sources = await Promise.all([...reads].map(async ([input, r]) => [input, (await r).source] as const));
      return { region, ...Object.fromEntries(sources) } as RegionInventory;
    } finally {
      clients.destroy();
    }
  };
  const noRegion = (): RegionInventory =>
    ({
      region: NO_REGION,
      ...Object.fromEntries(
        regional.map(({ def, reader }) => [def.input, reader ? unreadSource(def.call, NO_REGION_REASON) : skipped(def.call)]),
      ),
    }) as RegionInventory;

  try {
    const identity = callerIdentity(globalClients.get(STSClient), ctx);
    for (const { def, reader } of account) read.set(def.input, reader ? reader.read(ctx) : Promise.resolve(skipped(def.call)));
    const users = Promise.all(perUser.map(async ({ def, reader }) => [def.input, reader ? await reader.read(ctx) : {}] as const));
    const regions = Promise.all(regionNames.length > 0 ? regionNames.map(readRegion) : [noRegion()]);
    const [who, accountSources, userSources, regionInventories] = await Promise.all([
      identity,
      Promise.all([...read].map(async ([input, source]) => [input, await source] as const)),
      users,
      regions,
    ]);
    const sources = Object.fromEntries(accountSources) as AccountSourceFields;

    let found = who.ok ? who.value : null;
    if (!who.ok) {
      const fallback = accountFromInventory(sources.credentialReport, sources.authorizationDetails);
      const why = failure('sts:GetCallerIdentity', who.error);
      const using = fallback ? `using ${fallback.accountId} from the IAM data` : 'account ID unknown';
      progress(`could not identify the account (sts:GetCallerIdentity: ${why.reason}); ${using}`);
      found = fallback;
    }

    return {
      accountId: found?.accountId ?? 'unknown',
      partition: found?.partition ?? 'aws',
      origin: 'live',
      collectedAt: collectedAt.toISOString(),
      ...sources,
      regions: regionInventories,
      ...(Object.fromEntries(userSources) as UserSourceFields),
      ...(options.organization ? { organization: options.organization } : {}),
    };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    globalClients.destroy();
  }
}
