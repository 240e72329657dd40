/**
 * Mocked AWS clients for the live collector's tests: one stub per SDK client class, and a
 * regional "world" served by ElastiCache and DAX according to the region each client was built
 * for, so that tests can give every region its own resources or failures.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  type CacheCluster,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  type ReplicationGroup,
} from '@aws-sdk/client-elasticache';
import { type Cluster as DaxCluster, DAXClient, DescribeClustersCommand } from '@aws-sdk/client-dax';
import { mockClient } from 'aws-sdk-client-mock';
import { vi } from 'vitest';
import { callerIdentityResponse, markerPage } from './aws.ts';

export const iam = mockClient(IAMClient);
export const sts = mockClient(STSClient);
export const elastiCache = mockClient(ElastiCacheClient);
export const dax = mockClient(DAXClient);

export interface RegionWorld {
  cacheClusters?: CacheCluster[];
  replicationGroups?: ReplicationGroup[];
  daxClusters?: DaxCluster[];
  /** Makes the call fail with this error in this region. */
  cacheClustersError?: Error;
  replicationGroupsError?: Error;
  daxError?: Error;
}

/** The region a mocked call was sent to, read from the client the collector built. */
async function regionOf(getClient: () => unknown): Promise<string> {
  return (getClient() as { config: { region: () => Promise<string> } }).config.region();
}

export function serveRegions(world: Record<string, RegionWorld>): void {
  const regionWorld = async (getClient: () => unknown): Promise<RegionWorld> => {
    const region = await regionOf(getClient);
    const w = world[region];
    if (!w) throw new Error(`test world has no region ${region}`);
    return w;
  };
  elastiCache.on(DescribeCacheClustersCommand).callsFake(async (input: { Marker?: string; MaxRecords?: number }, getClient) => {
    const w = await regionWorld(getClient);
    if (w.cacheClustersError) throw w.cacheClustersError;
    const page = markerPage(w.cacheClusters ?? [], input.Marker, Math.min(input.MaxRecords ?? 100, 100));
    return { CacheClusters: page.items, ...(page.next ? { Marker: page.next } : {}) };
  });
  elastiCache.on(DescribeReplicationGroupsCommand).callsFake(async (input: { Marker?: string; MaxRecords?: number }, getClient) => {
    const w = await regionWorld(getClient);
    if (w.replicationGroupsError) throw w.replicationGroupsError;
    const page = markerPage(w.replicationGroups ?? [], input.Marker, Math.min(input.MaxRecords ?? 100, 100));
    return { ReplicationGroups: page.items, ...(page.next ? { Marker: page.next } : {}) };
  });
  dax.on(DescribeClustersCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }, getClient) => {
    const w = await regionWorld(getClient);
    if (w.daxError) throw w.daxError;
    const page = markerPage(w.daxClusters ?? [], input.NextToken, Math.min(input.MaxResults ?? 100, 100));
    return { Clusters: page.items, ...(page.next ? { NextToken: page.next } : {}) };
  });
}

/**
 * Resets every stub and pins the environment the SDK reads its region from, so that a developer's
 * own AWS_REGION or ~/.aws/config cannot change what the tests see. `null`: no AWS_REGION at all.
 */
export function resetAws(region: string | null): void {
  iam.reset();
  sts.reset();
  elastiCache.reset();
  dax.reset();
  vi.stubEnv('AWS_REGION', region ?? undefined);
  vi.stubEnv('AWS_DEFAULT_REGION', undefined);
  vi.stubEnv('AWS_PROFILE', undefined);
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/account-auditor-test/config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/account-auditor-test/credentials');
  sts.on(GetCallerIdentityCommand).resolves(callerIdentityResponse());
}

/** A sleep that returns at once and records what was asked of it. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
    },
  };
}
