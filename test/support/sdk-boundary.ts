/**
 * The mocked AWS world of mock-aws.ts, served from UNDER the SDK's middleware stack.
 *
 * aws-sdk-client-mock replaces `Client#send`, so a mocked call never meets the SDK's retry
 * middleware: an error it injects is thrown once, as if the SDK had given up at the first attempt.
 * Here `send` is the SDK's own again (serialization, endpoint, retry, signing), and a middleware
 * at the `deserialize` step, inside the retry loop where the HTTP response would be parsed,
 * answers every attempt: with a fault from `inject`, or from the aws-sdk-client-mock stub (the
 * fixture, which records the call as usual and may itself reject). The HTTP handler is never
 * reached: nothing leaves the process. Credentials are fake ones from the environment, so that
 * the signing middleware has something to sign with and the chain never looks for more.
 */
import { DAXClient, DAXServiceException } from '@aws-sdk/client-dax';
import { ElastiCacheClient, ElastiCacheServiceException } from '@aws-sdk/client-elasticache';
import { IAMClient, IAMServiceException } from '@aws-sdk/client-iam';
import { STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { AdaptiveRetryStrategy, DefaultRateLimiter, StandardRetryStrategy } from '@smithy/core/retry';
import { vi } from 'vitest';
import { evaluateChecks } from '#lib/audit/run.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import type { Finding } from '#lib/model/finding.ts';
import { collectLive, type LiveOptions } from '#lib/inventory/live.ts';
import { type LiveRequest, liveOptions } from '#lib/audit/collect.ts';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import { parseSettings, type SettingsInput } from '#lib/settings.ts';
import { FIXTURE_NOW } from './aws.ts';
import { dax, elastiCache, iam, sts } from './mock-aws.ts';

export type Service = 'iam' | 'sts' | 'elasticache' | 'dax';

export interface SdkAttempt {
  /** The collector's call (one `send`) this attempt belongs to, numbered from 1. */
  call: number;
  service: Service;
  /** The API name, e.g. `GetAccountSummary`. */
  command: string;
  input: Record<string, unknown>;
  /** The retry middleware's own count, from the `amz-sdk-request: attempt=2; max=3` header it sets. */
  attempt: number;
  max: number;
  /** `ok`, or the code of the error the attempt ended with. */
  outcome: string;
  /** performance.now() when the attempt started. */
  at: number;
}

/** Answers an attempt with a fault instead of the fixture; HANG keeps it in flight until aborted. */
export type Inject = (attempt: Omit<SdkAttempt, 'outcome' | 'at'>) => Error | typeof HANG | undefined;

/** An attempt that never answers, like a request with no response, until its abortSignal fires. */
export const HANG = Symbol('hang');

export interface Boundary {
  attempts: SdkAttempt[];
  /** The calls as the collector made them, each with its attempts, in the order they started. */
  calls(): { call: number; service: Service; command: string; input: Record<string, unknown>; attempts: number; outcome: string }[];
  restore(): void;
}

const SERVICES: [Service, { prototype: object }, { send: unknown }][] = [
  ['iam', IAMClient, iam],
  ['sts', STSClient, sts],
  ['elasticache', ElastiCacheClient, elastiCache],
  ['dax', DAXClient, dax],
];

type Send = (this: unknown, command: unknown, options?: unknown) => Promise<unknown>;
type Middleware = (next: (args: unknown) => Promise<unknown>, context: Record<string, unknown>) => (args: unknown) => Promise<unknown>;
interface CommandLike {
  input: Record<string, unknown>;
  constructor: { name: string };
  middlewareStack: { add: (middleware: Middleware, options: Record<string, unknown>) => void };
}

function outcomeOf(error: unknown): string {
  const e = error as { Code?: unknown; name?: unknown; code?: unknown };
  if (typeof e?.Code === 'string') return e.Code;
  if (typeof e?.name === 'string' && e.name !== 'Error') return e.name;
  return typeof e?.code === 'string' ? e.code : 'Error';
}

/**
 * Puts the world under the SDK for every client class of the collector. Call it after resetAws()
 * and the fixtures (mockClient stubs are recreated by resetAws); restore() before the next reset.
 */
export function serveUnderSdk(inject: Inject = () => undefined): Boundary {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_MAX_ATTEMPTS', undefined);
  vi.stubEnv('AWS_RETRY_MODE', undefined);
  const attempts: SdkAttempt[] = [];
  const restores: (() => void)[] = [];
  let calls = 0;
  for (const [service, clientClass, stub] of SERVICES) {
    const proto = clientClass.prototype as { send: Send };
    const fixture = stub.send as Send;
    const realSend = (Object.getPrototypeOf(proto) as { send: Send }).send;
    proto.send = function (this: unknown, command: unknown, options?: unknown) {
      const cmd = command as CommandLike;
      const call = ++calls;
      const middleware: Middleware = (_next, context) => async (args) => {
        const header = String((args as { request?: { headers?: Record<string, string> } }).request?.headers?.['amz-sdk-request'] ?? '');
        const [, attempt = '0', max = '0'] = /attempt=(\d+); max=(\d+)/.exec(header) ?? [];
        const base = {
          call,
          service,
          command: cmd.constructor.name.replace(/Command$/, ''),
          input: cmd.input,
          attempt: Number(attempt),
          max: Number(max),
        };
        const record: SdkAttempt = { ...base, outcome: 'ok', at: performance.now() };
        attempts.push(record);
        const fault = inject(base);
        try {
          if (fault === HANG) {
            const signal = (context.__smithy_context as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
            await new Promise((_, reject) => {
              // What the Node HTTP handler throws when the signal aborts its request.
              const abort = () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
              if (signal?.aborted) abort();
              signal?.addEventListener('abort', abort, { once: true });
            });
          }
          if (fault) throw fault;
          const output = (await fixture.call(this, command, options)) as Record<string, unknown> | undefined;
          return {
            output: { ...output, $metadata: { httpStatusCode: 200, requestId: `fixture-${call}-${attempt}` } },
            response: { statusCode: 200, headers: {} },
          };
        } catch (error) {
          record.outcome = outcomeOf(error);
          throw error;
        }
      };
      cmd.middlewareStack.add(middleware, { step: 'deserialize', priority: 'high', name: 'fixtureWorldMiddleware', override: true });
      return realSend.call(this, command, options);
    };
    restores.push(() => {
      proto.send = fixture;
    });
  }
  return {
    attempts,
    calls() {
      const byCall = new Map<number, ReturnType<Boundary['calls']>[number]>();
      for (const a of attempts) {
        const seen = byCall.get(a.call);
        if (seen) Object.assign(seen, { attempts: seen.attempts + 1, outcome: a.outcome });
        else byCall.set(a.call, { call: a.call, service: a.service, command: a.command, input: a.input, attempts: 1, outcome: a.outcome });
      }
      return [...byCall.values()];
    },
    restore() {
      for (const r of restores) r();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Faults, as the SDK would deliver them to its retry strategy

const EXCEPTIONS = {
  iam: IAMServiceException,
  sts: STSServiceException,
  elasticache: ElastiCacheServiceException,
  dax: DAXServiceException,
} as const;

/**
 * A service error as the deserializer builds it. IAM, STS and ElastiCache speak awsQuery: the
 * error's name is the wire code, also copied into `Code`. DAX speaks JSON: the name is the
 * `__type`, and DAX's throttling code is ThrottlingException.
 */
export function serviceFault(service: Service, code: string, status: number, message = `${code} (injected)`): Error {
  const Exception = EXCEPTIONS[service];
  const error = new Exception({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode: status, requestId: '5e1f0c2a-injected', attempts: 1, totalRetryDelay: 0 },
  });
  return service === 'dax' ? error : Object.assign(error, { Type: status >= 500 ? 'Receiver' : 'Sender', Code: code });
}

/** A socket error as Node's HTTP stack raises it: name `Error`, the code in `code`. */
export function networkFault(code: 'ECONNRESET' | 'ETIMEDOUT'): Error {
  const detail =
    code === 'ECONNRESET' ? { errno: -104, syscall: 'read' } : { errno: -110, syscall: 'connect', address: '52.94.225.3', port: 443 };
  return Object.assign(new Error(code === 'ECONNRESET' ? 'read ECONNRESET' : 'connect ETIMEDOUT 52.94.225.3:443'), { code, ...detail });
}

export interface FaultKind {
  name: string;
  make: (service: Service) => Error;
  /** The code the collector must name for this fault on this service. */
  code: (service: Service) => string;
}

export const FAULT_KINDS: FaultKind[] = [
  {
    name: 'Throttling',
    make: (s) =>
      s === 'dax' ? serviceFault(s, 'ThrottlingException', 400, 'Rate exceeded') : serviceFault(s, 'Throttling', 400, 'Rate exceeded'),
    code: (s) => (s === 'dax' ? 'ThrottlingException' : 'Throttling'),
  },
  {
    name: 'RequestLimitExceeded',
    make: (s) => serviceFault(s, 'RequestLimitExceeded', 400, 'Request limit exceeded.'),
    code: () => 'RequestLimitExceeded',
  },
  {
    name: 'ServiceUnavailable (503)',
    make: (s) => serviceFault(s, 'ServiceUnavailable', 503, 'Service Unavailable'),
    code: () => 'ServiceUnavailable',
  },
  {
    name: 'InternalFailure (500)',
    make: (s) => serviceFault(s, 'InternalFailure', 500, 'We encountered an internal error. Please try again.'),
    code: () => 'InternalFailure',
  },
  { name: 'ECONNRESET', make: () => networkFault('ECONNRESET'), code: () => 'ECONNRESET' },
  { name: 'ETIMEDOUT', make: () => networkFault('ETIMEDOUT'), code: () => 'ETIMEDOUT' },
];

// ---------------------------------------------------------------------------------------------
// A whole collection through the boundary

/** The region of small-account.ts's DAX cluster, and the only one audited through the boundary. */
export const SDK_REGION = 'us-east-1';

/** The SDK's backoff, minus the waiting. */
const NO_BACKOFF = { computeNextBackoffDelay: () => 0, setDelayBase: () => {} };

/**
 * The SDK's own strategies, as it builds them from `maxAttempts` and `retryMode` (classification,
 * attempt bound, retry quota, adaptive rate limiter), with a zero backoff so that tests never sleep.
 */
export const fastRetry: NonNullable<LiveOptions['retryStrategy']> = ({ maxAttempts, retryMode }) =>
  retryMode === 'adaptive'
    ? // The real rate limiter, with a floor so high that it never has to wait for a token.
      new AdaptiveRetryStrategy(maxAttempts, {
        maxAttempts,
        backoff: NO_BACKOFF,
        rateLimiter: new DefaultRateLimiter({ minFillRate: 1e6, minCapacity: 1e6 }),
      })
    : new StandardRetryStrategy({ maxAttempts, backoff: NO_BACKOFF });

export interface SdkRun {
  inventory: Inventory;
  findings: Finding[];
  calls: ReturnType<Boundary['calls']>;
  attempts: SdkAttempt[];
  /** What the credential report wait was asked to sleep. */
  waits: number[];
}

/** One collection through the SDK boundary (fast retries, instant report wait), and every check's findings on it. */
export async function auditThroughSdk(
  settingsInput: SettingsInput = {},
  inject?: Inject,
  options: Partial<LiveRequest> = {},
): Promise<SdkRun> {
  const settings = parseSettings(settingsInput);
  const boundary = serveUnderSdk(inject);
  const waits: number[] = [];
  try {
    const inventory = await collectLive(
      liveOptions({
        settings,
        regions: [SDK_REGION],
        now: () => FIXTURE_NOW,
        sleep: async (ms) => {
          waits.push(ms);
        },
        retryStrategy: fastRetry,
        ...options,
      }),
    );
    return {
      inventory,
      findings: evaluateChecks(inventory, settings, ALL_CHECKS).findings,
      calls: boundary.calls(),
      attempts: boundary.attempts,
      waits,
    };
  } finally {
    boundary.restore();
  }
}

/** Every source of an inventory, by name: `credentialReport`, `us-east-1.dax`, `accessKeys.bob`… */
export function sources(inv: Inventory): [string, Source<unknown>][] {
  return [
    ['accountSummary', inv.accountSummary],
    ['credentialReport', inv.credentialReport],
    ['authorizationDetails', inv.authorizationDetails],
    ...inv.regions.flatMap((r): [string, Source<unknown>][] => [
      [`${r.region}.elastiCache`, r.elastiCache],
      [`${r.region}.dax`, r.dax],
    ]),
    ...Object.entries(inv.accessKeys).map(([user, s]): [string, Source<unknown>] => [`accessKeys.${user}`, s]),
  ];
}

export function unreadSources(inv: Inventory): string[] {
  return sources(inv)
    .filter(([, s]) => s.state === 'unread')
    .map(([name]) => name);
}
