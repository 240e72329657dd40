import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import { ACCOUNT_ID, EXTERNAL_ID, ROLE_ARN } from './settings.ts';

/**
 * What the organization state machine (infra/organization-stack.ts) and its functions agree on:
 *
 *   discover ─▶ DiscoveryOutput ─▶ Distributed Map: one MapItem per account ─▶ the per-account
 *   function ─▶ AccountOutcome per account ─▶ summarize (SummarizeInput) ─▶ OrganizationSummary.
 *
 * The map builds each MapItem with its ItemSelector from the discovery output's `organizationRunId`
 * and one element of its `accounts`, so the run ID travels once in the state, not once per account.
 */

/** The environment variable holding the organization settings as JSON (lib/organization/settings.ts). */
export const ORGANIZATION_ENV = { settings: 'ORGANIZATION_SETTINGS' } as const;

/** The sort key of one guardrail chain item of an organization run's context. */
export const GUARDRAILS_KEY = /^GUARDRAILS#[0-9a-f]{16}$/;

/** The ID of one organization run: every account's run in it names it. */
export const organizationRunIdSchema = z.string().regex(/^[\w.:+=@-]{1,128}$/, 'must be 1 to 128 of letters, digits and .:+=@_-');

/** One account to audit, as the map hands it over. */
export const mapAccountSchema = z
  .object({
    id: z.string().regex(ACCOUNT_ID, 'must be a 12-digit AWS account ID'),
    name: z.string(),
    /**
     * The member role to assume for this account's audit; null for the account the auditor runs
     * in, which is audited with the per-account function's own role.
     */
    roleArn: z.string().regex(ROLE_ARN, 'must be an IAM role ARN').nullable(),
    /** Passed as the AssumeRole ExternalId when the member roles require one. */
    externalId: z.string().regex(EXTERNAL_ID).optional(),
    /**
     * The sort key of the account's guardrail chain item in the organization context
     * (`GUARDRAILS#<16 hex>`, lib/store/organization-context.ts); null when no SCP applies (the
     * management account, or SCPs not enabled). Absent: the discovery read no guardrails, and
     * the account's SCPs are unknown. Kept to a key so that the map's state stays small.
     */
    guardrails: z.string().regex(GUARDRAILS_KEY, 'must be GUARDRAILS# and 16 hex digits').nullable().optional(),
  })
  .strict()
  // The audit files its findings under the account it assumed the role in: that must be the item's.
  .superRefine((account, ctx) => {
    const roleAccount = account.roleArn?.split(':')[4];
    if (roleAccount !== undefined && roleAccount !== account.id) {
      ctx.addIssue({
        code: 'custom',
        path: ['roleArn'],
        message: `names account ${roleAccount}, not the item’s account ${account.id}`,
      });
    }
  });

export type MapAccount = z.output<typeof mapAccountSchema>;

/**
 * One Distributed Map item: the per-account function's event in organization mode.
 *
 * ```json
 * { "organizationRunId": "20260101T030000000Z-ab12cd34",
 *   "account": { "id": "222222222222", "name": "payments-prod",
 *                "roleArn": "arn:aws:iam::222222222222:role/AccountAuditorMemberRole", "externalId": "…" } }
 * ```
 */
export const mapItemSchema = z
  .object({
    organizationRunId: organizationRunIdSchema,
    account: mapAccountSchema,
  })
  .strict();

export type MapItem = z.output<typeof mapItemSchema>;

/** What the discover function returns: the state the Distributed Map reads its items from. */
export interface DiscoveryOutput {
  organizationRunId: string;
  startedAt: string;
  /** The accounts to audit, in ListAccounts order; the map's ItemsPath. */
  accounts: MapAccount[];
  discovery: {
    /** Accounts ListAccounts returned, active or not. */
    listed: number;
    active: number;
    /** ACTIVE accounts left out by the include/exclude settings. */
    filteredOut: number;
    /** Accounts named in includeAccounts that ListAccounts did not return as ACTIVE. */
    missing: string[];
    /** Organizations (and STS) calls the discovery made, by action. */
    calls: Record<string, number>;
  };
}

