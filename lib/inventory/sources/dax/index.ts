import type { RegionalDefinition } from '../../definition.ts';
import type { DaxInventory } from '../../types.ts';

export const DAX_CLUSTERS_FILE = 'dax-clusters.json';
export const DAX_CLUSTERS_COMMAND = 'aws dax describe-clusters --region <region>';

/** DAX's clusters in each region, or the fact that DAX is not offered there. */
export const dax = {
  input: 'dax',
  scope: 'region',
  label: 'dax',
  service: 'DAX',
  permissions: ['dax:DescribeClusters'] as const,
  call: 'dax:DescribeClusters',
  file: DAX_CLUSTERS_FILE,
  files: [
    {
      file: `<region>/${DAX_CLUSTERS_FILE}`,
      command: DAX_CLUSTERS_COMMAND,
      required: false,
      feeds: 'dax-service-role; where DAX is not offered, write {"Unavailable": "<reason>"} instead',
    },
  ],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies RegionalDefinition<'dax'>;

declare module '../../types.ts' {
  interface RegionalSources {
    dax: DaxInventory;
  }
}
