import type { Alert } from '#lib/notify/alert.ts';
import type { AccountSection, DigestSummary } from '#lib/notify/digest.ts';
import {
  buildDigest,
  buildFailedAccountsAlert,
  failedSection,
  mergeSections,
  parseSection,
  sectionFromAlert,
  shouldPublishDigest,
} from '#lib/notify/digest.ts';
import type { OrganizationAlertMode } from '#lib/organization/settings.ts';
import type { OrganizationSummary } from '#lib/organization/summary.ts';
import type { OrganizationRunRecord, StoredSection } from '#lib/store/organization-runs.ts';
import type { AlertPublisher } from './ports.ts';

/** What reporting an organization run needs of the store (FindingsStore has it). */
export interface OrganizationRunStore {
  querySections(organizationRunId: string): Promise<StoredSection[]>;
  getOrganizationRun(startedAt: string, organizationRunId: string): Promise<OrganizationRunRecord | null>;
  putOrganizationRun(record: OrganizationRunRecord): Promise<void>;
}

export interface ReportOrganizationRunOptions {
  summary: OrganizationSummary;
  /** The organization settings' `alerts`: one digest, or per-account alerts (then only the accounts that failed outright). */
  mode: OrganizationAlertMode;
  store: OrganizationRunStore;
  /** Where the message goes; null: built (and recorded as wanted) but not published. */
  publisher: AlertPublisher | null;
  /** Named in the message as where the full lists are. */
  tableName?: string;
  now?: () => Date;
}

export interface OrganizationRunReport {
  record: OrganizationRunRecord;
  /** The message built for this run; null when a retry found the run already reported. */
  alert: Alert<DigestSummary> | null;
  /** A retried summarize: the record said the message was already published (or not due), so nothing was published again. */
  repeated: boolean;
}

/**
 * The organization run's record and its one message. The message goes first, the record second:
 * a crash between them leaves no record, so the retried step publishes again (a duplicate, never
 * a lost message), and a retry that finds the record with its message ID publishes nothing. A
 * failed publish still writes the record (its messageId null, so a retry publishes) and then fails.
 */
export async function reportOrganizationRun(options: ReportOrganizationRunOptions): Promise<OrganizationRunReport> {
  const { summary, mode, store } = options;
  const existing = await store.getOrganizationRun(summary.startedAt, summary.organizationRunId);
  if (existing && (existing.alert.messageId !== null || !existing.alert.wanted)) return { record: existing, alert: null, repeated: true };

  const failedAccounts = summary.perAccount
    .filter((l) => l.state === 'failed')
    .map((l) => ({ id: l.id, name: l.name, reason: l.reason ?? 'the invocation failed' }));
  const base = {
    organizationRunId: summary.organizationRunId,
    startedAt: summary.startedAt,
    ...(options.tableName ? { tableName: options.tableName } : {}),
  };
  let alert: Alert<DigestSummary>;
  let wanted: boolean;
  if (mode === 'digest') {
    const stored = await store.querySections(summary.organizationRunId);
    const sections: AccountSection[] = mergeSections(
      stored.map((s) => parseSection(s.section, s.accountId)),
      summary.perAccount,
    );
    wanted = shouldPublishDigest(sections);
    alert = buildDigest({ ...base, sections });
  } else {
    // Each audited account published its own alert; an account whose invocation failed could not.
    wanted = failedAccounts.length > 0;
    alert = buildFailedAccountsAlert({ ...base, sections: [], failedAccounts });
  }

  const record = (messageId: string | null, reason: string): OrganizationRunRecord => {
    const { discovery, ...rest } = summary;
    return {
      ...rest,
      discovery: { listed: discovery.listed, active: discovery.active, filteredOut: discovery.filteredOut, missing: discovery.missing },
      summarizedAt: (options.now ?? (() => new Date()))().toISOString(),
      alert: { mode, wanted, messageId, reason },
    };
  };
  const reason = wanted
    ? alert.summary.reason
    : mode === 'digest'
      ? 'nothing to report: no account in ERROR, nothing new'
      : 'no account failed outright';
  let messageId: string | null = null;
  if (wanted && options.publisher) {
    try {
      messageId = (await options.publisher.publish(alert)).messageId;
    } catch (error) {
      await store
        .putOrganizationRun(
          record(null, `the message could not be published: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`),
        )
        .catch(() => undefined);
      throw error;
    }
  }
  const written = record(messageId, wanted && !options.publisher ? `${reason} (no topic: not published)` : reason);
  await store.putOrganizationRun(written);
  return { record: written, alert, repeated: false };
}

