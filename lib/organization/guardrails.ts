/**
 * The service control policies that apply to each audited account (SPEC 8), read once per run:
 * for every account, one level per entity of its chain (the root, each OU, the account itself)
 * with the SCPs attached there. The checks intersect the levels with the principals' own
 * policies (SPEC 3.3); the management account is subject to none.
 *
 * Organizations has no call that returns the attachments of many policies or many entities at
 * once (ListPolicies gives summaries without targets, ListAccounts accounts without policies,
 * DescribeEffectivePolicy takes no SCPs), so where the SCPs are attached costs one call per
 * entity (ListPoliciesForTarget: an entity holds at most 5 SCPs, one page) or one per policy
 * (ListTargetsForPolicy, 20 targets a page). With T the entities of the chains (root, OUs and
 * accounts) and P the organization's SCPs:
 *
 *   ListPolicies             ceil(P / 20)
 *   where attached           T ListPoliciesForTarget, when T ≤ P; otherwise, per policy:
 *                            Σ ceil(targets_p / 20) over every SCP but FullAWSAccess, one
 *                            ListPoliciesForTarget for the root, and for FullAWSAccess, attached
 *                            nearly everywhere, either one ListPoliciesForTarget per entity that
 *                            holds another SCP (an entity that holds none holds FullAWSAccess:
 *                            every entity holds one while SCPs are enabled) or its own target
 *                            pages, whichever is fewer
 *   DescribePolicy           one per SCP attached somewhere on the chains
 *   chains                   none with ListAccounts' Paths; otherwise one ListParents per account
 *                            and per OU of the chains, each entity asked once
 *
 * The management account and the organization's ID come from the accounts' ARNs
 * (`arn:aws:organizations::<management account>:account/<organization>/<account>`), or one
 * DescribeOrganization when no ARN says.
 */
import {
  DescribeOrganizationCommand,
  DescribePolicyCommand,
  type OrganizationsClient,
  type PolicySummary,
  paginateListParents,
  paginateListPolicies,
  paginateListPoliciesForTarget,
  paginateListTargetsForPolicy,
} from '@aws-sdk/client-organizations';
import { failure } from '#lib/inventory/calls.ts';
import { unreadSource, withReason } from '#lib/inventory/failure.ts';
import type { GuardrailLevel, GuardrailPolicy, PolicyDocument, Source, Unread } from '#lib/inventory/types.ts';
import { ORGANIZATIONS_PAGE_SIZE } from './accounts.ts';
import { OU_ID, ROOT_ID } from './settings.ts';

const SCP = 'SERVICE_CONTROL_POLICY';

/** The AWS managed SCP Organizations attaches to every entity when SCPs are enabled. */
const FULL_AWS_ACCESS = 'FullAWSAccess';

/** The error Organizations answers when SCPs are not enabled in the organization's root. */
const NOT_ENABLED = 'PolicyTypeNotEnabledException';

/** Organizations nests OUs at most five deep under the root: a longer walk is a loop. */
const MAX_DEPTH = 8;

/** Calls to Organizations at once: its rate limits are low and shared with the organization's own tools. */
const CONCURRENCY = 4;

/** An account to read the SCPs of, as ListAccounts returned it. */
export interface GuardrailAccount {
  id: string;
  /** `arn:aws:organizations::<management account>:account/<organization>/<account>`. */
  arn?: string;
  /** ListAccounts' `Paths`: `o-…/r-…/ou-…/…/`, the account's own ID at the end or not. */
  paths?: string[];
}

export interface GuardrailOptions {
  client: OrganizationsClient;
  accounts: readonly GuardrailAccount[];
  /** The management account, when the caller knows it; otherwise read from the accounts' ARNs. */
  managementAccountId?: string;
}

export type AttachmentStrategy = 'per-target' | 'per-policy' | 'none';

export interface GuardrailReading {
  /** Every account asked about: its levels root first, no level when no SCP applies, or why they are unknown. */
  accounts: Map<string, Source<GuardrailLevel[]>>;
  organizationId: string | null;
  managementAccountId: string | null;
  /** How the attachments were found; `none`: no account needed them. */
  strategy: AttachmentStrategy;
  /** Organizations calls made, by IAM action (one per page). */
  calls: Record<string, number>;
}

/** `arn:aws:organizations::111111111111:account/o-abcdefghij/222222222222` → its parts. */
export function accountArnParts(arn: string): { managementAccountId: string; organizationId: string; accountId: string } | null {
  const m = /^arn:[\w-]+:organizations::(\d{12}):account\/(o-[a-z0-9]{10,32})\/(\d{12})$/.exec(arn);
  return m ? { managementAccountId: m[1]!, organizationId: m[2]!, accountId: m[3]! } : null;
}

