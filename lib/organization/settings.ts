import { z } from 'zod';
import { AuditorError } from '#lib/model/errors.ts';

/**
 * The fixed name of the read-only role every member account holds for the auditor (SPEC 8). The
 * member role template and the per-account function's `sts:AssumeRole` grant both use it, so a
 * rename is one setting (CDK context `memberRoleName`) that both follow.
 */
export const DEFAULT_MEMBER_ROLE_NAME = 'AccountAuditorMemberRole';

/** Accounts audited at once by the Distributed Map (and reserved for the per-account function). */
export const DEFAULT_MAX_CONCURRENCY = 20;

/**
 * Lambda keeps 100 of an account's default 1,000 concurrent executions unreserved, and the
 * per-account function reserves exactly `maxConcurrency`: more than 900 cannot be deployed on the
 * default quota.
 */
export const MAX_MAX_CONCURRENCY = 900;

export const ORGANIZATION_ALERT_MODES = ['digest', 'per-account'] as const;
export type OrganizationAlertMode = (typeof ORGANIZATION_ALERT_MODES)[number];

/** IAM's rule for role names: 1 to 64 of letters, digits and `+=,.@_-`. */
export const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
export const ACCOUNT_ID = /^\d{12}$/;
/** An organizational unit ID as Organizations writes it: `ou-<root part>-<ou part>`. */
export const OU_ID = /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;
/** An organization root ID: `r-` and 4 to 32 characters. */
export const ROOT_ID = /^r-[0-9a-z]{4,32}$/;
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** STS's rule for an ExternalId: 2 to 1,224 of letters, digits and `+=,.@:/-` and `_`. */
export const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

const idList = (pattern: RegExp, what: string) =>
  z
    .array(z.string().regex(pattern, `must be ${what}`))
    .max(1000)
    .default([])
    .transform((ids) => [...new Set(ids)]);

/**
 * Organization mode's settings (SPEC 8). Every field has a default, so `{}` is valid:
 *
 * - `managementRoleArn`: a role in the management account that the discovery assumes to call
 *   Organizations; absent, discovery calls Organizations with its own role, which works when the
 *   auditor's account is a delegated administrator (or the management account itself).
 * - `memberRoleName`: the read-only role in each member account (default AccountAuditorMemberRole).
 * - `externalId`: passed on every AssumeRole into a member role, whose trust then requires it.
 * - `includeAccounts`, `includeOus`: when either is non-empty, only the accounts listed or under
 *   one of the OUs (at any depth) are audited; both empty, every ACTIVE account is.
 * - `excludeAccounts`, `excludeOus`: never audited, even when also included.
 * - `maxConcurrency`: accounts audited at once (the Distributed Map's MaxConcurrency).
 * - `alerts`: one digest per organization run (default), or one alert per account.
 */
export const organizationSettingsSchema = z
  .object({
    managementRoleArn: z
      .string()
      .regex(ROLE_ARN, 'must be an IAM role ARN such as arn:aws:iam::111111111111:role/OrganizationRead')
      .optional(),
    memberRoleName: z
      .string()
      .regex(ROLE_NAME, 'must be an IAM role name (1 to 64 of letters, digits and +=,.@_-)')
      .default(DEFAULT_MEMBER_ROLE_NAME),
    externalId: z.string().regex(EXTERNAL_ID, 'must be 2 to 1224 of letters, digits and +=,.@:/_-').optional(),
    includeAccounts: idList(ACCOUNT_ID, 'a 12-digit AWS account ID'),
    excludeAccounts: idList(ACCOUNT_ID, 'a 12-digit AWS account ID'),
    includeOus: idList(OU_ID, 'an organizational unit ID such as ou-ab12-cd34ef56'),
    excludeOus: idList(OU_ID, 'an organizational unit ID such as ou-ab12-cd34ef56'),
    maxConcurrency: z.number().int().min(1).max(MAX_MAX_CONCURRENCY).default(DEFAULT_MAX_CONCURRENCY),
    alerts: z.enum(ORGANIZATION_ALERT_MODES).default('digest'),
  })
  .strict();

export type OrganizationSettings = z.output<typeof organizationSettingsSchema>;
export type OrganizationSettingsInput = z.input<typeof organizationSettingsSchema>;

/** Bad organization settings: exit code 2, like any bad input. */
export class OrganizationSettingsError extends AuditorError {}

/** Validates organization settings and names every offending field in the error. */
export function parseOrganizationSettings(input: unknown): OrganizationSettings {
  const result = organizationSettingsSchema.safeParse(input ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(organization settings)'}: ${i.message}`);
    throw new OrganizationSettingsError(`invalid organization settings: ${problems.join('; ')}`);
  }
  return result.data;
}

/** The member role's ARN in one account: what the per-account run assumes. */
export function memberRoleArn(partition: string, accountId: string, memberRoleName: string): string {
  return `arn:${partition}:iam::${accountId}:role/${memberRoleName}`;
}