/** Where a per-account run of an organization run in digest mode sends its alert (the handler's onAccountAudited). */
export interface SectionSink {
  putAccountSection(organizationRunId: string, section: AccountSection): Promise<void>;
}

/**
 * Digest mode's stand-in for the account's alert publisher: the account's findings alert becomes
 * its digest section in the table (written where the pipeline publishes, so before the run is
 * saved); any other alert (state not saved, Security Hub) is published on the topic as it is,
 * being about this account's run, not its findings. The message ID of a section is empty: nothing
 * was published.
 */
export function sectionPublisher(
  store: SectionSink,
  topic: AlertPublisher,
): (audited: {
  item: { organizationRunId: string; account: { id: string; name: string } };
  alert: Alert<unknown>;
}) => Promise<{ messageId: string }> {
  return async ({ item, alert }) => {
    const section = sectionFromAlert(item.account, alert);
    if (!section) return topic.publish(alert);
    await store.putAccountSection(item.organizationRunId, section);
    return { messageId: '' };
  };
}

/** What recovering the digests of interrupted runs needs of the store (FindingsStore has it). */
export interface PendingDigestStore extends OrganizationRunStore {
  listOrganizationRuns(options?: { limit?: number }): Promise<OrganizationRunRecord[]>;
}

/** How many of the latest organization runs publishPendingDigests looks at: a bounded Query, whatever the table holds. */
export const PENDING_RUNS_LOOKED_AT = 10;

export interface PublishPendingDigestsOptions {
  store: PendingDigestStore;
  publisher: AlertPublisher;
  /** The run calling it: its own record is not pending, it is this run's to report. */
  exclude?: string;
  /** Named in the messages as where the full lists are. */
  tableName?: string;
  /** How many of the latest organization runs to look at (default PENDING_RUNS_LOOKED_AT). */
  limit?: number;
  now?: () => Date;
}

/** One interrupted run's late digest: published (its message ID), or not (why; it stays pending). */
export interface PendingDigest {
  organizationRunId: string;
  startedAt: string;
  /** Why its own digest had not gone out. */
  late: string;
  messageId: string | null;
  error?: string;
}

/**
 * Whether a record's digest is due and was never published: a digest-mode run whose message was
 * wanted (a run that has not finished always counts as wanting one) and has no message ID. A run
 * that finished without a topic reported on its output, by choice unpublished; one that never
 * finished reported nowhere, topic or not, so its digest is due.
 */
export function digestPending(record: OrganizationRunRecord): boolean {
  const { alert } = record;
  return alert.mode === 'digest' && alert.wanted && alert.messageId === null && (record.finished === false || alert.noTopic !== true);
}

/** What a record that has not finished says of the accounts without a section: nobody knows whether they were audited. */
const NO_SECTION =
  'no digest section stored: the run stopped before this account was audited, or it had nothing to report; its next run reports again whatever no completed run reported';

/**
 * The digest of an interrupted run, rebuilt from its stored sections. Each section was written
 * before its account's run was saved, so every finding that run may have made known is in one. A
 * run that finished (its own publish failed) merges them with its per-account lines, as its
 * summarize did; one that never finished lists the accounts it had not heard from in ERROR.
 */
