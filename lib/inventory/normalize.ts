import { z } from 'zod';
import { canonical, dateProblem } from './integrity.ts';
import type { AccessKeyMetadata, AccountSummary, CacheCluster, DaxCluster, ReplicationGroup } from './types.ts';

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

/** A value of ListAccessKeys (the API or its export) as the access-key-age check needs it. */
export interface RawAccessKey {
  UserName?: string | undefined;
  AccessKeyId?: string | undefined;
  Status?: string | undefined;
  CreateDate?: Date | string | undefined;
}

/**
 * Validates ListAccessKeys' keys: an ID, a status that is exactly `Active` or `Inactive`, a
 * creation date (ISO 8601 with a time zone, not after the audit time), the user asked about,
 * and each key once (an exact repeat is merged). Throws an InventoryFormatError naming `where`,
 * the key and the reason: a key misread as inactive, or dated tomorrow, would hide its age.
 */
export function accessKeyMetadata(list: RawAccessKey[] | undefined, user: string, where: string, notAfter: number): AccessKeyMetadata[] {
  if (!Array.isArray(list)) throw new InventoryFormatError(`${where}: has no AccessKeyMetadata list`);
  const keys: AccessKeyMetadata[] = [];
  const seen = new Map<string, { index: number; raw: RawAccessKey }>();
  list.forEach((k, index) => {
    const entry = `AccessKeyMetadata[${index}]${typeof k.AccessKeyId === 'string' && k.AccessKeyId ? ` (${k.AccessKeyId})` : ''}`;
    const fail = (reason: string): never => {
      throw new InventoryFormatError(`${where}: ${entry}: ${reason}`);
    };
    if (typeof k.AccessKeyId !== 'string' || k.AccessKeyId === '') fail('has no AccessKeyId');
    if (k.Status !== 'Active' && k.Status !== 'Inactive') fail(`Status is ${JSON.stringify(k.Status)}; a key is exactly Active or Inactive`);
    if (k.UserName !== undefined && k.UserName !== user) fail(`is a key of user ${k.UserName}, not of ${user}`);
    if (!(k.CreateDate instanceof Date) && typeof k.CreateDate !== 'string') fail('has no CreateDate');
    const problem = dateProblem(k.CreateDate!, notAfter);
    if (problem) fail(`CreateDate ${problem}`);
    const earlier = seen.get(k.AccessKeyId!);
    if (earlier) {
      if (canonical(earlier.raw) === canonical(k)) return;
      fail(`is listed twice with different values (AccessKeyMetadata[${earlier.index}] and AccessKeyMetadata[${index}])`);
    }
    seen.set(k.AccessKeyId!, { index, raw: k });
    const created = k.CreateDate instanceof Date ? k.CreateDate.getTime() : Date.parse(k.CreateDate!);
    keys.push({ accessKeyId: k.AccessKeyId!, status: k.Status as 'Active' | 'Inactive', createDate: new Date(created).toISOString() });
  });
  return keys;
}

/** Account ID and partition from any IAM ARN (`arn:aws:iam::123456789012:user/x`). */
export function accountFromArn(arn: string): { accountId: string; partition: string } | null {
  const match = /^arn:([^:]+):[^:]*:[^:]*:(\d{12}):/.exec(arn);
  return match ? { partition: match[1]!, accountId: match[2]! } : null;
}
