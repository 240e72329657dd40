/**
 * Integrity rules shared by the live collector and the offline importer (SPEC 2.1): dates are
 * strict ISO 8601 with a time zone and never after the audit time; an entry listed twice must be
 * an exact repeat, otherwise both entries are named.
 */

/**
 * How far a date may lie after the audit time before it is an error: the clock of the machine
 * that runs the audit and AWS's clock may disagree by this much, and a live collection reads its
 * data a few seconds to minutes after the moment it started.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * `2026-11-01T00:00:00Z`, `2026-11-01T00:00:00.123+00:00`, `2026-11-01T00:00+0100`: date, time and
 * a time zone are all required; `11/01`, `2026-11-01` and `2026-11-01T00:00:00` are refused.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;

/** Epoch milliseconds of a strict ISO 8601 date with a time zone, or null when it is not one. */
export function parseIsoDate(value: string): number | null {
  const match = ISO_8601.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s = '0', zh = '0', zm = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || Number(zh) > 23 || Number(zm) > 59) return null;
  // 2026-02-30 is not a day: the calendar date must survive a round trip.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : time;
}

/** The audit time a date must not pass, as epoch milliseconds, tolerance included. */
export function dateBound(auditTime: Date | string | number): number {
  const at = auditTime instanceof Date ? auditTime.getTime() : typeof auditTime === 'string' ? Date.parse(auditTime) : auditTime;
  return at + FUTURE_TOLERANCE_MS;
}

/**
 * Why a date cannot be used (not ISO 8601 with a time zone, or after the audit time), or null.
 * `notAfter` is a bound from dateBound(); without one only the format is checked.
 */
export function dateProblem(value: Date | string, notAfter: number | undefined): string | null {
  let time: number | null;
  let shown: string;
  if (value instanceof Date) {
    time = Number.isNaN(value.getTime()) ? null : value.getTime();
    shown = time === null ? 'an invalid date' : value.toISOString();
    if (time === null) return 'is an invalid date';
  } else {
    time = parseIsoDate(value);
    shown = JSON.stringify(value);
    if (time === null) return `${shown} is not an ISO 8601 date and time with a time zone (such as 2026-11-01T00:00:00Z)`;
  }
  if (notAfter !== undefined && time > notAfter) {
    return `${shown} is after the audit time (${new Date(notAfter - FUTURE_TOLERANCE_MS).toISOString()}): a date from the future cannot give an age`;
  }
  return null;
}

/** Stable JSON, object keys sorted, so that two parses of the same entry compare equal. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** The top-level fields in which two versions of one entry differ, for the error message. */
export function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.filter((k) => canonical(a[k]) !== canonical(b[k])).sort();
}
