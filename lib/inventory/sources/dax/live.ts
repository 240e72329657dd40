import {
  type Cluster as SdkDaxCluster,
  DAXClient,
  DescribeClustersCommand,
  type DescribeClustersRequest,
  type DescribeClustersResponse,
} from '@aws-sdk/client-dax';
import { answered, attempt, budgetedPages, failure, type Outcome } from '../../calls.ts';
import type { RegionalRead, RegionContext } from '../../definition.ts';
import { caught, withReason } from '../../failure.ts';
import type { DaxInventory, Source } from '../../types.ts';
import { normalizeDaxClusters } from './normalize.ts';

/**
 * How a missing regional endpoint surfaces. SDK v3 resolves every region to
 * `dax.<region>.amazonaws.com` and lets DNS fail: Node's `getaddrinfo ENOTFOUND <host>` error,
 * name `Error`, `code: 'ENOTFOUND'`, passed through unchanged after the SDK's retries. SDK v2
 * called it `UnknownEndpoint`; endpoint rule sets say "Could not resolve endpoint". EAI_AGAIN is
 * a temporary DNS failure, not an absent service, so it is not listed.
 */
export function isMissingEndpoint(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 5) return false;
  const e = error as { code?: unknown; name?: unknown; Code?: unknown; message?: unknown; hostname?: unknown; cause?: unknown };
  const hostname = typeof e.hostname === 'string' ? e.hostname : null;
  if (e.code === 'ENOTFOUND') return hostname === null || /(^|\.)dax\./.test(hostname);
  if (e.name === 'UnknownEndpoint' || e.Code === 'UnknownEndpoint') return true;
  if (
    typeof e.message === 'string' &&
    /getaddrinfo ENOTFOUND|Could not resolve endpoint|UnknownEndpoint|Inaccessible host/i.test(e.message)
  ) {
    return true;
  }
  return isMissingEndpoint(e.cause, depth + 1);
}

/** DAX's client has no paginator: the loop of the SDK's paginators, over NextToken. */
async function* paginateDescribeClusters(
  client: DAXClient,
  input: DescribeClustersRequest,
  options: { abortSignal: AbortSignal } | undefined,
): AsyncGenerator<DescribeClustersResponse, undefined, unknown> {
  let token: string | undefined;
  do {
    const page = await client.send(new DescribeClustersCommand({ ...input, ...(token ? { NextToken: token } : {}) }), options);
    yield page;
    token = page.NextToken;
  } while (token);
  return undefined;
}

async function clusters(ctx: RegionContext): Promise<SdkDaxCluster[]> {
  const items: SdkDaxCluster[] = [];
  const paginator = paginateDescribeClusters(ctx.client(DAXClient), { MaxResults: 100 }, ctx.http);
  let page = 0;
  for await (const out of budgetedPages(ctx, 'DescribeClusters', paginator, (p) => p.NextToken)) {
    if (page++ > 0) ctx.progress(`${ctx.region}: reading more DAX clusters…`);
    items.push(...(out.Clusters ?? []));
  }
  return items;
}

export async function read(ctx: RegionContext): Promise<RegionalRead<DaxInventory>> {
  const outcome = await attempt(() => clusters(ctx));
  return { source: await daxSource(ctx, outcome), answered: answered(outcome) };
}

/**
 * A DAX endpoint that does not resolve means "DAX is not offered here" only when the region itself
 * is reachable: offline, or with DNS down, every endpoint fails the same way, and calling that
 * "no DAX" would let the DAX checks pass on data never read. The region's other services, called
 * at the same time, are the witness.
 */
async function daxSource(ctx: RegionContext, outcome: Outcome<SdkDaxCluster[]>): Promise<Source<DaxInventory>> {
  const call = 'dax:DescribeClusters';
  const { region } = ctx;
  if (outcome.ok) {
    try {
      return {
        state: 'read',
        data: { available: true, clusters: normalizeDaxClusters({ Clusters: outcome.value }, `${call} in ${region}`) },
      };
    } catch (error) {
      return failure(call, error);
    }
  }
  if (!isMissingEndpoint(outcome.error)) return failure(call, outcome.error);
  const detail = failure(call, outcome.error);
  if (await ctx.othersAnswered()) {
    return {
      state: 'read',
      data: { available: false, reason: `DAX is not available in ${region} (${caught(call, outcome.error).reason})` },
    };
  }
  return withReason(
    detail,
    `${detail.reason}; ElastiCache in ${region} did not answer either, so this looks like a network or DNS failure rather than DAX being absent from the region`,
  );
}
