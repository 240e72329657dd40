import { z } from 'zod';
import { parseWith } from '../../format.ts';
import type { CacheCluster, ReplicationGroup } from '../../types.ts';

/**
 * ElastiCache's answers, from the SDK or the AWS CLI's JSON (the same PascalCase shapes): each
 * validates what the checks rely on and throws an InventoryFormatError naming the input and field.
 */
const cacheClustersSchema = z.object({
  CacheClusters: z
    .array(
      z.object({
        CacheClusterId: z.string(),
        ARN: z.string().optional().nullable(),
        Engine: z.string().optional().nullable(),
        CacheClusterStatus: z.string().optional().nullable(),
        ReplicationGroupId: z.string().optional().nullable(),
      }),
    )
    .optional()
    .nullable(),
});

export function normalizeCacheClusters(raw: unknown, where = 'DescribeCacheClusters'): CacheCluster[] {
  return (parseWith(cacheClustersSchema, raw, where).CacheClusters ?? []).map((c) => ({
    id: c.CacheClusterId,
    arn: c.ARN ?? null,
    engine: c.Engine ?? null,
    status: c.CacheClusterStatus ?? null,
    replicationGroupId: c.ReplicationGroupId ?? null,
  }));
}

const replicationGroupsSchema = z.object({
  ReplicationGroups: z
    .array(
      z.object({
        ReplicationGroupId: z.string(),
        ARN: z.string().optional().nullable(),
        Status: z.string().optional().nullable(),
      }),
    )
    .optional()
    .nullable(),
});

export function normalizeReplicationGroups(raw: unknown, where = 'DescribeReplicationGroups'): ReplicationGroup[] {
  return (parseWith(replicationGroupsSchema, raw, where).ReplicationGroups ?? []).map((g) => ({
    id: g.ReplicationGroupId,
    arn: g.ARN ?? null,
    status: g.Status ?? null,
  }));
}
