import { z } from 'zod';
import { CHECK_IDS } from '#lib/checks/ids.ts';

/**
 * The one validated settings object. Every field has a default, so `{}` is valid; bounds keep an
 * on-demand payload from asking for nonsense (a negative key age, a million lookups).
 */
export const settingsSchema = z
  .object({
    maxKeyAgeDays: z.number().int().min(1).max(3650).default(90),
    warnKeyAgeDays: z.number().int().min(0).max(3650).default(80),
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
  })
  .strict()
  .refine((s) => s.warnKeyAgeDays <= s.maxKeyAgeDays, {
    message: 'warnKeyAgeDays must not exceed maxKeyAgeDays',
    path: ['warnKeyAgeDays'],
  });

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
