/**
 * One benchmark size, in its own process (so that peak RSS is this size's alone): generates a
 * synthetic account, serves it at the SDK boundary with aws-sdk-client-mock (exact AWS response
 * shapes and paging, a simulated round trip per call), and runs the whole audit stage by stage:
 * collect, evaluate, reconcile, persist (in-process dynalite), alert. Prints one JSON line.
 *
 * Run by bench/bench.ts: `node --import tsx bench/run-size.ts --users 1000 --latency 50`.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  type CacheCluster,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  type ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import { type Cluster as DaxCluster, DAXClient, DescribeClustersCommand } from '@aws-sdk/client-dax';
import { mockClient } from 'aws-sdk-client-mock';
import { collectLive } from '#lib/inventory/live.ts';
import { liveOptions } from '#lib/audit/collect.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { runAudit } from '#lib/audit/run.ts';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import { buildAlert, shouldAlert } from '#lib/notify/alert.ts';
import { parseSettings } from '#lib/settings.ts';
import { startLocalStore } from '#lib/store/local.ts';
import { FindingsStore } from '#lib/store/store.ts';
import {
  cacheCluster,
  callerIdentityResponse,
  daxCluster,
  FIXTURE_NOW,
  generateAccount,
  markerPage,
  mockIam,
  replicationGroup,
  roleArn,
} from '#test/aws.ts';
import { guardNetwork } from './safety.ts';

guardNetwork();

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100' },
    latency: { type: 'string', default: '50' },
    'store-thread': { type: 'string', default: 'worker' },
  },
});
const USERS = Number(args.users);
const LATENCY_MS = Number(args.latency);
const REGIONS = ['eu-west-1', 'us-east-1'];

// ---------------------------------------------------------------------------------------------
// The synthetic account (test/support/aws.ts generateAccount), scaled with the user count.

const account = generateAccount({
  users: USERS,
  groups: Math.max(10, Math.round(USERS / 100)),
  roles: Math.max(20, Math.round(USERS / 50)),
  customerPolicies: Math.max(10, Math.round(USERS / 200)),
  adminUsers: Math.max(2, Math.round(USERS / 500)),
  overAgeKeyRatio: 0.3,
  inactiveOverAgeKeyRatio: 0.05,
  secondKeyRatio: 0.15,
  // 0-2 keys per user, aged 0-400 days.
  keylessRatio: 0.2,
  oldestKeyDays: 400,
  rootAccessKey: 'inactive',
  seed: 7,
});

interface RegionWorld {
  cacheClusters: CacheCluster[];
  replicationGroups: ReplicationGroup[];
  daxClusters: DaxCluster[];
}

/** Regional resources grow with the account: a few pages of ElastiCache at 10,000 users. */
function regionWorld(region: string): RegionWorld {
  const groups = Math.max(1, Math.round(USERS / 200));
  const replicationGroups = Array.from({ length: groups }, (_, i) => replicationGroup({ id: `rg-${region}-${i + 1}`, region }));
  const members = replicationGroups.flatMap((g) =>
    g.MemberClusters!.map((id) => cacheCluster({ id, region, replicationGroupId: g.ReplicationGroupId! })),
  );
  const standalone = Array.from({ length: Math.max(1, Math.round(USERS / 100)) }, (_, i) =>
    cacheCluster({ id: `mc-${region}-${i + 1}`, region, engine: i % 3 === 0 ? 'memcached' : 'valkey' }),
  );
  const daxClusters = Array.from({ length: Math.max(1, Math.round(USERS / 1000)) }, (_, i) =>
    daxCluster({
      name: `dax-${region}-${i + 1}`,
      region,
      // Most use the DAX service role; every fourth an application role that does not trust DAX.
      iamRoleArn: i % 4 === 3 ? roleArn('app-role-001') : roleArn('DAXServiceRole'),
    }),
  );
  return { cacheClusters: [...members, ...standalone], replicationGroups, daxClusters };
}
const world = Object.fromEntries(REGIONS.map((r) => [r, regionWorld(r)]));

