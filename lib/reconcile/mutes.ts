import type { MuteEntry } from '#lib/settings.ts';
import type { Finding } from '#lib/checks/types.ts';
import type { Mute } from './types.ts';

/**
 * Anchored glob: the whole value must match, `*` is any run of characters and nothing else is
 * special, so an ARN's dots, slashes and `?` are literal and a pattern cannot match by accident.
 */
function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return regex.test(value);
}

/** A date-only expiry means the mute ends when that day starts (UTC). */
function expiryTime(expires: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(expires) ? `${expires}T00:00:00Z` : expires);
}

/**
 * The first mute entry that matches the finding and has not expired at `at` (the run's
 * observation time), or null. An expired entry is ignored, so the finding alerts again.
 */
export function findMute(finding: Pick<Finding, 'checkId' | 'resource'>, mutes: readonly MuteEntry[], at: string): Mute | null {
  const now = Date.parse(at);
  for (const entry of mutes) {
    if (entry.expires !== undefined && expiryTime(entry.expires) <= now) continue;
    if (globMatch(entry.check, finding.checkId) && globMatch(entry.resource, finding.resource)) {
      return { reason: entry.reason, expires: entry.expires ?? null, check: entry.check, resource: entry.resource };
    }
  }
  return null;
}
