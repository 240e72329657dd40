import { IAMClient, ListAccessKeysCommand, paginateListAccessKeys } from '@aws-sdk/client-iam';
import pMap from 'p-map';
import { budgetedPages, failure, ownInput } from '../../calls.ts';
import type { LiveContext } from '../../definition.ts';
import type { AccessKeyMetadata, CredentialReport, Source } from '../../types.ts';
import { accessKeyMetadata, type RawAccessKey } from './normalize.ts';

/** At most this many `ListAccessKeys` calls in flight, to stay well under IAM's rate limit. */
export const KEY_LOOKUP_CONCURRENCY = 5;

/** Users (not root) whose report shows an active key past the age limit, oldest key first, at most `limit` of them. */
export function keyLookupCandidates(report: CredentialReport, lookups: LiveContext['options']['keyLookups'], collectedAt: Date): string[] {
  const candidates: { user: string; rotated: number }[] = [];
  const seen = new Set<string>();
  for (const row of report.rows) {
    if (row.isRoot || seen.has(row.user)) continue;
    let oldest = Infinity;
    for (const key of row.keys) {
      if (!key.active || !key.lastRotated) continue;
      if (lookups.isOverAge(key.lastRotated, collectedAt.toISOString())) oldest = Math.min(oldest, Date.parse(key.lastRotated));
    }
    if (oldest !== Infinity) {
      seen.add(row.user);
      candidates.push({ user: row.user, rotated: oldest });
    }
  }
  candidates.sort((a, b) => a.rotated - b.rotated || a.user.localeCompare(b.user));
  return candidates.slice(0, lookups.limit).map((c) => c.user);
}

async function lookup(ctx: LiveContext, user: string): Promise<AccessKeyMetadata[]> {
  const iam = ctx.client(IAMClient);
  const paginator = paginateListAccessKeys(
    { client: iam, withCommand: ownInput((input) => new ListAccessKeysCommand(input)) },
    { UserName: user },
    ctx.http,
  );
  // A page without the list is not "no keys": accessKeyMetadata names it.
  let list: RawAccessKey[] | undefined = [];
  for await (const page of budgetedPages(ctx, 'ListAccessKeys', paginator, (p) => (p.IsTruncated ? p.Marker : undefined))) {
    list = list && page.AccessKeyMetadata ? [...list, ...page.AccessKeyMetadata] : undefined;
    if (!page.IsTruncated) break;
  }
  return accessKeyMetadata(list, user, `ListAccessKeys for user ${user}`, ctx.notAfter());
}

export async function read(ctx: LiveContext): Promise<Record<string, Source<AccessKeyMetadata[]>>> {
  const report = await ctx.read('credentialReport');
  if (report.state !== 'read') return {};
  const users = keyLookupCandidates(report.data, ctx.options.keyLookups, ctx.collectedAt);
  if (users.length === 0) return {};
  ctx.progress(`looking up the access key IDs of ${users.length} user(s) with over-age keys…`);
  const results = await pMap(
    users,
    async (user): Promise<[string, Source<AccessKeyMetadata[]>]> => {
      try {
        return [user, { state: 'read', data: await lookup(ctx, user) }];
      } catch (error) {
        return [user, failure('iam:ListAccessKeys', error)];
      }
    },
    { concurrency: KEY_LOOKUP_CONCURRENCY },
  );
  return Object.fromEntries(results);
}
