import { readFile } from 'node:fs/promises';
import type { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { auditAndRecord, type PipelineResult } from '#lib/audit/pipeline.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { parseSettings, type Settings } from '#lib/settings.ts';
import { openStore, topicPublisher, type OpenedStore, type OpenOptions, type StateFlags } from './state.ts';
import { DEMO_DIR, DEMO_NEXT_DIR, type Io, type ReadFlags, type RunFlags, processIo, UsageError } from './shared.ts';

/**
 * What the commands' actions work with: settings, the state store, the audit. Loaded when an
 * action runs; the live collector and the Security Hub client load only when a run needs them.
 */

/** Settings: the config file first, flags over it, then one validation that names bad fields. */
export async function settingsFrom(flags: RunFlags): Promise<Settings> {
  let fromFile: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = await readFile(flags.config, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read the config file ${flags.config}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`the config file ${flags.config} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const regions = [...(flags.region ?? []), ...(flags.regions ?? [])];
  return parseSettings({
    ...fromFile,
    ...(flags.maxKeyAge !== undefined ? { maxKeyAgeDays: flags.maxKeyAge } : {}),
    ...(flags.warnKeyAge !== undefined ? { warnKeyAgeDays: flags.warnKeyAge } : {}),
    ...(flags.keyIdLookups !== undefined ? { keyIdLookups: flags.keyIdLookups } : {}),
    ...(flags.reportWait !== undefined ? { reportWaitSeconds: flags.reportWait } : {}),
    ...(regions.length > 0 ? { regions } : {}),
    ...(flags.checks ? { checks: flags.checks } : {}),
  });
}

/** Opens the state store for the duration of `use`, and always closes it (the local one holds a lock). */
export async function withStore<T>(
  flags: StateFlags,
  historyTtlDays: number,
  use: (opened: OpenedStore | null) => Promise<T>,
  options?: OpenOptions,
): Promise<T> {
  const opened = await openStore(flags, historyTtlDays, options);
  try {
    return await use(opened);
  } finally {
    await opened?.close();
  }
}

/** The region the SDK's default chain (or the profile) names, as Security Hub clients resolve it; null when none is configured. */
export async function defaultRegion(profile: string | undefined): Promise<string | null> {
  const { SecurityHubClient } = await import('@aws-sdk/client-securityhub');
  const client = new SecurityHubClient({ ...(profile ? { profile } : {}) });
  try {
    return (await client.config.region()) || null;
  } catch {
    return null;
  } finally {
    client.destroy();
  }
}

/** Security Hub's region for the import and for ASFF's ProductArn: the SDK's default region, else the first audited one. */
export async function hubRegion(flags: { profile?: string }, fallback: readonly string[]): Promise<string | null> {
  return (await defaultRegion(flags.profile)) ?? fallback[0] ?? null;
}

export async function audit(
  flags: RunFlags,
  dir: string | undefined,
  settings: Settings,
  opened: OpenedStore | null,
  io: Io,
  securityHub: SecurityHubClient | null = null,
  region: string | null = null,
): Promise<PipelineResult> {
  const progress = (message: string) => {
    if (!flags.quiet) io.stderr(`… ${message}\n`);
  };
  if (flags.topic && !/^arn:[^:]+:sns:[^:]+:\d{12}:.+$/.test(flags.topic)) {
    throw new UsageError(`--topic must be an SNS topic ARN, got ${JSON.stringify(flags.topic)}`);
  }
  return auditAndRecord({
    settings,
    trigger: 'local',
    store: opened?.store ?? null,
    ...(opened ? { tableName: opened.tableName } : {}),
    publisher: flags.topic ? topicPublisher(flags.topic, flags.profile) : null,
    securityHub: securityHub && region ? { client: securityHub, region } : null,
    collect: dir
      ? () =>
          loadOffline(dir, {
            ...(settings.regions.length > 0 ? { regions: settings.regions } : {}),
            ...(dir === DEMO_DIR || dir === DEMO_NEXT_DIR ? { origin: 'demo' } : {}),
          })
      : async () => {
          const [{ collectLive }, { liveOptions }] = await Promise.all([import('#lib/inventory/live.ts'), import('#lib/audit/collect.ts')]);
          return collectLive(liveOptions({ settings, ...(flags.profile ? { profile: flags.profile } : {}), onProgress: progress }));
        },
  });
}

/** The account to read: the one given, or the only one the store knows. */
export async function accountOf(opened: OpenedStore, flags: ReadFlags): Promise<string> {
  if (flags.account) return flags.account;
  const accounts = await opened.store.accounts();
  if (accounts.length === 1) return accounts[0]!.accountId;
  if (accounts.length === 0) throw new UsageError(`no runs stored in ${opened.where} yet: run \`account-auditor run\` first`);
  throw new UsageError(`${opened.where} holds several accounts (${accounts.map((a) => a.accountId).join(', ')}): pass --account`);
}

const ACCOUNT_ID = /^\d{12}$/;

/**
 * The accounts to read: those given (each must have runs stored: an unknown ID is refused, not
 * read as an account without findings), or the only one the store knows.
 */
export async function accountsOf(opened: OpenedStore, given: readonly string[] | undefined): Promise<string[]> {
  if (!given || given.length === 0) return [await accountOf(opened, {} as ReadFlags)];
  const wanted = [...new Set(given)];
  const bad = wanted.filter((id) => !ACCOUNT_ID.test(id));
  if (bad.length > 0)
    throw new UsageError(`--account must be 12-digit AWS account IDs, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  const known = new Set((await opened.store.accounts()).map((a) => a.accountId));
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UsageError(`no runs stored in ${opened.where} for account ${unknown.join(', ')}`);
  return wanted;
}

/** `table` is rendered only for --format table: laying out thousands of rows takes seconds. */
export async function readState(
  flags: ReadFlags,
  io: Io,
  read: (opened: OpenedStore) => Promise<{ json: unknown; table: () => string; text?: string }>,
): Promise<number> {
  if (flags.store === false) throw new UsageError('--no-store leaves nothing to read');
  return withStore(
    flags,
    parseSettings({}).historyTtlDays,
    async (opened) => {
      const out = await read(opened!);
      io.stdout(
        out.text !== undefined ? `${out.text}\n` : flags.format === 'json' ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.table()}\n`,
      );
      return 0;
    },
    { mode: 'read', exitOnStoreFailure: io === processIo },
  );
}
