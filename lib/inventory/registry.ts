/**
 * The sources of the inventory, one line each: the collectors (live.ts, offline.ts), the permission
 * list, the documented export layout and the run reports all go through this list. Adding a source
 * is a folder under sources/ (its definition, readers and normalizer), its line here, and its data
 * type in types.ts (an entry of AccountSources, RegionalSources or UserSources, which makes its
 * field of the Inventory).
 */
import { isAccountSource, isRegionalSource, isUserSource, type OfflineFile, type SourceDefinition } from './definition.ts';
import { accessKeys } from './sources/access-keys/index.ts';
import { accountSummary } from './sources/account-summary/index.ts';
import { authorizationDetails } from './sources/authorization-details/index.ts';
import { credentialReport } from './sources/credential-report/index.ts';
import { dax } from './sources/dax/index.ts';
import { elastiCache } from './sources/elasticache/index.ts';
import type { Inventory, InventoryInput, Source } from './types.ts';

/** In the order the permission list and the export layout give them. */
const DEFINITIONS = [accountSummary, credentialReport, authorizationDetails, accessKeys, elastiCache, dax] as const;

export const SOURCES: readonly SourceDefinition[] = DEFINITIONS;

/** Every input has its source: the compiler names one that has none. */
const covered: Exclude<InventoryInput, (typeof DEFINITIONS)[number]['input']> extends never ? true : never = true;
void covered;

export type LiveReadAction = (typeof DEFINITIONS)[number]['permissions'][number];

/**
 * Every IAM permission the live collector needs, and nothing else: the README's policy and the
 * deployed role derive from this list. `sts:GetCallerIdentity` needs no permission.
 */
export const LIVE_READ_ACTIONS: readonly LiveReadAction[] = DEFINITIONS.flatMap((s) => s.permissions);

export const CALLER_FILE = 'caller-identity.json';
export const MANIFEST_FILE = 'manifest.json';

/** The documented layout of a folder of exports: nothing is required, each file feeds the checks listed. */
export const OFFLINE_FILES: readonly OfflineFile[] = [
  {
    file: CALLER_FILE,
    command: 'aws sts get-caller-identity',
    required: false,
    feeds: 'account ID and partition (otherwise taken from the ARNs of the other files)',
  },
  {
    file: MANIFEST_FILE,
    command: `written by hand: {"collectedAt": "2026-11-01T00:00:00Z"}`,
    required: false,
    feeds: 'the audit time key ages are computed against (default: now); set it to re-audit an old export as of its date',
  },
  ...SOURCES.flatMap((s) => s.files),
];

/** One Source of an inventory, with the name run reports give it. */
export interface SourceEntry {
  name: string;
  input: InventoryInput;
  source: Source<unknown>;
}

/** Every Source of the inventory: the account's, then each region's, then each user's. */
export function sourceEntries(inventory: Inventory): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const s of SOURCES.filter(isAccountSource)) entries.push({ name: s.label, input: s.input, source: inventory[s.input] });
  for (const region of inventory.regions) {
    for (const s of SOURCES.filter(isRegionalSource))
      entries.push({ name: `${s.label} ${region.region}`, input: s.input, source: region[s.input] });
  }
  for (const s of SOURCES.filter(isUserSource)) {
    for (const [user, source] of Object.entries(inventory[s.input])) entries.push({ name: `${s.label} ${user}`, input: s.input, source });
  }
  return entries;
}
