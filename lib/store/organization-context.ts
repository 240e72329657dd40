/**
 * The organization context of one organization run (SPEC 8, design item 3), in the findings
 * table: the discover step writes it once, each per-account invocation reads it with two GetItem.
 *
 *   PK ORGRUN#<organizationRunId>  SK CONTEXT                 organization ID, management account, account IDs
 *   PK ORGRUN#<organizationRunId>  SK GUARDRAILS#<16 hex>     one distinct SCP chain (its JSON), shared by the
 *                                                             accounts under the same OUs
 *
 * Both carry the history TTL. A chain is stored as JSON text under its key, the SHA-256 of that
 * JSON, so a damaged item is told from a good one. What cannot be read (a missing or damaged
 * item, a failed call) makes the account's guardrails unread, naming the item and why: the
 * full-access checks then say ERROR, never "no SCP applies".
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';
import { z } from 'zod';
import { unreadSource } from '#lib/inventory/failure.ts';
import type { GuardrailLevel, Inventory, Source } from '#lib/inventory/types.ts';
import { AuditorError } from '#lib/model/errors.ts';
import { guardrailsKey, type OrganizationContext, type PendingRun } from '#lib/organization/contract.ts';
import { ORGRUNS_PK, orgRunPk, orgRunSk, TTL_ATTRIBUTE } from './keys.ts';
import { fitOrganizationRun, pendingOrganizationRun } from './organization-runs.ts';
import { ITEM_LIMIT_BYTES, jsonBytes } from './size.ts';
import { describeError } from './table.ts';

/** The partition of one organization run (keys.ts): its context here, the digest's account sections beside it. */
export const organizationRunPk = orgRunPk;
export const CONTEXT_SK = 'CONTEXT';
export const CONTEXT_ITEM_TYPE = 'organization-context';
export const GUARDRAILS_ITEM_TYPE = 'organization-guardrails';

const DAY_SECONDS = 86_400;
/** Room under DynamoDB's 400 KB item for the keys and attribute names around the chain's JSON. */
const CHAIN_BUDGET_BYTES = ITEM_LIMIT_BYTES - 4 * 1024;
/** Items written at once by the discover step. */
const WRITE_CONCURRENCY = 8;

/** The organization context could not be written: the run cannot give its accounts their SCPs. */
export class OrganizationContextError extends AuditorError {}

export interface OrganizationContextStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** The items' TTL, as the history's (settings.historyTtlDays). */
  historyTtlDays: number;
  now?: () => number;
}

/** What one account's audit gets from the context: the inventory's organization, its access left to the caller. */
export interface MemberContext {
  organization: Omit<NonNullable<Inventory['organization']>, 'access'> & { guardrails: Source<GuardrailLevel[]> };
  managementAccountId: string | null;
  /** What could not be read, one line each (logged by the caller); empty when all was. */
  problems: string[];
}

const documentSchema = z.union([
  z.object({ ok: z.literal(true), document: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
const levelSchema = z.object({
  kind: z.enum(['root', 'ou', 'account']),
  target: z.string(),
  policies: z.array(
    z.object({ id: z.string(), name: z.string(), arn: z.string(), awsManaged: z.boolean(), target: z.string(), document: documentSchema }),
  ),
});
const chainSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('read'), data: z.array(levelSchema) }),
  z.object({
    state: z.literal('unread'),
    call: z.string(),
    reason: z.string(),
    code: z.string().optional(),
    kind: z.enum(['denied', 'throttled', 'invalid', 'missing', 'timeBudget', 'failed']),
  }),
]);
const contextItemSchema = z.looseObject({
  type: z.literal(CONTEXT_ITEM_TYPE),
  organizationRunId: z.string(),
  organizationId: z.string().nullable(),
  managementAccountId: z.string().nullable(),
  accountIds: z.array(z.string().regex(/^\d{12}$/)),
});
const chainItemSchema = z.looseObject({ type: z.literal(GUARDRAILS_ITEM_TYPE), chain: z.string() });

