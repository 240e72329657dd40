import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { OrganizationAlertMode } from '#lib/organization/settings.ts';
import type { AccountLine, OrganizationSummary } from '#lib/organization/summary.ts';
import { StoreError } from './errors.ts';
import { DAY_SECONDS } from './items.ts';
import { KEY_ATTRIBUTES, type ItemType, ORGRUNS_PK, orgRunPk, orgRunSk, SECTION_PREFIX, sectionSk, TTL_ATTRIBUTE } from './keys.ts';
import { queryAll } from './queries.ts';
import { ITEM_LIMIT_BYTES, jsonBytes } from './size.ts';
import type { Item, Table } from './table.ts';
import { describeError } from './table.ts';

/**
 * Organization mode's items (SPEC 8, docs/store.md): each account's digest section under its
 * organization run, and one record per organization run. The section is the notify stage's
 * (lib/notify/digest.ts); the store keeps it as one JSON string and hands it back unread, so the
 * reader validates it (a damaged one is an account in ERROR, never a dropped one).
 */

/** Room kept under DynamoDB's item limit for the keys and bookkeeping attributes. */
const ITEM_MARGIN_BYTES = 16 * 1024;
/** The organization run record's two lists: the accounts in ERROR keep up to this, the per-account list the rest. */
const IN_ERROR_BUDGET_BYTES = 120 * 1024;
const LISTS_BUDGET_BYTES = 300 * 1024;

/** What the store needs of a section: whose it is. */
export interface SectionLike {
  account: { id: string };
}

/** A section as stored, read back: the account from its key, the section as written (unvalidated). */
export interface StoredSection {
  accountId: string;
  section: unknown;
}

/** What the organization run record says about its digest or failed-accounts alert. */
export interface OrganizationRunAlert {
  mode: OrganizationAlertMode;
  /** Whether a message was due (shouldPublishDigest; per-account mode: any account failed outright). */
  wanted: boolean;
  /** The SNS message ID; null when nothing was published. */
  messageId: string | null;
  reason: string;
  /**
   * The run had no topic to publish to (`run --org` without `--topic`): once it reported (on its
   * output), its message was never meant to go out, so no later run publishes it.
   */
  noTopic?: true;
}

/** One organization run as `runs --org` lists it: how every account ended, and its alert. */
export interface OrganizationRunRecord extends Omit<OrganizationSummary, 'discovery'> {
  summarizedAt: string;
  discovery: { listed: number; active: number; filteredOut: number; missing: string[] };
  alert: OrganizationRunAlert;
  /**
   * false on the record written when the run starts, before any account is audited (its
   * `perAccount` lines say so): the run has not reported. Absent once it has.
   */
  finished?: false;
  /** Accounts left out of `perAccount` / `inError` to fit DynamoDB's item limit. */
  perAccountOmitted?: number;
  inErrorOmitted?: number;
}

/** What the record of an organization run says of its accounts until the run has reported. */
export const UNFINISHED_RUN = 'the run has not finished (still running, or stopped before it reported)';

/**
 * The record of an organization run written before any account is audited (the discover step):
 * every account failed with UNFINISHED_RUN, its message wanted and not published, `finished`
 * false. The summarize step replaces it; publishPendingDigests finds it if it never does.
 */
export function pendingOrganizationRun(
  run: {
    organizationRunId: string;
    startedAt: string;
    accounts: readonly { id: string; name: string }[];
    discovery: OrganizationRunRecord['discovery'];
    alerts: OrganizationAlertMode;
  },
  at: string,
): OrganizationRunRecord {
  const perAccount: AccountLine[] = run.accounts.map((a) => ({
    id: a.id,
    name: a.name,
    state: 'failed',
    runId: null,
    counts: null,
    reason: UNFINISHED_RUN,
  }));
  return {
    organizationRunId: run.organizationRunId,
    startedAt: run.startedAt,
    summarizedAt: at,
    discovery: run.discovery,
    accounts: perAccount.length,
    complete: 0,
    incomplete: 0,
    failed: perAccount.length,
    totals: { total: 0, PASS: 0, FAIL: 0, WARN: 0, ERROR: 0 },
    perAccount,
    inError: perAccount,
    alert: { mode: run.alerts, wanted: true, messageId: null, reason: `${UNFINISHED_RUN}: its message was not published` },
    finished: false,
  };
}