async function lateDigest(store: OrganizationRunStore, record: OrganizationRunRecord, late: string, tableName?: string) {
  const stored = (await store.querySections(record.organizationRunId)).map((s) => parseSection(s.section, s.accountId));
  let sections: AccountSection[];
  if (record.finished === false) {
    const seen = new Set(stored.map((s) => s.account.id));
    sections = [
      ...stored,
      ...record.perAccount.filter((l) => !seen.has(l.id)).map((l) => failedSection({ id: l.id, name: l.name }, NO_SECTION)),
    ];
  } else {
    sections = mergeSections(stored, record.perAccount);
  }
  return buildDigest({
    organizationRunId: record.organizationRunId,
    startedAt: record.startedAt,
    sections,
    late,
    ...(tableName ? { tableName } : {}),
  });
}

/**
 * Publishes the digest of every recent organization run whose digest is due but was never
 * published (digestPending): the run stopped before it reported (killed, timed out, its summarize
 * step never ran or failed for good), or its publish failed. Each digest is rebuilt from the run's
 * stored sections, published, and then the record says so; a crash in between publishes it again
 * next time (a duplicate, never a loss), and a publish that fails leaves the record pending.
 * Bounded: the latest `limit` records, one Query, plus one Query of sections per pending run.
 * Throws only when the records cannot be listed.
 */
export async function publishPendingDigests(options: PublishPendingDigestsOptions): Promise<PendingDigest[]> {
  const now = options.now ?? (() => new Date());
  const records = await options.store.listOrganizationRuns({ limit: options.limit ?? PENDING_RUNS_LOOKED_AT });
  const out: PendingDigest[] = [];
  // Oldest first, as they happened.
  for (const record of records.filter((r) => r.organizationRunId !== options.exclude && digestPending(r)).reverse()) {
    const late =
      record.finished === false
        ? `organization run ${record.organizationRunId}, started ${record.startedAt}, stopped before it reported; this digest is rebuilt from the sections its accounts stored before their runs were saved`
        : `the digest of organization run ${record.organizationRunId}, started ${record.startedAt}, was not published (${record.alert.reason}); this digest is rebuilt from its stored sections`;
    const entry: PendingDigest = { organizationRunId: record.organizationRunId, startedAt: record.startedAt, late, messageId: null };
    try {
      const alert = await lateDigest(options.store, record, late, options.tableName);
      entry.messageId = (await options.publisher.publish(alert)).messageId;
    } catch (error) {
      entry.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      out.push(entry);
      continue;
    }
    try {
      await options.store.putOrganizationRun({
        ...record,
        alert: {
          ...record.alert,
          messageId: entry.messageId,
          reason: `${record.alert.reason}; published late, at ${now().toISOString()}${options.exclude ? ` by organization run ${options.exclude}` : ''}`,
        },
      });
    } catch (error) {
      // Published: a record left pending only means the same digest again next time.
      entry.error = `published, but its record could not be updated (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
    }
    out.push(entry);
  }
  return out;
}

/**
 * The summarize step's report: first the digests of earlier runs that never went out
 * (publishPendingDigests, which never keeps this run's own from going out), then this run's own.
 */
export async function reportWithPending(
  options: ReportOrganizationRunOptions & { store: PendingDigestStore },
): Promise<OrganizationRunReport & { pending: PendingDigest[]; pendingError?: string }> {
  let pending: PendingDigest[] = [];
  let pendingError: string | undefined;
  // Whatever this run's mode: a record says its own mode, and only digest-mode records are pending.
  if (options.publisher) {
    try {
      pending = await publishPendingDigests({
        store: options.store,
        publisher: options.publisher,
        exclude: options.summary.organizationRunId,
        ...(options.tableName ? { tableName: options.tableName } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
    } catch (error) {
      pendingError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }
  const report = await reportOrganizationRun(options);
  return { ...report, pending, ...(pendingError ? { pendingError } : {}) };
}