/** Resident set after each step (MB): where the peak comes from. The generated account itself stays resident. */
const rssMb = (): number => Math.round(process.memoryUsage().rss / 1024 / 1024);
const rssAfter: Record<string, number> = { generate: rssMb() };

// ---------------------------------------------------------------------------------------------
// The SDK boundary: aws-sdk-client-mock stubs, then a round trip of LATENCY_MS around every send.

const iam = mockClient(IAMClient);
const sts = mockClient(STSClient);
const elastiCache = mockClient(ElastiCacheClient);
const dax = mockClient(DAXClient);

mockIam(iam, account);
sts.on(GetCallerIdentityCommand).resolves(callerIdentityResponse(account.accountId));

/** As test/support/mock-aws.ts serveRegions: each call answered from the region its client was built for. */
async function worldOf(getClient: () => unknown): Promise<RegionWorld> {
  const region = await (getClient() as { config: { region: () => Promise<string> } }).config.region();
  const w = world[region];
  if (!w) throw new Error(`benchmark world has no region ${region}`);
  return w;
}
elastiCache.on(DescribeCacheClustersCommand).callsFake(async (input: { Marker?: string; MaxRecords?: number }, getClient) => {
  const page = markerPage((await worldOf(getClient)).cacheClusters, input.Marker, Math.min(input.MaxRecords ?? 100, 100));
  return { CacheClusters: page.items, ...(page.next ? { Marker: page.next } : {}) };
});
elastiCache.on(DescribeReplicationGroupsCommand).callsFake(async (input: { Marker?: string; MaxRecords?: number }, getClient) => {
  const page = markerPage((await worldOf(getClient)).replicationGroups, input.Marker, Math.min(input.MaxRecords ?? 100, 100));
  return { ReplicationGroups: page.items, ...(page.next ? { Marker: page.next } : {}) };
});
dax.on(DescribeClustersCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }, getClient) => {
  const page = markerPage((await worldOf(getClient)).daxClusters, input.NextToken, Math.min(input.MaxResults ?? 100, 100));
  return { Clusters: page.items, ...(page.next ? { NextToken: page.next } : {}) };
});

/**
 * mockClient stubs `send` on the client's prototype; wrapping that stub adds the round trip while
 * the stub still records every call (success or error) for the counts.
 */
function withLatency(clientClass: { prototype: { send: (...a: never[]) => Promise<unknown> } }): void {
  const stub = clientClass.prototype.send;
  clientClass.prototype.send = async function (this: unknown, ...a: never[]) {
    if (LATENCY_MS > 0) await delay(LATENCY_MS);
    return stub.apply(this, a);
  } as typeof stub;
}
for (const c of [IAMClient, STSClient, ElastiCacheClient, DAXClient]) withLatency(c as never);

// ---------------------------------------------------------------------------------------------
// The audit, stage by stage (auditAndRecord does not expose stage timings).

const settings = parseSettings({ regions: REGIONS });
/**
 * dynalite runs in a worker thread (bench/store-worker.ts): the table's own work is DynamoDB's in
 * production, so it must not queue behind the auditor's code on one thread. `--store-thread main`
 * puts it back on the main thread, to compare.
 */
async function startStore(): Promise<{ client: DynamoDBClient; tableName: string; close: () => Promise<void> }> {
  if (args['store-thread'] === 'main') return startLocalStore(null);
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
    close: async () => {
      client.destroy();
      worker.postMessage('close');
      await once(worker, 'message');
      await worker.terminate();
    },
  };
}
const local = await startStore();
let ddbCalls = 0;
local.client.middlewareStack.add(
  (next) => (a) => {
    ddbCalls++;
    return next(a);
  },
  { step: 'initialize', name: 'benchCountCalls' },
);
const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: settings.historyTtlDays });

