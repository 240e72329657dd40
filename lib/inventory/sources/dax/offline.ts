import type { OfflineRegionContext } from '../../definition.ts';
import { FileProblem, inRegion, isRecord, regionalFile, requireKey } from '../../files.ts';
import type { DaxInventory, Source } from '../../types.ts';
import { DAX_CLUSTERS_COMMAND, DAX_CLUSTERS_FILE } from './index.ts';
import { normalizeDaxClusters } from './normalize.ts';

export function present(names: string[]): boolean {
  return names.includes(DAX_CLUSTERS_FILE);
}

export async function read({ dir, region }: OfflineRegionContext): Promise<Source<DaxInventory>> {
  const command = inRegion(DAX_CLUSTERS_COMMAND, region);
  return regionalFile(dir, region, DAX_CLUSTERS_FILE, command, (raw, call): DaxInventory => {
    if (isRecord(raw) && 'Unavailable' in raw) {
      // The CLI writes nothing where DAX has no endpoint, so the marker is written by hand.
      const reason = raw.Unavailable;
      if (typeof reason !== 'string' || reason.trim() === '') {
        throw new FileProblem('Unavailable must be a non-empty string saying why DAX is not available', 'InvalidFile');
      }
      if ('Clusters' in raw) throw new FileProblem('has both Unavailable and Clusters: keep one', 'InvalidFile');
      return { available: false, reason };
    }
    requireKey(raw, 'Clusters', `${command} (or {"Unavailable": "<reason>"} where DAX is not offered)`);
    return { available: true, clusters: normalizeDaxClusters(raw, call) };
  });
}
