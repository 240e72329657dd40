/**
 * What the benchmarks share: the synthetic account of a given size (test/support/aws.ts
 * generateAccount with the benchmark's mix), its regional resources, the simulated round trip
 * around every mocked SDK call, and the store (dynalite in a worker thread). Used by
 * bench/run-size.ts (one account) and bench/organization.ts (an organization of them).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CacheCluster, ReplicationGroup } from '@aws-sdk/client-elasticache';
import type { Cluster as DaxCluster } from '@aws-sdk/client-dax';
import { startLocalStore } from '#lib/store/local.ts';
import {
  cacheCluster,
  daxCluster,
  FIXTURE_ACCOUNT_ID,
  type GeneratedAccount,
  generateAccount,
  replicationGroup,
  roleArn,
} from '#test/aws.ts';

/**
 * The benchmark's account of `users` IAM users: groups, roles, policies and administrators grow
 * with it; 0-2 keys per user aged 0-400 days, 30% of users with an active over-age key. The same
 * seed for every size and account, so that a size always generates the same account.
 */
export function benchAccount(users: number, accountId: string = FIXTURE_ACCOUNT_ID): GeneratedAccount {
  return generateAccount({
    users,
    groups: Math.max(10, Math.round(users / 100)),
    roles: Math.max(20, Math.round(users / 50)),
    customerPolicies: Math.max(10, Math.round(users / 200)),
    adminUsers: Math.max(2, Math.round(users / 500)),
    overAgeKeyRatio: 0.3,
    inactiveOverAgeKeyRatio: 0.05,
    secondKeyRatio: 0.15,
    // 0-2 keys per user, aged 0-400 days.
    keylessRatio: 0.2,
    oldestKeyDays: 400,
    rootAccessKey: 'inactive',
    seed: 7,
    accountId,
  });
}

export interface RegionWorld {
  cacheClusters: CacheCluster[];
  replicationGroups: ReplicationGroup[];
  daxClusters: DaxCluster[];
}

/** Regional resources grow with the account: a few pages of ElastiCache at 10,000 users. */
export function regionWorld(users: number, region: string, accountId: string = FIXTURE_ACCOUNT_ID): RegionWorld {
  const groups = Math.max(1, Math.round(users / 200));
  const replicationGroups = Array.from({ length: groups }, (_, i) => replicationGroup({ id: `rg-${region}-${i + 1}`, region, accountId }));
  const members = replicationGroups.flatMap((g) =>
    g.MemberClusters!.map((id) => cacheCluster({ id, region, accountId, replicationGroupId: g.ReplicationGroupId! })),
  );
  const standalone = Array.from({ length: Math.max(1, Math.round(users / 100)) }, (_, i) =>
    cacheCluster({ id: `mc-${region}-${i + 1}`, region, accountId, engine: i % 3 === 0 ? 'memcached' : 'valkey' }),
  );
  const daxClusters = Array.from({ length: Math.max(1, Math.round(users / 1000)) }, (_, i) =>
    daxCluster({
      name: `dax-${region}-${i + 1}`,
      region,
      accountId,
      // Most use the DAX service role; every fourth an application role that does not trust DAX.
      iamRoleArn: i % 4 === 3 ? roleArn('app-role-001', '/', accountId) : roleArn('DAXServiceRole', '/', accountId),
    }),
  );
  return { cacheClusters: [...members, ...standalone], replicationGroups, daxClusters };
}

/** A mocked SDK client class: aws-sdk-client-mock replaces `send` on its prototype. */
export type MockedClientClass = { prototype: { send: (...a: never[]) => Promise<unknown> } };

/**
 * mockClient stubs `send` on the client's prototype; wrapping that stub adds the round trip while
 * the stub still records every call (success or error) for the counts. `onCall` sees the client
 * and the command before the round trip (to count calls per account). With `fake`, the time the
 * stub takes until it returns (sinon's recording and the fake's answer, all of it when the fake
 * answers synchronously) is added to `fake.ms`: the fake's own work on the auditor's thread.
 */
export function withLatency(
  clientClass: MockedClientClass,
  latencyMs: number,
  onCall?: (client: unknown, command: unknown) => void | Promise<void>,
  fake?: { ms: number },
): void {
  const stub = clientClass.prototype.send;
  clientClass.prototype.send = async function (this: unknown, ...a: never[]) {
    if (onCall) await onCall(this, a[0]);
    if (latencyMs > 0) await delay(latencyMs);
    if (!fake) return stub.apply(this, a);
    const t = performance.now();
    try {
      return stub.apply(this, a);
    } finally {
      fake.ms += performance.now() - t;
    }
  } as typeof stub;
}

export interface BenchStore {
  client: DynamoDBClient;
  tableName: string;
  close: () => Promise<void>;
  /** Milliseconds the store's thread or process has been busy (its event loop active); absent on the main thread. */
  busyMs?: () => Promise<number>;
  /** The store thread's used heap in MB (the table dynalite keeps in memory); absent on the main thread. */
  heapMb?: () => Promise<number>;
}

/**
 * dynalite runs in a worker thread (bench/store-worker.ts): the table's own work is DynamoDB's in
 * production, so it must not queue behind the auditor's code on one thread. `process` runs it in a
 * child process, so that neither its CPU nor its in-memory table counts in the benchmark process's
 * figures (the organization's peak RSS is the auditor's); `main` puts it back on the main thread,
 * to compare. The auditor's side is the same in each: a DynamoDBClient over HTTP.
 */
export async function startStore(thread: 'worker' | 'process' | 'main' = 'worker'): Promise<BenchStore> {
  if (thread === 'main') return startLocalStore(null);
  if (thread === 'process') return startStoreProcess();
  // Workers do not inherit the --import tsx hook: register it in the thread, then load the .ts file.
  const entry = new URL('./store-worker.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, {
    eval: true,
  });
  const ready = (await once(worker, 'message')) as [{ endpoint: string; tableName: string }];
  const { endpoint, tableName } = ready[0];
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    client,
    tableName,
    busyMs: async () => worker.performance.eventLoopUtilization().active,
    heapMb: async () => {
      worker.postMessage('heap');
      const [reply] = (await once(worker, 'message')) as [{ heapUsedBytes: number }];
      return reply.heapUsedBytes / 1024 / 1024;
    },
    close: async () => {
      client.destroy();
      worker.postMessage('close');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}

async function startStoreProcess(): Promise<BenchStore> {
  const child = fork(new URL('./store-worker.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', '--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = async <T>(message: string): Promise<T> => {
    child.send(message);
    const [reply] = (await once(child, 'message')) as [T];
    return reply;
  };
  const [ready] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the store process exited (code ${code}) before it served`);
    }),
  ])) as [{ endpoint: string; tableName: string }];
  const { endpoint, tableName } = ready;
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    client,
    tableName,
    busyMs: async () => (await ask<{ busyMs: number }>('busy')).busyMs,
    heapMb: async () => (await ask<{ heapUsedBytes: number }>('heap')).heapUsedBytes / 1024 / 1024,
    close: async () => {
      client.destroy();
      await ask('close');
      child.disconnect();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** Counts every call a DynamoDB client makes (dynalite's share of the run). */
export function countCalls(client: DynamoDBClient): { readonly count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next) => (a) => {
      counter.count++;
      return next(a);
    },
    { step: 'initialize', name: 'benchCountCalls' },
  );
  return counter;
}
