import { pMapSettled } from 'p-map';
import type { MapAccount } from './contract.ts';

/**
 * The command line's fan-out over the organization's accounts (SPEC 8: `run --org`), the local
 * counterpart of the Distributed Map: at most `concurrency` accounts at once, every account gets
 * a result, one account's failure never stops the others, results in input order.
 */

/** One account's result: its audit's value, or why the audit threw. */
export type AccountResult<T> =
  | { account: MapAccount; status: 'fulfilled'; value: T; durationMs: number }
  | { account: MapAccount; status: 'rejected'; reason: unknown; durationMs: number };

/** Told when an account starts and when it ends (the command line's progress on stderr). */
export type PoolProgress<T> =
  | { event: 'started'; account: MapAccount; index: number; total: number; running: number }
  | { event: 'finished'; result: AccountResult<T>; index: number; total: number; done: number; running: number };

export interface PoolOptions<T, K = T> {
  /** Accounts audited at once (the settings' maxConcurrency, or `--concurrency`). */
  concurrency: number;
  /** One account's audit (auditMemberAccount in organization mode). Its rejection is that account's result. */
  auditOne: (account: MapAccount, index: number) => Promise<T>;
  /** Must not throw: a progress line is not worth an account's result. */
  onProgress?: (progress: PoolProgress<T>) => void;
  /**
   * What is kept of a fulfilled audit once its progress is told: the value itself by default. An
   * organization's worth of full results (every finding of every account) outweighs the audits in
   * flight, so a caller that reports from a summary keeps the summary. A throw here is that
   * account's rejection. A rejection's reason is kept as it is.
   */
  keep?: (value: T, account: MapAccount) => K;
  now?: () => number;
}

/**
 * Audits every account with `auditOne`, at most `concurrency` at once, and returns one result per
 * account in input order, fulfilled (with what `keep` keeps of its value) or rejected; it never
 * rejects itself for an account's failure.
 */
export async function auditAccounts<T, K = T>(accounts: readonly MapAccount[], options: PoolOptions<T, K>): Promise<AccountResult<K>[]> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new RangeError(`concurrency must be a whole number of at least 1, got ${options.concurrency}`);
  const now = options.now ?? (() => performance.now());
  const total = accounts.length;
  let running = 0;
  let done = 0;
  const progress = (p: PoolProgress<T>): void => {
    try {
      options.onProgress?.(p);
    } catch {
      // A failing progress line must not turn into the account's failure.
    }
  };
  const settled = await pMapSettled(
    accounts,
    async (account, index): Promise<AccountResult<K>> => {
      running++;
      progress({ event: 'started', account, index, total, running });
      const started = now();
      let result: AccountResult<T>;
      try {
        const value = await options.auditOne(account, index);
        result = { account, status: 'fulfilled', value, durationMs: Math.round(now() - started) };
      } catch (reason) {
        result = { account, status: 'rejected', reason, durationMs: Math.round(now() - started) };
      }
      running--;
      done++;
      progress({ event: 'finished', result, index, total, done, running });
      return kept(result, options.keep);
    },
    { concurrency: options.concurrency },
  );
  // The mapper catches every failure of auditOne, so a rejection here is the pool's own bug: still one result per account.
  return settled.map((s, i) =>
    s.status === 'fulfilled' ? s.value : { account: accounts[i]!, status: 'rejected', reason: s.reason, durationMs: 0 },
  );
}

/** The result as the pool returns it: the value through `keep` (the value itself without one). */
function kept<T, K>(result: AccountResult<T>, keep: ((value: T, account: MapAccount) => K) | undefined): AccountResult<K> {
  if (result.status === 'rejected' || !keep) return result as AccountResult<unknown> as AccountResult<K>;
  try {
    return { ...result, value: keep(result.value, result.account) };
  } catch (reason) {
    return { account: result.account, status: 'rejected', reason, durationMs: result.durationMs };
  }
}
