import { z } from 'zod';
import type { AccountSummary, CacheCluster, DaxCluster, ReplicationGroup } from './types.ts';

/**
 * Normalizers shared by the live collector (SDK responses) and the offline importer (AWS CLI
 * JSON): both have the same PascalCase shapes. Each validates what the checks rely on and throws
 * an InventoryFormatError naming the input and the field when it is not there.
 */
export class InventoryFormatError extends Error {
  override name = 'InventoryFormatError';
}

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, where: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new InventoryFormatError(`${where}: ${at}${issue?.message ?? 'unexpected shape'}`);
  }
  return parsed.data;
}

const summarySchema = z.object({
  SummaryMap: z
    .record(z.string(), z.number())
    .refine((m) => 'AccountAccessKeysPresent' in m, { message: 'SummaryMap has no AccountAccessKeysPresent' }),
});

export function normalizeAccountSummary(raw: unknown, where = 'GetAccountSummary'): AccountSummary {
  const { SummaryMap } = parseWith(summarySchema, raw, where);
  return {
    accountAccessKeysPresent: SummaryMap.AccountAccessKeysPresent ?? 0,
    accountMfaEnabled: SummaryMap.AccountMFAEnabled ?? 0,
    summaryMap: SummaryMap,
  };
}

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

/** Account ID and partition from any IAM ARN (`arn:aws:iam::123456789012:user/x`). */
export function accountFromArn(arn: string): { accountId: string; partition: string } | null {
  const match = /^arn:([^:]+):[^:]*:[^:]*:(\d{12}):/.exec(arn);
  return match ? { partition: match[1]!, accountId: match[2]! } : null;
}
