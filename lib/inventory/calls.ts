/**
 * How the live readers call AWS: under the time budget, page by page through the SDK's
 * paginators, and with every failure turned into the `unread` source naming its call.
 */
import { AuditorError } from '#lib/model/errors.ts';
import { caught, TIME_BUDGET_CODE, TIME_BUDGET_REASON, unreadSource, withReason } from './failure.ts';
import type { LiveContext } from './definition.ts';
import type { Unread } from './types.ts';

/** Thrown instead of starting (or waiting for) a call once the time budget is spent. */
export class TimeBudgetError extends AuditorError {
  override name = TIME_BUDGET_CODE;
  constructor() {
    super(TIME_BUDGET_REASON);
  }
}

/**
 * The unread source for a failed call. `caught()` keeps the AWS error code; Node network errors
 * carry theirs in `code` (ENOTFOUND, ECONNRESET) under the name `Error`, which it does not look
 * at. The SDK counts its attempts in `$metadata.attempts`: a failure that survived its retries
 * says how many there were.
 */
export function failure(call: string, error: unknown): Unread {
  if (error instanceof TimeBudgetError) return unreadSource(call, TIME_BUDGET_REASON, TIME_BUDGET_CODE);
  let result = caught(call, error);
  const nodeCode = (error as { code?: unknown } | null | undefined)?.code;
  if (!result.code && typeof nodeCode === 'string' && nodeCode) result = unreadSource(call, result.reason, nodeCode);
  const attempts = (error as { $metadata?: { attempts?: unknown } } | null | undefined)?.$metadata?.attempts;
  if (typeof attempts === 'number' && attempts > 1) result = withReason(result, `${result.reason} (gave up after ${attempts} attempts)`);
  return result;
}

/**
 * Runs one step (a call, a wait) under the time budget: refused once the budget is spent, and
 * abandoned the moment it runs out, whatever the step does with the signal itself.
 */
export function budgeted(signal: AbortSignal | undefined) {
  return async <T>(step: () => Promise<T>): Promise<T> => {
    if (!signal) return step();
    if (signal.aborted) throw new TimeBudgetError();
    let onAbort = (): void => {};
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(new TimeBudgetError());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([step(), stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}

export function errorCodes(error: unknown): string[] {
  const e = error as { name?: unknown; Code?: unknown } | null | undefined;
  return [e?.name, e?.Code].filter((v): v is string => typeof v === 'string');
}

/** The SDK names errors after the exception class, and keeps IAM's wire code in `Code`: match either. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return errorCodes(error).some((c) => codes.includes(c));
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The service sent an HTTP response (success or error), so its regional endpoint exists and is reachable. */
export function answered(outcome: Outcome<unknown>): boolean {
  if (outcome.ok) return true;
  const status = (outcome.error as { $metadata?: { httpStatusCode?: unknown } } | null | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number';
}

/**
 * A paginator's `withCommand`. The SDK's paginators hand one input object to every page's command
 * and change its token in place; `make` builds each page's command from its own copy, so that a
 * command keeps the input it was sent with (what retries, logs and recorded calls see).
 */
export function ownInput<I extends object>(make: (input: I) => { input: I }) {
  return <T extends { input: object }>(command: T): T => make({ ...(command.input as I) }) as unknown as T;
}

/**
 * The pages of a paginator, each asked for under the time budget. A token that repeats would loop
 * forever: it is an error.
 */
export async function* budgetedPages<P>(
  ctx: Pick<LiveContext, 'budgeted'>,
  what: string,
  pages: AsyncGenerator<P, unknown, unknown>,
  token: (page: P) => string | undefined,
): AsyncGenerator<P, void, unknown> {
  const seen = new Set<string>();
  for (;;) {
    const next = await ctx.budgeted(() => pages.next());
    if (next.done) return;
    yield next.value;
    const t = token(next.value) || undefined;
    if (t === undefined) continue;
    if (seen.has(t)) throw new Error(`${what} returned the same pagination token twice`);
    seen.add(t);
  }
}
