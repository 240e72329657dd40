import { AuditorError } from '#lib/model/errors.ts';

/**
 * A write that still failed after every retry. It fails the run: the message names how many items
 * and which, and since every write of saveRun is idempotent, running saveRun again is the repair.
 */
export class StoreError extends AuditorError {
  override name = 'StoreError';
  /** One line per item that was not written (`finding <id>`, `history <findingId> at <at>`). */
  readonly failedItems: readonly string[];

  constructor(message: string, failedItems: readonly string[] = [], options: { cause?: unknown } = {}) {
    super(message, options);
    this.failedItems = failedItems;
  }
}

/**
 * Another run holds the account's write lease (it is saving, or crashed less than a lease ago).
 * Nothing was written; the holder and the lease's end are named so the user knows when to retry.
 */
export class StoreBusyError extends StoreError {
  override name = 'StoreBusyError';
  constructor(
    readonly accountId: string,
    readonly holder: string | null,
    readonly until: string | null,
  ) {
    super(
      holder
        ? `account ${accountId} is being saved by run ${holder} (lease until ${until ?? 'unknown'}); nothing was saved, run again after that`
        : `account ${accountId}'s write lease could not be taken; nothing was saved`,
    );
  }
}
