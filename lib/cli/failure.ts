import { AsffValidationError } from '#lib/export/asff.ts';
import { OfflineInputError } from '#lib/inventory/offline.ts';
import { SettingsError } from '#lib/settings.ts';
import { LocalStoreError } from '#lib/store/local.ts';
import { StoreError } from '#lib/store/store.ts';
import { type Io, UsageError } from './shared.ts';

/**
 * What the user reads when a command fails, and its exit code (always 2: a run that could not
 * complete). Loaded only when a command has failed, so the commands that succeed never load the
 * modules these errors come from.
 */
export function reportFailure(error: unknown, io: Io): number {
  if (error instanceof AsffValidationError) {
    io.stderr(`account-auditor: refusing to write ASFF that Security Hub would reject: ${error.message}\n`);
    return 2;
  }
  if (
    error instanceof UsageError ||
    error instanceof SettingsError ||
    error instanceof OfflineInputError ||
    error instanceof LocalStoreError
  ) {
    io.stderr(`account-auditor: ${error.message}\n`);
    return 2;
  }
  if (error instanceof StoreError) {
    io.stderr(
      `account-auditor: the findings were evaluated but the state was not saved (with --topic, the run's alert was published, then one saying the state was not saved): ${error.message}\n`,
    );
    return 2;
  }
  io.stderr(`account-auditor: ${(error as Error).message ?? String(error)}\n`);
  if (process.env.ACCOUNT_AUDITOR_DEBUG) io.stderr(`${(error as Error).stack ?? ''}\n`);
  return 2;
}
