import { z } from 'zod';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';

/**
 * A mute entry: `check` and `resource` match exactly, or as an anchored glob where `*` matches
 * any run of characters (`arn:aws:iam::123456789012:user/ci-*`). A reason is mandatory, so a mute
 * explains itself; after `expires` it stops muting.
 */
const muteSchema = z
  .object({
    check: z.string().min(1),
    resource: z.string().min(1),
    reason: z.string().trim().min(1, 'a mute needs a reason'),
    expires: z.iso
      .date()
      .or(z.iso.datetime({ offset: true }))
      .optional(),
  })
  .strict();

export type MuteEntry = z.output<typeof muteSchema>;

/** The retry modes of the AWS SDK v3 (`retryMode`, `AWS_RETRY_MODE`). */
export const AWS_RETRY_MODES = ['standard', 'adaptive'] as const;
export type AwsRetryMode = (typeof AWS_RETRY_MODES)[number];

/**
 * The one validated settings object. Every field has a default, so `{}` is valid; bounds keep an
 * on-demand payload from asking for nonsense (a negative key age, a million lookups).
 */
export const settingsSchema = z
  .object({
    maxKeyAgeDays: z.number().int().min(1).max(3650).default(90),
    /** Default: 8/9 of maxKeyAgeDays (80 for 90), so a lower limit alone is valid. */
    warnKeyAgeDays: z.number().int().min(0).max(3650).optional(),
    /** Regions audited for ElastiCache and DAX; empty means the SDK's default region. */
    regions: z
      .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be a region name such as eu-west-1'))
      .max(40)
      .default([]),
    /** A subset of check IDs; empty means every check. */
    checks: z.array(z.enum(CHECK_IDS)).default([]),
    /** At most this many users get a `ListAccessKeys` call to name their over-age keys. */
    keyIdLookups: z.number().int().min(0).max(1000).default(50),
    /** Upper bound on the wait for `GenerateCredentialReport` to finish. */
    reportWaitSeconds: z.number().int().min(1).max(600).default(60),
    /**
     * Attempts per AWS read call of the collector (IAM, STS, ElastiCache, DAX; the first one
     * included), through the SDK's retry strategy: throttling (`Throttling`,
     * `RequestLimitExceeded`…), HTTP 5xx and network errors are retried with backoff until then.
     * Bounded so that a throttled account cannot stretch a run past the Lambda timeout, or add
     * load to a rate limit shared with production.
     */
    awsMaxAttempts: z.number().int().min(1).max(10).default(3),
    /** The SDK's retry mode: `standard`, or `adaptive` (also slows the client down while throttled). */
    awsRetryMode: z.enum(AWS_RETRY_MODES).default('standard'),
    /** When a run publishes an alert: new or regressed FAIL/ERROR, any open FAIL, or every run. */
    alertOn: z.enum(['new', 'open', 'always']).default('new'),
    /** FAIL findings below this severity are not alerted (ERROR always is). */
    minAlertSeverity: z.enum(['critical', 'high', 'medium', 'low', 'informational']).default('low'),
    /** How long history items live before DynamoDB's TTL removes them. */
    historyTtlDays: z.number().int().min(1).max(3650).default(400),
    /**
     * Account IDs whose principals count as inside for role trust (SPEC 3.6), besides the
     * audited account and its organization: an administrator role they can assume is not a FAIL.
     */
    trustedAccounts: z
      .array(z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID'))
      .max(1000)
      .default([]),
    /** Findings to store and report as muted, never alerted. */
    mutes: z.array(muteSchema).max(1000).default([]),
    /**
     * After each saved run, import its FAIL/WARN/ERROR findings and the findings it resolved into
     * Security Hub CSPM (BatchImportFindings on the account's default product, in the region the
     * auditor runs in). Needs securityhub:BatchImportFindings (CDK context `securityHub=true`).
     */
    securityHub: z.boolean().default(false),
  })
  .strict()
  .refine((s) => s.warnKeyAgeDays === undefined || s.warnKeyAgeDays <= s.maxKeyAgeDays, {
    message: 'warnKeyAgeDays must not exceed maxKeyAgeDays',
    path: ['warnKeyAgeDays'],
  })
  .transform((s) => ({ ...s, warnKeyAgeDays: s.warnKeyAgeDays ?? Math.round((s.maxKeyAgeDays * 8) / 9) }));

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Validates settings and names every offending field in the error. */
export function parseSettings(input: unknown): Settings {
  const result = settingsSchema.safeParse(input ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    throw new SettingsError(`invalid settings: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * The SDK retry configuration the settings give: the collector's clients take it
 * (`new IAMClient({ ...awsRetryConfig(settings), region })`), and any other client meant to
 * retry alike can.
 */
export function awsRetryConfig(settings: Pick<Settings, 'awsMaxAttempts' | 'awsRetryMode'>): {
  maxAttempts: number;
  retryMode: AwsRetryMode;
} {
  return { maxAttempts: settings.awsMaxAttempts, retryMode: settings.awsRetryMode };
}
