import type { OfflineRegionContext } from '../../definition.ts';
import { withReason } from '../../failure.ts';
import { inRegion, regionalFile, requireKey } from '../../files.ts';
import type { ElastiCacheInventory, Source, Unread } from '../../types.ts';
import { CACHE_CLUSTERS_COMMAND, CACHE_CLUSTERS_FILE, REPLICATION_GROUPS_COMMAND, REPLICATION_GROUPS_FILE } from './index.ts';
import { normalizeCacheClusters, normalizeReplicationGroups } from './normalize.ts';

export function present(names: string[]): boolean {
  return names.includes(CACHE_CLUSTERS_FILE) || names.includes(REPLICATION_GROUPS_FILE);
}

export async function read({ dir, region }: OfflineRegionContext): Promise<Source<ElastiCacheInventory>> {
  const clustersCommand = inRegion(CACHE_CLUSTERS_COMMAND, region);
  const groupsCommand = inRegion(REPLICATION_GROUPS_COMMAND, region);
  const [clusters, groups] = await Promise.all([
    regionalFile(dir, region, CACHE_CLUSTERS_FILE, clustersCommand, (raw, call) => {
      requireKey(raw, 'CacheClusters', clustersCommand);
      return normalizeCacheClusters(raw, call);
    }),
    regionalFile(dir, region, REPLICATION_GROUPS_FILE, groupsCommand, (raw, call) => {
      requireKey(raw, 'ReplicationGroups', groupsCommand);
      return normalizeReplicationGroups(raw, call);
    }),
  ]);
  // The check needs both lists: "no cluster" is only known when neither file is missing.
  if (clusters.state === 'read' && groups.state === 'read') {
    return { state: 'read', data: { cacheClusters: clusters.data, replicationGroups: groups.data } };
  }
  if (clusters.state === 'unread' && groups.state === 'unread') {
    const withFile = (u: Unread): string => (u.reason.startsWith(u.call) ? u.reason : `${u.call}: ${u.reason}`);
    return withReason(clusters, `${withFile(clusters)}; ${withFile(groups)}`);
  }
  return (clusters.state === 'unread' ? clusters : groups) as Unread;
}
