import { z } from 'zod';
import { parseWith } from '../../format.ts';
import type { DaxCluster } from '../../types.ts';

/** DAX's `DescribeClusters`, from the SDK or the AWS CLI's JSON (the same PascalCase shape). */
const daxClustersSchema = z.object({
  Clusters: z
    .array(
      z.object({
        ClusterName: z.string(),
        ClusterArn: z.string().optional().nullable(),
        Status: z.string().optional().nullable(),
        IamRoleArn: z.string().optional().nullable(),
      }),
    )
    .optional()
    .nullable(),
});

export function normalizeDaxClusters(raw: unknown, where = 'DescribeClusters'): DaxCluster[] {
  return (parseWith(daxClustersSchema, raw, where).Clusters ?? []).map((c) => ({
    name: c.ClusterName,
    arn: c.ClusterArn ?? null,
    status: c.Status ?? null,
    iamRoleArn: c.IamRoleArn ?? null,
  }));
}