/**
 * The root and OUs above an account, outermost first, from one of ListAccounts' Paths
 * (`o-…/r-…/ou-…/ou-…/`, with or without the account's ID at the end); null when the path is not
 * of that form.
 */
export function chainFromPath(path: string, accountId: string): string[] | null {
  const parts = path.split('/').filter((p) => p !== '');
  let i = 0;
  if (parts[i]?.startsWith('o-')) i++;
  if (!ROOT_ID.test(parts[i] ?? '')) return null;
  const chain = [parts[i++]!];
  while (i < parts.length && OU_ID.test(parts[i]!)) chain.push(parts[i++]!);
  if (parts[i] === accountId) i++;
  return i === parts.length ? chain : null;
}

class Counter {
  readonly calls: Record<string, number> = {};
  count(call: string): void {
    this.calls[call] = (this.calls[call] ?? 0) + 1;
  }
}

/** Runs `fn` over the items, at most `limit` at once. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function errorName(error: unknown): string | undefined {
  const e = error as { name?: unknown; Code?: unknown } | null | undefined;
  return typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : undefined;
}

/** A failed call, naming what it was made on. */
function failedOn(call: string, target: string, error: unknown): Unread {
  const unread = failure(call, error);
  return withReason(unread, `${target}: ${unread.reason}`);
}

/** Pages through one paginator, counting each page; a failure counts the page it broke. */
async function pages<P>(counter: Counter, call: string, paginator: AsyncIterable<P>, onPage: (page: P) => void): Promise<void> {
  try {
    for await (const page of paginator) {
      counter.count(call);
      onPage(page);
    }
  } catch (error) {
    counter.count(call);
    throw error;
  }
}

/**
 * Reads the SCP levels of the given accounts. Never throws for a failed call: an account whose
 * levels cannot be known gets an `unread` source naming the call, and an SCP whose document
 * cannot be read keeps the failure in its document, so that the checks report ERROR naming it.
 */
