import type { Alert } from '#lib/notify/alert.ts';
import type { AccountSection, DigestSummary } from '#lib/notify/digest.ts';
import {
  buildDigest,
  buildFailedAccountsAlert,
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
