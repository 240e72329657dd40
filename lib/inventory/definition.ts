/**
 * What a source is, for the registry (registry.ts): its place in the Inventory, the IAM actions
 * and exported files it reads, and its readers. The readers are loaded on demand, so reading the
 * registry (the deployed role's actions, `account-auditor files`, run reports) loads no SDK client
 * and no parser.
 */
import type { LiveOptions } from './live.ts';
import type {
  AccountInput,
  AccountSources,
  InventoryInput,
  RegionalInput,
  RegionalSources,
  Source,
  UserInput,
  UserSources,
} from './types.ts';

/** One file (or folder) of an export, as `account-auditor files` documents it. */
export interface OfflineFile {
  file: string;
  command: string;
  required: false;
  feeds: string;
}

/** The retry modes of the SDK clients. */
export type RetryMode = 'standard' | 'adaptive';

/** What every client of the collector is built with (the SDK's own configuration fields). */
export interface ClientConfig {
  region?: string;
  maxAttempts: number;
  retryMode: RetryMode;
  profile?: string;
  credentials?: LiveOptions['credentials'];
  retryStrategy?: ReturnType<NonNullable<LiveOptions['retryStrategy']>>;
}

/** An SDK client class: the collector builds and destroys the clients, the readers name them. */
export type ClientClass<C extends { destroy(): void }> = new (config: ClientConfig) => C;

/** What a live reader runs with. */
export interface LiveContext {
  /** The collector's options: the report wait, the key lookups, ... */
  options: LiveOptions;
  /** The moment ages are computed against. */
  collectedAt: Date;
  progress: (message: string) => void;
  /** Sleeps under the time budget. */
  sleep: (ms: number) => Promise<void>;
  /** Runs a call (or a page) under the time budget: refused once it is spent, abandoned when it runs out. */
  budgeted: <T>(step: () => Promise<T>) => Promise<T>;
  /** The SDK's per-call options: the time budget's signal aborts the call in flight. */
  http: { abortSignal: AbortSignal } | undefined;
  /**
   * The latest date an answer may carry (epoch ms): the clock when the answer is read, plus the
   * tolerance of integrity.dateBound. Answers arrive after the audit time, so later dates than
   * the audit time are normal up to the moment they were read, and impossible after it.
   */
  notAfter: () => number;
  /** The client of this class for this reader's region (account-wide readers: the partition's IAM region). */
  client: <C extends { destroy(): void }>(Client: ClientClass<C>) => C;
  /** An account-wide source, once read: a reader that needs another names it in `requires`. */
  read: <I extends AccountInput>(input: I) => Promise<Source<AccountSources[I]>>;
}

export interface RegionContext extends LiveContext {
  region: string;
  /**
   * Whether any other source of the region got an HTTP answer (an error included): proof that the
   * region is reachable. It waits for those sources, so only a reader no other one waits for may ask.
   */
  othersAnswered: () => Promise<boolean>;
}

/** A regional source, and whether its service answered (see RegionContext.othersAnswered). */
export interface RegionalRead<T> {
  source: Source<T>;
  answered: boolean;
}

/** What the folder of exports holds, links followed. */
export interface Listing {
  files: string[];
  folders: string[];
}

/** What an offline reader runs with. */
export interface OfflineContext {
  dir: string;
  /** The folder's entries; a folder where a file belongs is among them, for the reader to name. */
  listing: Listing;
  /** No date of the export may be after this (epoch ms, from integrity.dateBound). */
  notAfter: number;
  /** An account-wide source, once read. */
  read: <I extends AccountInput>(input: I) => Promise<Source<AccountSources[I]>>;
}

export interface OfflineRegionContext {
  dir: string;
  region: string;
  notAfter: number;
}

interface Common<I extends InventoryInput> {
  input: I;
  /** The IAM actions its live reader calls, and nothing else. */
  permissions: readonly string[];
  /** Its files in a folder of exports (a regional file under `<region>/`), in the order `files` lists them. */
  files: readonly OfflineFile[];
  /** The call, and the file, that name the source when it is not read at all (skipped, no region). */
  call: string;
  file: string;
  /** Other sources its live reader needs: they are read whenever it is. */
  requires?: readonly InventoryInput[];
}

/** A source of the account as a whole: one Source, a field of the Inventory. */
export interface AccountDefinition<I extends AccountInput = AccountInput> extends Common<I> {
  scope: 'account';
  /** Its name in run reports. */
  label: string;
  live: () => Promise<{ read: (ctx: LiveContext) => Promise<Source<AccountSources[I]>> }>;
  offline: () => Promise<{
    /** Whether the folder holds an export of this source. */
    present: (listing: Listing) => boolean;
    read: (ctx: OfflineContext) => Promise<Source<AccountSources[I]>>;
  }>;
}

/**
 * A source read in each region: one Source per region, a field of each RegionInventory. A region is
 * read whole (all its sources, when any is needed): they share the region's clients and vouch
 * for its reachability to each other.
 */
export interface RegionalDefinition<I extends RegionalInput = RegionalInput> extends Common<I> {
  scope: 'region';
  /** Its name in run reports, before the region's. */
  label: string;
  /** Its service's name in progress messages. */
  service: string;
  live: () => Promise<{ read: (ctx: RegionContext) => Promise<RegionalRead<RegionalSources[I]>> }>;
  offline: () => Promise<{
    /** Whether a region folder's entries hold an export of this source. */
    present: (names: string[]) => boolean;
    read: (ctx: OfflineRegionContext) => Promise<Source<RegionalSources[I]>>;
  }>;
}

/** A source read per user: one Source per user looked up, a field of the Inventory by user name. */
export interface UserDefinition<I extends UserInput = UserInput> extends Common<I> {
  scope: 'user';
  /** Its name in run reports, before the user's. */
  label: string;
  live: () => Promise<{ read: (ctx: LiveContext) => Promise<Record<string, Source<UserSources[I]>>> }>;
  offline: () => Promise<{
    present: (listing: Listing) => boolean;
    read: (ctx: OfflineContext) => Promise<Record<string, Source<UserSources[I]>>>;
  }>;
}

export type SourceDefinition = AccountDefinition | RegionalDefinition | UserDefinition;

/** The region name recorded when no region could be resolved, so that regional checks say ERROR. */
export const NO_REGION = '(no region)';

/** Why a skipped source was not read. */
export const SKIPPED_REASON = 'not read: none of the selected checks needs it';

export const isAccountSource = (s: SourceDefinition): s is AccountDefinition => s.scope === 'account';
export const isRegionalSource = (s: SourceDefinition): s is RegionalDefinition => s.scope === 'region';
export const isUserSource = (s: SourceDefinition): s is UserDefinition => s.scope === 'user';
