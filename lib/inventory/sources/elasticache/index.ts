import type { RegionalDefinition } from '../../definition.ts';
import type { ElastiCacheInventory } from '../../types.ts';

export const CACHE_CLUSTERS_FILE = 'cache-clusters.json';
export const REPLICATION_GROUPS_FILE = 'replication-groups.json';
export const CACHE_CLUSTERS_COMMAND = 'aws elasticache describe-cache-clusters --region <region>';
export const REPLICATION_GROUPS_COMMAND = 'aws elasticache describe-replication-groups --region <region>';

/** ElastiCache's cache clusters and replication groups, in each region. */
export const elastiCache = {
  input: 'elastiCache',
  scope: 'region',
  label: 'elasticache',
  service: 'ElastiCache',
  permissions: ['elasticache:DescribeCacheClusters', 'elasticache:DescribeReplicationGroups'] as const,
  call: 'elasticache:DescribeCacheClusters',
  file: CACHE_CLUSTERS_FILE,
  files: [
    { file: `<region>/${CACHE_CLUSTERS_FILE}`, command: CACHE_CLUSTERS_COMMAND, required: false, feeds: 'elasticache-service-linked-role' },
    {
      file: `<region>/${REPLICATION_GROUPS_FILE}`,
      command: REPLICATION_GROUPS_COMMAND,
      required: false,
      feeds: 'elasticache-service-linked-role',
    },
  ],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies RegionalDefinition<'elastiCache'>;

declare module '../../types.ts' {
  interface RegionalSources {
    elastiCache: ElastiCacheInventory;
  }
}
