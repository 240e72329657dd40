import { z } from 'zod';
import { parseWith } from '../../format.ts';
import type { AccountSummary } from '../../types.ts';

const summarySchema = z.object({
  SummaryMap: z
    .record(z.string(), z.number())
    .refine((m) => 'AccountAccessKeysPresent' in m, { message: 'SummaryMap has no AccountAccessKeysPresent' }),
});

/** `GetAccountSummary`'s answer (the API's or its export): both have the same PascalCase shape. */
export function normalizeAccountSummary(raw: unknown, where = 'GetAccountSummary'): AccountSummary {
  const { SummaryMap } = parseWith(summarySchema, raw, where);
  return {
    accountAccessKeysPresent: SummaryMap.AccountAccessKeysPresent ?? 0,
    accountMfaEnabled: SummaryMap.AccountMFAEnabled ?? 0,
    summaryMap: SummaryMap,
  };
}
