import type { HistoryEntry, ReconciledFinding, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import { isOpen } from '#lib/reconcile/types.ts';
import type { Scope } from '#lib/reconcile/scope.ts';
import type { ItemType } from './keys.ts';
import {
  accountPk,
  ACCOUNTS_PK,
  findingSk,
  historyPk,
  historySk,
  KEY_ATTRIBUTES,
  OBSERVED_SK,
  openPk,
  openSk,
  runSk,
  TTL_ATTRIBUTE,
} from './keys.ts';
import { fitDetails, fitRunRecord } from './size.ts';
import type { Item } from './table.ts';

/**
 * What the store's records are as table items, and back (key schema and attributes in
 * docs/store.md). Pure: no request is made here.
 */

export const DAY_SECONDS = 86_400;

export interface AccountEntry {
  accountId: string;
  lastRunAt: string;
  lastRunId: string;
}

/** Attributes that say who wrote an item and what committed state it replaced: internal, stripped on read. */
const COMMIT_ATTRIBUTES = ['observedAt', 'runSk', 'prior'] as const;

function omit(item: Item, keys: readonly string[]): Item {
  const out: Item = { ...item };
  for (const key of keys) delete out[key];
  return out;
}

/** A finding item's own state, whoever wrote it. */
export function toFinding(item: Item): StoredFinding {
  const finding = omit(item, [...KEY_ATTRIBUTES, ...COMMIT_ATTRIBUTES]);
  // Items written before details became a JSON string hold them as a map: both read back the same.
  if (typeof finding.details === 'string') finding.details = JSON.parse(finding.details) as unknown;
  return finding as StoredFinding;
}

export function toRunRecord(item: Item): RunRecord {
  return omit(item, KEY_ATTRIBUTES) as RunRecord;
}

export function toHistoryEntry(item: Item): HistoryEntry {
  return omit(item, [...KEY_ATTRIBUTES, TTL_ATTRIBUTE, 'runSk']) as HistoryEntry;
}

export function toAccountEntry(item: Item): AccountEntry {
  return { accountId: String(item.accountId), lastRunAt: String(item.lastRunAt), lastRunId: String(item.lastRunId) };
}

/** A finding as a completed run stored it, with that run's observation time. */
export interface FindingView {
  state: StoredFinding;
  observedAt: number;
}

/**
 * Whether the item's writer completed: its run record exists. Items written before commit points
 * existed carry no `runSk` and count as completed, as they did then.
 */
export function isCommittedItem(item: Item, committed: ReadonlySet<string>, exclude?: string): boolean {
  if (typeof item.runSk !== 'string') return true;
  return item.runSk !== exclude && committed.has(item.runSk);
}

/**
 * The finding as the completed runs left it: the item itself when its writer completed, otherwise
 * the state it replaced (`prior`), or nothing when it had none. `exclude` treats that run as not
 * completed, so a run saved again sees the state from before its first save.
 */
export function committedView(item: Item, committed: ReadonlySet<string>, exclude?: string): FindingView | null {
  if (isCommittedItem(item, committed, exclude)) return { state: toFinding(item), observedAt: Number(item.observedAt) };
  return typeof item.prior === 'string' ? fromPrior(toFinding(item), JSON.parse(item.prior) as StoredPrior) : null;
}

/**
 * `prior` as stored: only the fields of the committed state that differ from the item's own
 * (`changed`), and those it lacked (`absent`). A finding still open as before differs in lastSeen
 * and runId alone, so the prior costs a few dozen bytes, not a second copy of the item.
 */
interface StoredPrior {
  observedAt: number;
  changed: Partial<StoredFinding>;
  absent: string[];
}

/** The committed state as its difference from `state`, whose details are already cut as stored. */
function toPrior(state: StoredFinding, prior: FindingView): StoredPrior {
  const own = state as unknown as Record<string, unknown>;
  const old = { ...prior.state, details: fitDetails(prior.state.details) } as unknown as Record<string, unknown>;
  const changed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(old)) {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(own[key])) changed[key] = value;
  }
  const absent = Object.keys(own).filter((key) => own[key] !== undefined && old[key] === undefined);
  return { observedAt: prior.observedAt, changed: changed as Partial<StoredFinding>, absent };
}

function fromPrior(own: StoredFinding, prior: StoredPrior): FindingView {
  const state = { ...own, ...prior.changed } as unknown as Record<string, unknown>;
  for (const key of prior.absent) delete state[key];
  return { state: state as unknown as StoredFinding, observedAt: prior.observedAt };
}

