/**
 * One benchmark size, in its own process (so that peak RSS is this size's alone): generates a
 * synthetic account, serves it at the SDK boundary with aws-sdk-client-mock (exact AWS response
 * shapes and paging, a simulated round trip per call), and runs the whole audit stage by stage:
 * collect, evaluate, reconcile, persist (in-process dynalite), alert. Prints one JSON line.
 *
 * Run by bench/bench.ts: `node --import tsx bench/run-size.ts --users 1000 --latency 50`.
 */
import { parseArgs } from 'node:util';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeCacheClustersCommand, DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DAXClient, DescribeClustersCommand } from '@aws-sdk/client-dax';
import { mockClient } from 'aws-sdk-client-mock';
import { collectLive } from '#lib/inventory/live.ts';
import { liveOptions } from '#lib/audit/collect.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { runAudit } from '#lib/audit/run.ts';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import { buildAlert, shouldAlert } from '#lib/notify/alert.ts';
import { parseSettings } from '#lib/settings.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { callerIdentityResponse, FIXTURE_NOW, markerPage, mockIam } from '#test/aws.ts';
import { benchAccount, countCalls, type RegionWorld, regionWorld, startStore, withLatency } from './world.ts';
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
// The synthetic account (bench/world.ts benchAccount), scaled with the user count.

const account = benchAccount(USERS);
const world = Object.fromEntries(REGIONS.map((r) => [r, regionWorld(USERS, r)]));

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

for (const c of [IAMClient, STSClient, ElastiCacheClient, DAXClient]) withLatency(c as never, LATENCY_MS);

// ---------------------------------------------------------------------------------------------
// The audit, stage by stage (auditAndRecord does not expose stage timings).

const settings = parseSettings({ regions: REGIONS });
const local = await startStore(args['store-thread'] === 'main' ? 'main' : 'worker');
const ddb = countCalls(local.client);
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
  dynamodbLocal: ddb.count,
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