export async function readGuardrails(options: GuardrailOptions): Promise<GuardrailReading> {
  const { client } = options;
  const counter = new Counter();
  const accounts = new Map<string, Source<GuardrailLevel[]>>();
  const parsed = options.accounts.map((a) => (a.arn ? accountArnParts(a.arn) : null)).find((p) => p !== null) ?? null;
  let managementAccountId = options.managementAccountId ?? parsed?.managementAccountId ?? null;
  let organizationId = parsed?.organizationId ?? null;
  const result = (strategy: AttachmentStrategy): GuardrailReading => ({
    accounts,
    organizationId,
    managementAccountId,
    strategy,
    calls: counter.calls,
  });

  if (managementAccountId === null && options.accounts.length > 0) {
    counter.count('organizations:DescribeOrganization');
    try {
      const { Organization } = await client.send(new DescribeOrganizationCommand({}));
      managementAccountId = Organization?.MasterAccountId ?? null;
      organizationId = Organization?.Id ?? organizationId;
      if (managementAccountId === null) throw new Error('the response names no management account');
    } catch (error) {
      // Without the management account, SCPs could be applied to the one account they do not bind.
      const unread = failure('organizations:DescribeOrganization', error);
      for (const a of options.accounts) accounts.set(a.id, unread);
      return result('none');
    }
  }

  // The chain of every member account: from its Paths, or walked up with ListParents.
  const members = options.accounts.filter((a) => a.id !== managementAccountId);
  for (const a of options.accounts) if (a.id === managementAccountId) accounts.set(a.id, { state: 'read', data: [] });
  const chains = new Map<string, string[]>();
  const parentCalls = new Map<string, Promise<{ id: string; root: boolean } | Unread>>();
  const parentOf = (child: string) => {
    let known = parentCalls.get(child);
    if (!known) {
      known = (async () => {
        const parents: { id: string; root: boolean }[] = [];
        try {
          await pages(
            counter,
            'organizations:ListParents',
            paginateListParents({ client, pageSize: ORGANIZATIONS_PAGE_SIZE }, { ChildId: child }),
            (page) => {
              for (const p of page.Parents ?? []) if (p.Id) parents.push({ id: p.Id, root: p.Type === 'ROOT' });
            },
          );
        } catch (error) {
          return failedOn('organizations:ListParents', child, error);
        }
        if (parents.length !== 1)
          return unreadSource('organizations:ListParents', `${child}: expected one parent, got ${parents.length}`, 'InvalidResponse');
        return parents[0]!;
      })();
      parentCalls.set(child, known);
    }
    return known;
  };
  const walk = async (account: string): Promise<string[] | Unread> => {
    const chain: string[] = [];
    for (let child = account; chain.length <= MAX_DEPTH; ) {
      const parent = await parentOf(child);
      if ('state' in parent) return parent;
      chain.unshift(parent.id);
      if (parent.root) return chain;
      child = parent.id;
    }
    return unreadSource('organizations:ListParents', `${account}: no root within ${MAX_DEPTH} levels`, 'InvalidResponse');
  };
  const fromPaths = (a: GuardrailAccount): string[] | null => {
    const found = (a.paths ?? []).map((p) => chainFromPath(p, a.id));
    if (found.length === 0 || found.some((c) => c === null)) return null;
    const first = JSON.stringify(found[0]);
    return found.every((c) => JSON.stringify(c) === first) ? found[0]! : null;
  };
  await eachLimit(members, CONCURRENCY, async (a) => {
    const chain = fromPaths(a) ?? (await walk(a.id));
    if (Array.isArray(chain)) chains.set(a.id, chain);
    else accounts.set(a.id, chain);
  });

  // Every entity whose SCPs bind a member account: its chain and itself.
  const targets = new Set<string>();
  for (const [id, chain] of chains) for (const t of [...chain, id]) targets.add(t);
  if (targets.size === 0) return result('none');

  let policies: PolicySummary[] | null = [];
  try {
    await pages(
      counter,
      'organizations:ListPolicies',
      paginateListPolicies({ client, pageSize: ORGANIZATIONS_PAGE_SIZE }, { Filter: SCP }),
      (page) => {
        policies!.push(...(page.Policies ?? []));
      },
    );
  } catch {
    // Not needed to find the attachments one target at a time.
    policies = null;
  }

  const attached = new Map<string, PolicySummary[]>();
  /** Targets whose attachments are unknown, and why. */
  const unknown = new Map<string, Unread>();
  let everywhere: Unread | null = null;
  const strategy: AttachmentStrategy = policies === null || targets.size <= policies.length ? 'per-target' : 'per-policy';
  /** Every SCP attached to one entity; none when SCPs are not enabled. */
  const policiesFor = async (target: string): Promise<PolicySummary[] | Unread> => {
    const found: PolicySummary[] = [];
    try {
      await pages(
        counter,
        'organizations:ListPoliciesForTarget',
        paginateListPoliciesForTarget({ client, pageSize: ORGANIZATIONS_PAGE_SIZE }, { TargetId: target, Filter: SCP }),
        (page) => {
          found.push(...(page.Policies ?? []));
        },
      );
    } catch (error) {
      return errorName(error) === NOT_ENABLED ? [] : failedOn('organizations:ListPoliciesForTarget', target, error);
    }
    return found;
  };
  if (strategy === 'per-target') {
    await eachLimit([...targets], CONCURRENCY, async (target) => {
      const found = await policiesFor(target);
      if ('state' in found) unknown.set(target, found);
      attached.set(target, 'state' in found ? [] : found);
    });
  } else {
    for (const t of targets) attached.set(t, []);
    /** Entities whose whole list ListPoliciesForTarget gave: no policy's targets add to it. */
    const asked = new Set<string>();
    const listTargets = async (summary: PolicySummary) => {
      if (everywhere) return;
      const name = `${summary.Name ?? summary.Id} (${summary.Id})`;
      try {
        await pages(
          counter,
          'organizations:ListTargetsForPolicy',
          paginateListTargetsForPolicy({ client, pageSize: ORGANIZATIONS_PAGE_SIZE }, { PolicyId: summary.Id }),
          (page) => {
            for (const t of page.Targets ?? [])
              if (t.TargetId && targets.has(t.TargetId) && !asked.has(t.TargetId)) attached.get(t.TargetId)!.push(summary);
          },
        );
      } catch (error) {
        // Where this SCP is attached is unknown: it may bind any account.
        if (errorName(error) !== NOT_ENABLED) everywhere ??= failedOn('organizations:ListTargetsForPolicy', name, error);
      }
    };
    const ask = async (target: string) => {
      asked.add(target);
      const found = await policiesFor(target);
      if ('state' in found) unknown.set(target, found);
      else attached.set(target, found);
    };
    // The default SCP is attached nearly everywhere, so its targets are most of the pages. Every
    // entity holds at least one SCP while SCPs are enabled: one that holds none of the others holds
    // it. The root is asked directly, which also tells whether SCPs are enabled; an entity that
    // holds another SCP is asked too, unless listing the default SCP's targets costs less.
    const full = policies!.find((p) => p.AwsManaged === true && p.Name === FULL_AWS_ACCESS);
    await eachLimit(
      policies!.filter((p) => p !== full),
      CONCURRENCY,
      listTargets,
    );
    if (full && !everywhere) {
      const roots = [...new Set([...chains.values()].map((c) => c[0]!))];
      await eachLimit(roots, CONCURRENCY, ask);
      const enabled = roots.some((r) => (attached.get(r)?.length ?? 0) > 0);
      const others = [...targets].filter((t) => !asked.has(t));
      const bare = others.filter((t) => attached.get(t)!.length === 0);
      const mixed = others.filter((t) => attached.get(t)!.length > 0);
      const holding = bare.length + roots.filter((r) => attached.get(r)?.includes(full)).length;
      if (!enabled) {
        // No SCP at the root: none applies anywhere.
      } else if (mixed.length <= Math.ceil(holding / ORGANIZATIONS_PAGE_SIZE)) {
        for (const t of bare) attached.get(t)!.push(full);
        await eachLimit(mixed, CONCURRENCY, ask);
      } else {
        await listTargets(full);
      }
    }
  }

  // Each SCP attached somewhere on the chains, described once.
  const documents = new Map<string, PolicyDocument>();
  const applying = new Map<string, PolicySummary>();
  for (const list of attached.values()) for (const summary of list) if (summary.Id) applying.set(summary.Id, summary);
  if (!everywhere) {
    await eachLimit([...applying.values()], CONCURRENCY, async (summary) => {
      const id = summary.Id!;
      counter.count('organizations:DescribePolicy');
      try {
        const { Policy } = await client.send(new DescribePolicyCommand({ PolicyId: id }));
        documents.set(id, parseContent(Policy?.Content));
      } catch (error) {
        const unread = failure('organizations:DescribePolicy', error);
        documents.set(id, {
          ok: false,
          error: `organizations:DescribePolicy failed${unread.code ? ` (${unread.code})` : ''}: ${unread.reason}`,
        });
      }
    });
  }

  const policyOf = (summary: PolicySummary, target: string): GuardrailPolicy => {
    const id = summary.Id ?? '';
    return {
      id,
      name: summary.Name ?? id,
      arn: summary.Arn ?? '',
      awsManaged: summary.AwsManaged === true,
      target,
      document: documents.get(id) ?? { ok: false, error: 'organizations:DescribePolicy returned no policy' },
    };
  };
  for (const [id, chain] of chains) {
    if (everywhere) {
      accounts.set(id, everywhere);
      continue;
    }
    const entities = [...chain, id];
    const failed = entities.map((t) => unknown.get(t)).find((u) => u !== undefined);
    if (failed) {
      accounts.set(id, failed);
      continue;
    }
    // Organizations keeps at least one SCP on every entity while SCPs are enabled: none at the
    // root means they are not, and no SCP applies.
    if (attached.get(chain[0]!)!.length === 0) {
      accounts.set(id, { state: 'read', data: [] });
      continue;
    }
    const bare = entities.find((t) => attached.get(t)!.length === 0);
    if (bare) {
      const call = strategy === 'per-target' ? 'organizations:ListPoliciesForTarget' : 'organizations:ListTargetsForPolicy';
      accounts.set(
        id,
        unreadSource(
          call,
          `${bare} has no service control policy attached while the root has some: Organizations keeps one on every entity, so the listing is incomplete`,
          'InvalidResponse',
        ),
      );
      continue;
    }
    accounts.set(id, {
      state: 'read',
      data: entities.map(
        (target, i): GuardrailLevel => ({
          kind: i === 0 ? 'root' : i === entities.length - 1 ? 'account' : 'ou',
          target,
          policies: attached.get(target)!.map((summary) => policyOf(summary, target)),
        }),
      ),
    });
  }
  return result(strategy);
}

/** DescribePolicy's Content: the policy document as a JSON string. */
function parseContent(content: string | undefined): PolicyDocument {
  if (content === undefined) return { ok: false, error: 'organizations:DescribePolicy returned no Content' };
  try {
    return { ok: true, document: JSON.parse(content) as unknown };
  } catch (error) {
    return { ok: false, error: `the policy content is not JSON: ${(error as Error).message}` };
  }
}
