import {
  type CacheCluster as SdkCacheCluster,
  DescribeCacheClustersCommand,
  DescribeReplicationGroupsCommand,
  ElastiCacheClient,
  paginateDescribeCacheClusters,
  paginateDescribeReplicationGroups,
  type ReplicationGroup as SdkReplicationGroup,
} from '@aws-sdk/client-elasticache';
import { answered, attempt, budgetedPages, failure, type Outcome, ownInput } from '../../calls.ts';
import type { RegionalRead, RegionContext } from '../../definition.ts';
import type { ElastiCacheInventory, Source } from '../../types.ts';
import { normalizeCacheClusters, normalizeReplicationGroups } from './normalize.ts';

/** ElastiCache's largest page. */
const PAGE_SIZE = 100;

async function cacheClusters(ctx: RegionContext, client: ElastiCacheClient): Promise<SdkCacheCluster[]> {
  const items: SdkCacheCluster[] = [];
  const paginator = paginateDescribeCacheClusters(
    { client, withCommand: ownInput((input) => new DescribeCacheClustersCommand(input)) },
    { MaxRecords: PAGE_SIZE },
    ctx.http,
  );
  let page = 0;
  for await (const out of budgetedPages(ctx, 'DescribeCacheClusters', paginator, (p) => p.Marker)) {
    if (page++ > 0) ctx.progress(`${ctx.region}: reading more ElastiCache clusters…`);
    items.push(...(out.CacheClusters ?? []));
  }
  return items;
}

async function replicationGroups(ctx: RegionContext, client: ElastiCacheClient): Promise<SdkReplicationGroup[]> {
  const items: SdkReplicationGroup[] = [];
  const paginator = paginateDescribeReplicationGroups(
    { client, withCommand: ownInput((input) => new DescribeReplicationGroupsCommand(input)) },
    { MaxRecords: PAGE_SIZE },
    ctx.http,
  );
  let page = 0;
  for await (const out of budgetedPages(ctx, 'DescribeReplicationGroups', paginator, (p) => p.Marker)) {
    if (page++ > 0) ctx.progress(`${ctx.region}: reading more ElastiCache replication groups…`);
    items.push(...(out.ReplicationGroups ?? []));
  }
  return items;
}

export async function read(ctx: RegionContext): Promise<RegionalRead<ElastiCacheInventory>> {
  const client = ctx.client(ElastiCacheClient);
  const [clusters, groups] = await Promise.all([attempt(() => cacheClusters(ctx, client)), attempt(() => replicationGroups(ctx, client))]);
  return { source: elastiCacheSource(ctx.region, clusters, groups), answered: answered(clusters) || answered(groups) };
}

function elastiCacheSource(
  region: string,
  clusters: Outcome<SdkCacheCluster[]>,
  groups: Outcome<SdkReplicationGroup[]>,
): Source<ElastiCacheInventory> {
  if (!clusters.ok) return failure('elasticache:DescribeCacheClusters', clusters.error);
  if (!groups.ok) return failure('elasticache:DescribeReplicationGroups', groups.error);
  try {
    return {
      state: 'read',
      data: {
        cacheClusters: normalizeCacheClusters({ CacheClusters: clusters.value }, `elasticache:DescribeCacheClusters in ${region}`),
        replicationGroups: normalizeReplicationGroups(
          { ReplicationGroups: groups.value },
          `elasticache:DescribeReplicationGroups in ${region}`,
        ),
      },
    };
  } catch (error) {
    return failure('elasticache:DescribeCacheClusters', error);
  }
}
