import type { CredentialReportKey } from '#lib/inventory/types.ts';

const DAY_MS = 86_400_000;

/** Whole days from `from` to `to`, never negative (a clock skew must not make a key "young"). */
export function ageInDays(from: string, to: string): number {
  return Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / DAY_MS));
}

/** A key slot as the details of a finding show it: age, last use, or "never used". */
export function describeKey(key: CredentialReportKey, collectedAt: string): Record<string, unknown> {
  return {
    slot: key.slot,
    active: key.active,
    createdAt: key.lastRotated,
    ageDays: key.lastRotated ? ageInDays(key.lastRotated, collectedAt) : null,
    lastUsed: key.lastUsedDate ?? 'never used',
    ...(key.lastUsedService ? { lastUsedService: key.lastUsedService } : {}),
    ...(key.lastUsedRegion ? { lastUsedRegion: key.lastUsedRegion } : {}),
  };
}

/** A slot holds a key when it is active or has a creation date; a deleted key leaves neither. */
export function slotHoldsKey(key: CredentialReportKey): boolean {
  return key.active || key.lastRotated !== null;
}