const sleeps: number[] = [];
let collectEnd = 0;
const t0 = performance.now();
const result = await runAudit({
  collect: async (): Promise<Inventory> => {
    const inv = await collectLive(
      liveOptions({
        settings,
        now: () => FIXTURE_NOW,
        // The report is COMPLETE on the first call (mockIam); a poll would only be recorded.
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      }),
    );
    collectEnd = performance.now();
    rssAfter.collect = rssMb();
    return inv;
  },
  settings,
  trigger: 'schedule',
});
const t1 = performance.now();
rssAfter.evaluate = rssMb();
// As auditAndRecord: the lease, then the stored state read under it.
const lease = await store.acquireLease(result.run.accountId, result.run.runId);
const previous = await store.loadState(result.run.accountId);
const observed = await store.loadObserved(result.run.accountId);
const t2a = performance.now();
const reconciled = reconcile(result, previous, settings.mutes, observed);
const t2 = performance.now();
rssAfter.reconcile = rssMb();
const saved = await store.saveRun(reconciled, { lease });
await store.releaseLease(lease);
const t3 = performance.now();
rssAfter.persist = rssMb();
const decision = shouldAlert(reconciled, settings);
const alert = buildAlert(reconciled, settings, { tableName: local.tableName });
const t4 = performance.now();
rssAfter.alert = rssMb();

const iamByCommand: Record<string, number> = {};
for (const call of iam.calls()) {
  const name = (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
  iamByCommand[name] = (iamByCommand[name] ?? 0) + 1;
}
const calls = {
  iam: iam.calls().length,
  sts: sts.calls().length,
  elastiCache: elastiCache.calls().length,
  dax: dax.calls().length,
  dynamodbLocal: ddbCalls,
};
const peakRssMb = process.resourceUsage().maxRSS / 1024;

// The next night, against the state the first one stored: the steady state of a nightly job,
// where every stored finding is compared and rewritten (lastSeen) and the rest skipped.
const NEXT_NIGHT = new Date(FIXTURE_NOW.getTime() + 86_400_000);
const n0 = performance.now();
const nextResult = await runAudit({
  collect: () => collectLive(liveOptions({ settings, now: () => NEXT_NIGHT, sleep: async () => {} })),
  settings,
  trigger: 'schedule',
});
const nextLease = await store.acquireLease(nextResult.run.accountId, nextResult.run.runId);
const nextReconciled = reconcile(
  nextResult,
  await store.loadState(nextResult.run.accountId),
  settings.mutes,
  await store.loadObserved(nextResult.run.accountId),
);
const n1 = performance.now();
const nextSaved = await store.saveRun(nextReconciled, { lease: nextLease });
await store.releaseLease(nextLease);
buildAlert(nextReconciled, settings, { tableName: local.tableName });
const n2 = performance.now();

await local.close();

const out = {
  users: USERS,
  latencyMs: LATENCY_MS,
  entities: account.entityCount,
  calls: { ...calls, iamByCommand },
  keyIdLookups: settings.keyIdLookups,
  reportPollSleeps: sleeps,
  stagesMs: {
    collect: collectEnd - t0,
    evaluate: t1 - collectEnd,
    reconcile: t2 - t1,
    persist: t3 - t2,
    alert: t4 - t3,
  },
  detailMs: { loadState: t2a - t1, reconcileOnly: t2 - t2a },
  totalMs: t4 - t0,
  peakRssMb,
  rssMbAfter: rssAfter,
  findings: result.findings.length,
  byStatus: result.run.counts.byStatus,
  complete: result.run.complete,
  unreadSources: result.run.sources.filter((s) => s.state === 'unread').map((s) => `${s.source}: ${s.reason}`),
  saved: {
    written: saved.written,
    history: saved.history,
    skippedStale: saved.skippedStale.length,
    compliantNotStored: saved.compliantNotStored,
  },
  alert: { wanted: decision.alert, bytes: Buffer.byteLength(alert.message ?? ''), subject: alert.subject },
  nextNight: { totalMs: n2 - n0, persistMs: n2 - n1, written: nextSaved.written, changes: nextReconciled.run.counts },
};
process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`);
