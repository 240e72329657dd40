import { z } from 'zod';
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
  })
  .strict();

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
 * returned its run summary (ResultSelector keeps `runId`, `complete` and `counts`), `failed` when
 * it did not (an error, a timeout, a throttle past the retries), with Step Functions' error name
 * and the start of its cause.
 */
export const accountOutcomeSchema = z.discriminatedUnion('outcome', [
  z.looseObject({
    outcome: z.literal('audited'),
    account: outcomeAccountSchema,
    run: z.looseObject({ runId: z.string(), complete: z.boolean(), counts: countsSchema }),
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
