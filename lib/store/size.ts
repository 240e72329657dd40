import type { RunRecord } from '#lib/reconcile/types.ts';

/**
 * DynamoDB refuses items over 400 KB (attribute names and values, UTF-8). A finding's details and a
 * run's lists are the only parts that grow with the input, so they are cut to a byte budget here,
 * keeping their shape and saying how much was left out.
 */

/** DynamoDB's item size limit, in bytes. */
export const ITEM_LIMIT_BYTES = 400 * 1024;
/**
 * One copy of a finding's details. A finding item holds two (its state and the committed state it
 * replaced, `prior`), so two budgets plus the other attributes stay well under the item limit.
 */
export const DETAILS_BUDGET_BYTES = 120 * 1024;
/** The run record's lists (reasons of checks in ERROR, sources), with room for the fixed fields. */
export const RUN_LISTS_BUDGET_BYTES = 300 * 1024;

/** What a cut left out: array elements and object keys dropped (each counted once, with all it held), and characters cut off strings. */
export interface Omitted {
  entries: number;
  characters: number;
}

/** Marker added to details that were cut: their size before, and what was left out. */
export interface DetailsTruncated {
  originalBytes: number;
  omittedEntries: number;
  omittedCharacters: number;
}

export const TRUNCATED_KEY = 'detailsTruncated';

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/** The longest prefix of `text` whose JSON encoding fits `budget` bytes. */
function cutString(text: string, budget: number, omitted: Omitted): string {
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (jsonBytes(text.slice(0, mid)) <= budget) low = mid;
    else high = mid - 1;
  }
  // Never end on half of a surrogate pair.
  if (low > 0 && low < text.length && /[\uD800-\uDBFF]/.test(text[low - 1]!)) low -= 1;
  omitted.characters += text.length - low;
  return text.slice(0, low);
}

/**
 * `value` cut so that its JSON fits `budget` bytes: strings are shortened, arrays and objects keep
 * their first elements and keys (each cut in turn) while they fit. What is dropped is counted.
 */
export function cutToBudget(value: unknown, budget: number, omitted: Omitted): unknown {
  if (jsonBytes(value) <= budget) return value;
  if (typeof value === 'string') return cutString(value, budget, omitted);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    let used = 2;
    for (let i = 0; i < value.length; i++) {
      const room = budget - used - (out.length > 0 ? 1 : 0);
      const kept = room > 2 ? cutToBudget(value[i], room, omitted) : undefined;
      const size = kept === undefined ? Number.POSITIVE_INFINITY : jsonBytes(kept);
      if (size > room) {
        omitted.entries += value.length - i;
        break;
      }
      out.push(kept);
      used += size + (out.length > 1 ? 1 : 0);
    }
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    let used = 2;
    const entries = Object.entries(value);
    for (let i = 0; i < entries.length; i++) {
      const [key, v] = entries[i]!;
      const keyBytes = jsonBytes(key) + 1 + (Object.keys(out).length > 0 ? 1 : 0);
      const room = budget - used - keyBytes;
      const kept = room > 2 ? cutToBudget(v, room, omitted) : undefined;
      const size = kept === undefined ? Number.POSITIVE_INFINITY : jsonBytes(kept);
      if (size > room) {
        omitted.entries += entries.length - i;
        break;
      }
      out[key] = kept;
      used += keyBytes + size;
    }
    return out;
  }
  return value;
}

/** Room kept for the `detailsTruncated` marker itself. */
const MARKER_BYTES = 160;

/**
 * A finding's details as stored: unchanged when their JSON fits `budget`, otherwise cut to it with
 * `detailsTruncated` saying how large they were and how many entries and characters were left out.
 */
export function fitDetails(details: Record<string, unknown>, budget: number = DETAILS_BUDGET_BYTES): Record<string, unknown> {
  const originalBytes = jsonBytes(details);
  if (originalBytes <= budget) return details;
  const omitted: Omitted = { entries: 0, characters: 0 };
  const { [TRUNCATED_KEY]: _previous, ...rest } = details;
  const cut = cutToBudget(rest, budget - MARKER_BYTES, omitted) as Record<string, unknown>;
  const marker: DetailsTruncated = { originalBytes, omittedEntries: omitted.entries, omittedCharacters: omitted.characters };
  return { ...cut, [TRUNCATED_KEY]: marker };
}

/** The longest prefix of `list` whose JSON fits `budget` bytes. */
export function fitList<T>(list: readonly T[], budget: number): T[] {
  const kept: T[] = [];
  let used = 2;
  for (const entry of list) {
    const size = jsonBytes(entry) + 1;
    if (used + size > budget) break;
    kept.push(entry);
    used += size;
  }
  return kept;
}

/** A reason longer than this is cut in a run record that must be shortened. */
const REASON_MAX_CHARACTERS = 1_000;

/**
 * The run record as stored: unchanged when it fits, otherwise its lists (one reason per ERROR
 * finding of each check in ERROR, one source per unread file or call) are cut to share
 * RUN_LISTS_BUDGET_BYTES, with `reasonsOmitted` and `sourcesOmitted` counting what was left out.
 */
export function fitRunRecord<T extends RunRecord>(run: T): T {
  if (jsonBytes(run) <= ITEM_LIMIT_BYTES - 16 * 1024) return run;
  const share = Math.floor(RUN_LISTS_BUDGET_BYTES / (run.checksInError.length + 1));
  const checksInError = run.checksInError.map((check) => {
    const reasons = fitList(
      check.reasons.map((r) => (r.length > REASON_MAX_CHARACTERS ? `${r.slice(0, REASON_MAX_CHARACTERS)}…` : r)),
      share,
    );
    return reasons.length === check.reasons.length ? check : { ...check, reasons, reasonsOmitted: check.reasons.length - reasons.length };
  });
  const sources = fitList(run.sources, share);
  return {
    ...run,
    checksInError,
    sources,
    ...(sources.length < run.sources.length ? { sourcesOmitted: run.sources.length - sources.length } : {}),
  };
}