/** The longest prefix of `list` whose JSON fits `budget` bytes. */
function fitList<T>(list: readonly T[], budget: number): T[] {
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

/**
 * The record as stored: unchanged when it fits, otherwise its accounts in ERROR cut first to their
 * share and the per-account list to the rest, each cut counted. The counts stay whole.
 */
export function fitOrganizationRun(record: OrganizationRunRecord): OrganizationRunRecord {
  if (jsonBytes(record) <= ITEM_LIMIT_BYTES - ITEM_MARGIN_BYTES) return record;
  const inError = fitList(record.inError, IN_ERROR_BUDGET_BYTES);
  const perAccount = fitList(record.perAccount, LISTS_BUDGET_BYTES - jsonBytes(inError));
  const missing = fitList(record.discovery.missing, 8 * 1024);
  return {
    ...record,
    discovery: { ...record.discovery, missing },
    inError,
    perAccount,
    ...(inError.length < record.inError.length ? { inErrorOmitted: record.inError.length - inError.length } : {}),
    ...(perAccount.length < record.perAccount.length ? { perAccountOmitted: record.perAccount.length - perAccount.length } : {}),
  };
}

/** The account's section of an organization run; expires with the history (`historyTtlDays`). Idempotent. */
export async function putAccountSection(
  table: Table,
  historyTtlDays: number,
  organizationRunId: string,
  section: SectionLike,
  now: () => number = Date.now,
): Promise<void> {
  const body = JSON.stringify(section);
  const accountId = section.account.id;
  if (Buffer.byteLength(body) > ITEM_LIMIT_BYTES - ITEM_MARGIN_BYTES) {
    throw new StoreError(
      `the digest section of account ${accountId} in organization run ${organizationRunId} is ${Buffer.byteLength(body)} bytes, over DynamoDB's item limit`,
      [`section ${organizationRunId} ${accountId}`],
    );
  }
  const item: Item = {
    PK: orgRunPk(organizationRunId),
    SK: sectionSk(accountId),
    type: 'section' satisfies ItemType,
    organizationRunId,
    accountId,
    section: body,
    [TTL_ATTRIBUTE]: Math.floor(now() / 1000) + historyTtlDays * DAY_SECONDS,
  };
  try {
    await table.doc.send(new PutCommand({ TableName: table.name, Item: item }));
  } catch (error) {
    throw new StoreError(
      `could not write the digest section of account ${accountId} in organization run ${organizationRunId} (${describeError(error)})`,
      [`section ${organizationRunId} ${accountId}`],
      { cause: error },
    );
  }
}

/** Every account section of the organization run (one Query, followed across pages, consistent: each account wrote before the map ended). */
export async function querySections(table: Table, organizationRunId: string): Promise<StoredSection[]> {
  const items = await queryAll(table, {
    KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
    ExpressionAttributeValues: { ':pk': orgRunPk(organizationRunId), ':prefix': SECTION_PREFIX },
    ConsistentRead: true,
  });
  return items.map((item) => {
    const accountId = String(item.SK).slice(SECTION_PREFIX.length);
    let section: unknown = item.section;
    if (typeof section === 'string') {
      try {
        section = JSON.parse(section);
      } catch {
        // Left as the string: the reader's validation names it as unreadable.
      }
    }
    return { accountId, section };
  });
}

/** Writes the organization run's record, cut to fit DynamoDB's item limit. Idempotent: a retried summarize writes the same key. */
export async function putOrganizationRun(table: Table, record: OrganizationRunRecord): Promise<void> {
  const fitted = fitOrganizationRun(record);
  await table.doc.send(
    new PutCommand({
      TableName: table.name,
      Item: {
        ...fitted,
        PK: ORGRUNS_PK,
        SK: orgRunSk(record.startedAt, record.organizationRunId),
        type: 'organization-run' satisfies ItemType,
      },
    }),
  );
}

function toOrganizationRun(item: Item): OrganizationRunRecord {
  const out: Item = { ...item };
  for (const key of KEY_ATTRIBUTES) delete out[key];
  return out as OrganizationRunRecord;
}

/** The record of one organization run, or null when none was written (yet). */
export async function getOrganizationRun(
  table: Table,
  startedAt: string,
  organizationRunId: string,
): Promise<OrganizationRunRecord | null> {
  const { Item } = await table.doc.send(
    new GetCommand({ TableName: table.name, Key: { PK: ORGRUNS_PK, SK: orgRunSk(startedAt, organizationRunId) }, ConsistentRead: true }),
  );
  return Item ? toOrganizationRun(Item) : null;
}

/** The latest organization runs, newest first (one Query). */
export async function listOrganizationRuns(table: Table, options: { limit?: number } = {}): Promise<OrganizationRunRecord[]> {
  const limit = options.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const items = await queryAll(
    table,
    { KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': ORGRUNS_PK }, ScanIndexForward: false },
    limit,
  );
  return items.map(toOrganizationRun);
}

export type { AccountLine };