/** The observed scopes as the completed runs left them (see committedView). */
export function committedScopes(item: Item | null, committed: ReadonlySet<string>, exclude?: string): Map<Scope, number> {
  if (!item) return new Map();
  const raw: unknown = isCommittedItem(item, committed, exclude)
    ? item.scopes
    : typeof item.prior === 'string'
      ? JSON.parse(item.prior)
      : {};
  return new Map(Object.entries((raw ?? {}) as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

type IndexKeys = { GSI1PK: string; GSI1SK: string } | null;

/** Open findings are in the sparse index, most severe first; others are not. */
export function indexKeysOf(state: StoredFinding): IndexKeys {
  return isOpen(state) ? { GSI1PK: openPk(state.accountId), GSI1SK: openSk(state.severity, state.checkId, state.resource) } : null;
}

/** Whether the item is indexed by its own state (`indexKeysOf` it). */
export function indexedByOwnState(item: Item): boolean {
  const keys = indexKeysOf(toFinding(item));
  return keys === null
    ? item.GSI1PK === undefined && item.GSI1SK === undefined
    : item.GSI1PK === keys.GSI1PK && item.GSI1SK === keys.GSI1SK;
}

/** The item indexed by its own state. */
export function reindexed(item: Item): Item {
  const keys = indexKeysOf(toFinding(item));
  const { GSI1PK: _pk, GSI1SK: _sk, ...rest } = item;
  return keys ? { ...rest, ...keys } : rest;
}

/**
 * The whole item is replaced. `observedAt` is the observation time of the run that wrote it.
 * `runSk` names the writer's run record, and `prior` holds the committed state this item
 * replaces, so that until the writer completes, readers see the prior one. For the same reason
 * the item keeps the prior's index keys while the prior is open; once the run completes, saveRun
 * re-indexes it by its own state.
 */
export function findingItem(finding: StoredFinding, observedAt: number, writer: string, prior: FindingView | null): Item {
  const keys = prior && isOpen(prior.state) ? indexKeysOf(prior.state) : indexKeysOf(finding);
  // Cut to fit the item limit, with a count of what was left out.
  const state = { ...finding, details: fitDetails(finding.details) };
  return {
    ...state,
    PK: accountPk(state.accountId),
    SK: findingSk(state.checkId, state.resource),
    type: 'finding' satisfies ItemType,
    // One string, not a map: nothing queries into details, and a nested map costs marshalling and
    // validation of every value on each write (most of a save's CPU at 10,000 users).
    details: JSON.stringify(state.details),
    observedAt,
    runSk: writer,
    ...(prior ? { prior: JSON.stringify(toPrior(state, prior)) } : {}),
    ...(keys ?? {}),
  };
}

export function runItem(run: RunRecord): Item {
  return { ...fitRunRecord(run), PK: accountPk(run.accountId), SK: runSk(run.startedAt, run.runId), type: 'run' satisfies ItemType };
}

/** A change worth a history item: the three changes the reader follows, or any other change of status. */
export function needsHistory(r: ReconciledFinding): boolean {
  if (r.change === 'new' || r.change === 'regressed' || r.change === 'resolved') return true;
  // A first-seen PASS (previousStatus null) is not a change of status: no item per compliant resource.
  return r.previousStatus !== null && r.previousStatus !== r.state.status;
}

export function historyEntry(r: ReconciledFinding, run: RunRecord): HistoryEntry {
  return {
    findingId: r.state.id,
    at: run.collectedAt,
    runId: run.runId,
    change: r.change,
    status: r.state.status,
    previousStatus: r.previousStatus,
    severity: r.state.severity,
    title: r.state.title,
  };
}

export function historyItem(entry: HistoryEntry, expiresAt: number, writer: string): Item {
  return {
    ...entry,
    PK: historyPk(entry.findingId),
    SK: historySk(entry.at, entry.runId),
    type: 'history' satisfies ItemType,
    [TTL_ATTRIBUTE]: expiresAt,
    runSk: writer,
  };
}

/** The observed scopes after a run; `committed` (the scopes before it) rides along for readers until it completes. */
export function observedItem(
  accountId: string,
  scopes: ReadonlyMap<Scope, number>,
  writer: string,
  committed: ReadonlyMap<Scope, number> | null,
): Item {
  return {
    PK: accountPk(accountId),
    SK: OBSERVED_SK,
    type: 'observed' satisfies ItemType,
    scopes: Object.fromEntries(scopes),
    runSk: writer,
    ...(committed ? { prior: JSON.stringify(Object.fromEntries(committed)) } : {}),
  };
}

export function accountItem(run: RunRecord): Item {
  return {
    PK: ACCOUNTS_PK,
    SK: run.accountId,
    type: 'account' satisfies ItemType,
    accountId: run.accountId,
    lastRunAt: run.startedAt,
    lastRunId: run.runId,
  };
}