/** What the discover task is given: the execution's name and start time. */
export const discoverInputSchema = z.object({
  executionName: z.string().min(1),
  executionStartTime: z.string().min(1),
});

export type DiscoverInput = z.output<typeof discoverInputSchema>;

const countsSchema = z.looseObject({
  total: z.number().int().min(0),
  byStatus: z.looseObject({
    PASS: z.number().int().min(0),
    FAIL: z.number().int().min(0),
    WARN: z.number().int().min(0),
    ERROR: z.number().int().min(0),
  }),
});

const outcomeAccountSchema = z.looseObject({ id: z.string(), name: z.string() });

/**
 * One map item's result, as the item processor shapes it: `audited` when the per-account function
 * returned its run summary (ResultSelector keeps `runId`, `complete`, `counts` and `accountState`), `failed` when
 * it did not (an error, a timeout, a throttle past the retries), with Step Functions' error name
 * and the start of its cause.
 */
export const accountOutcomeSchema = z.discriminatedUnion('outcome', [
  z.looseObject({
    outcome: z.literal('audited'),
    account: outcomeAccountSchema,
    run: z.looseObject({
      runId: z.string(),
      complete: z.boolean(),
      counts: countsSchema,
      /** The per-account function's state (its summary's organization.state); failed: the member role could not be assumed. */
      accountState: z.enum(['complete', 'incomplete', 'failed']).optional(),
    }),
  }),
  z.looseObject({
    outcome: z.literal('failed'),
    account: outcomeAccountSchema,
    error: z.string(),
    cause: z.string().optional(),
  }),
]);

export type AccountOutcome = z.output<typeof accountOutcomeSchema>;

/** How long a failure's cause may be in an outcome: the map's whole result must stay under 256 KiB. */
export const OUTCOME_CAUSE_CHARS = 300;

/** What the summarize task is given: the discovery's state, with the map's outcomes in place of the accounts. */
export interface SummarizeInput {
  organizationRunId: string;
  startedAt: string;
  discovery: DiscoveryOutput['discovery'];
  /** One AccountOutcome per account; unknown shapes are counted as failed, never dropped. */
  accounts: unknown[];
}

/**
 * What the per-account audits of one organization run share, read once by the discover step
 * (SPEC 8, design item 3): the organization, its management account and its accounts (inside for
 * role trust, SPEC 3.6). Each account's guardrail chain is stored apart, once per distinct chain.
 */
export interface OrganizationContext {
  organizationRunId: string;
  organizationId: string | null;
  managementAccountId: string | null;
  /** The organization's ACTIVE accounts, audited or left out by the settings. */
  accountIds: string[];
}

/**
 * The key of a guardrail chain: `GUARDRAILS#` and the first 16 hex digits of the SHA-256 of the
 * chain's JSON (levels root first, policies with their documents), so that accounts under the
 * same OUs share one item. An unread chain has its own key too (its call and reason).
 */
export function guardrailsKey(chain: Source<GuardrailLevel[]>): string {
  return `GUARDRAILS#${createHash('sha256').update(JSON.stringify(chain)).digest('hex').slice(0, 16)}`;
}

/** Where the discover step writes the run's context (the findings table: lib/store/organization-context.ts). */
export interface OrganizationContextWriter {
  /**
   * The context and each distinct chain by its key; resolves once every item is written. With
   * `run`, then the organization run's record as it stands before any account is audited (not
   * finished, its message pending), so that a run whose summarize step never runs is still found
   * and its digest published by a later one.
   */
  writeContext(context: OrganizationContext, chains: ReadonlyMap<string, Source<GuardrailLevel[]>>, run?: PendingRun): Promise<void>;
}

/** What the record of an organization run that has not reported says: when it started, its accounts, its alert mode. */
export interface PendingRun extends Pick<DiscoveryOutput, 'startedAt' | 'accounts'> {
  discovery: Omit<DiscoveryOutput['discovery'], 'calls'>;
  alerts: 'digest' | 'per-account';
}