/** The organization context in the findings table: written by the discover step, read by each account's audit. */
export class OrganizationContextStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly historyTtlDays: number;
  private readonly now: () => number;

  constructor(options: OrganizationContextStoreOptions) {
    this.doc = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.tableName = options.tableName;
    this.historyTtlDays = options.historyTtlDays;
    this.now = options.now ?? Date.now;
  }

  /**
   * Writes the chains, then the CONTEXT item: a CONTEXT item read means every chain was written.
   * A chain too large for an item is stored as an unread chain naming its size (its accounts'
   * full-access checks then say ERROR). Idempotent: a retried discover step writes the same items.
   */
  async writeContext(context: OrganizationContext, chains: ReadonlyMap<string, Source<GuardrailLevel[]>>, run?: PendingRun): Promise<void> {
    const pk = organizationRunPk(context.organizationRunId);
    const expiresAt = Math.floor(this.now() / 1000) + this.historyTtlDays * DAY_SECONDS;
    const put = async (item: Record<string, unknown>, what: string): Promise<void> => {
      try {
        await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { PK: pk, ...item, [TTL_ATTRIBUTE]: expiresAt } }));
      } catch (error) {
        throw new OrganizationContextError(
          `could not write the organization context's ${what} (dynamodb:PutItem on ${this.tableName}): ${describeError(error)}`,
          { cause: error },
        );
      }
    };
    await pMap(chains, ([key, chain]) => put({ SK: key, type: GUARDRAILS_ITEM_TYPE, chain: chainText(chain) }, `guardrail chain ${key}`), {
      concurrency: WRITE_CONCURRENCY,
    });
    const item = { SK: CONTEXT_SK, type: CONTEXT_ITEM_TYPE, ...context };
    if (jsonBytes(item) > ITEM_LIMIT_BYTES)
      throw new OrganizationContextError(
        `the organization context of ${context.accountIds.length} accounts is over DynamoDB's 400 KB item limit (${jsonBytes(item)} bytes)`,
      );
    await put(item, 'CONTEXT item');
    if (run) await this.writePendingRun(context.organizationRunId, run);
  }

  /**
   * The organization run's record before any account is audited: not finished, its message
   * pending. Conditional on no record yet, so a retried discover step never replaces one the
   * summarize step wrote. Keyed and shaped as putOrganizationRun writes it (organization-runs.ts).
   */
  private async writePendingRun(organizationRunId: string, run: PendingRun): Promise<void> {
    const record = fitOrganizationRun(pendingOrganizationRun({ organizationRunId, ...run }, new Date(this.now()).toISOString()));
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...record, PK: ORGRUNS_PK, SK: orgRunSk(run.startedAt, organizationRunId), type: 'organization-run' },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw new OrganizationContextError(
        `could not write the organization run's record (dynamodb:PutItem on ${this.tableName}): ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * One account's context: CONTEXT and its chain item (two GetItem, strongly consistent).
   * `guardrails` is the map item's key: null when no SCP applies to the account, undefined when
   * the discovery named none (unknown). Never throws: what cannot be read is unread, with why.
   */
  async readMemberContext(organizationRunId: string, guardrails: string | null | undefined): Promise<MemberContext> {
    const pk = organizationRunPk(organizationRunId);
    const where = (sk: string) => `item ${pk} ${sk} of ${this.tableName}`;
    const problems: string[] = [];
    const [contextItem, chainItem] = await Promise.all([
      this.get(pk, CONTEXT_SK),
      typeof guardrails === 'string' ? this.get(pk, guardrails) : Promise.resolve(null),
    ]);

    let context: z.output<typeof contextItemSchema> | null = null;
    let contextProblem: string | null = null;
    if (contextItem.error) contextProblem = `${where(CONTEXT_SK)} could not be read: ${contextItem.error}`;
    else if (!contextItem.item) contextProblem = `${where(CONTEXT_SK)} does not exist (the discover step wrote no context for this run)`;
    else {
      const parsed = contextItemSchema.safeParse(contextItem.item);
      if (parsed.success) context = parsed.data;
      else contextProblem = `${where(CONTEXT_SK)} is damaged: ${issues(parsed.error)}`;
    }
    if (contextProblem) problems.push(contextProblem);

    let chain: Source<GuardrailLevel[]>;
    if (contextProblem)
      chain = unreadSource(
        'dynamodb:GetItem',
        `the organization context is unreadable, so the SCPs are unknown: ${contextProblem}`,
        'InvalidContext',
      );
    else if (guardrails === undefined)
      chain = unreadSource(
        'organizations:ListPoliciesForTarget',
        'the discover step named no guardrail chain for this account: its SCPs are unknown',
        'InvalidContext',
      );
    else if (guardrails === null) chain = { state: 'read', data: [] };
    else chain = this.chainFrom(guardrails, chainItem!, where(guardrails));
    if (chain.state === 'unread' && !contextProblem) problems.push(chain.reason);

    return {
      organization: { id: context?.organizationId ?? null, accountIds: context?.accountIds ?? [], guardrails: chain },
      managementAccountId: context?.managementAccountId ?? null,
      problems,
    };
  }

  private chainFrom(key: string, got: Got, where: string): Source<GuardrailLevel[]> {
    const unread = (reason: string) => unreadSource('dynamodb:GetItem', `the SCP chain is unknown: ${where} ${reason}`, 'InvalidContext');
    if (got.error) return unread(`could not be read: ${got.error}`);
    if (!got.item) return unread('does not exist');
    const item = chainItemSchema.safeParse(got.item);
    if (!item.success) return unread(`is damaged: ${issues(item.error)}`);
    let json: unknown;
    try {
      json = JSON.parse(item.data.chain);
    } catch (error) {
      return unread(`is damaged: its chain is not JSON (${(error as Error).message})`);
    }
    const chain = chainSchema.safeParse(json);
    if (!chain.success) return unread(`is damaged: ${issues(chain.error)}`);
    // A chain too large for its item was stored unread under the key of the chain it stands for.
    if (chain.data.state === 'read' && guardrailsKey(chain.data as Source<GuardrailLevel[]>) !== key)
      return unread('is damaged: its chain does not match its key');
    return chain.data as Source<GuardrailLevel[]>;
  }

  private async get(pk: string, sk: string): Promise<Got> {
    try {
      const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { PK: pk, SK: sk }, ConsistentRead: true }));
      return { item: Item ?? null };
    } catch (error) {
      return { item: null, error: `dynamodb:GetItem failed: ${describeError(error)}` };
    }
  }
}

type Got = { item: Record<string, unknown> | null; error?: string };

/** The chain's JSON, or an unread chain naming its size when it would not fit an item. */
function chainText(chain: Source<GuardrailLevel[]>): string {
  const text = JSON.stringify(chain);
  const bytes = Buffer.byteLength(text);
  if (bytes <= CHAIN_BUDGET_BYTES) return text;
  return JSON.stringify(
    unreadSource(
      'organizations:DescribePolicy',
      `the account's SCP chain is ${Math.ceil(bytes / 1024)} KB of policy documents, over DynamoDB's 400 KB item: its SCPs are not evaluated`,
      'ChainTooLarge',
    ),
  );
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; ');
}
