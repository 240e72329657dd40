/**
 * The offline importer: builds an Inventory from files exported with the AWS CLI (`--output json`),
 * so an account can be audited without giving the auditor credentials, and an old export can be
 * re-audited as of its own date.
 *
 * Every source stands alone: a missing or malformed file makes only its Source `unread` (so the
 * checks that need it report ERROR, naming the file and the command that exports it), never a
 * crash and never an empty, compliant-looking input.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { accountFromArn, type Account } from '#lib/model/arn.ts';
import { AuditorError } from '#lib/model/errors.ts';
import {
  isAccountSource,
  isRegionalSource,
  isUserSource,
  type Listing,
  NO_REGION,
  type OfflineContext,
  type RegionalDefinition,
} from './definition.ts';
import { unreadSource } from './failure.ts';
import { FileProblem, MISSING, readJson, unreadableEntry } from './files.ts';
import { dateBound, parseIsoDate } from './integrity.ts';
import { CALLER_FILE, MANIFEST_FILE, OFFLINE_FILES, SOURCES } from './registry.ts';
import { REPORT_CSV, REPORT_JSON } from './sources/credential-report/index.ts';
import type { AccountSourceFields, Inventory, InventoryInput, RegionInventory, Source, UserSourceFields } from './types.ts';

/** The folder cannot be audited at all: it is missing, not a folder, or holds no export. */
export class OfflineInputError extends AuditorError {
  override name = 'OfflineInputError';
}

export interface OfflineOptions {
  /** The audit time when the folder has no manifest.json. */
  now?: () => Date;
  /** Only these region subfolders; a listed region without a folder is reported unread, not skipped. */
  regions?: string[];
  /** Overrides `offline:<dir>` in Inventory.origin (the demo uses `demo`). */
  origin?: string;
}

/** Same shape as the settings' region names, so `access-keys` or `backup-2024` are never taken for regions. */
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** A listing, with the entries whose kind cannot be known; each is among `files`, for the reader that wants it to name it. */
interface FolderListing extends Listing {
  unreadable: Map<string, string>;
}

/**
 * Lists a folder, following symbolic links: a linked file is a file, a linked folder a folder.
 * An entry whose kind cannot be known (a broken link, a loop, no permission) is kept in
 * `unreadable` with the reason, and among `files`, so that a loader that wants it names it.
 */
async function listEntries(dir: string): Promise<FolderListing> {
  const entries = await readdir(dir, { withFileTypes: true });
  const listing: FolderListing = { files: [], folders: [], unreadable: new Map() };
  await Promise.all(
    entries.map(async (entry) => {
      if (entry.isDirectory()) return listing.folders.push(entry.name);
      if (!entry.isSymbolicLink()) return listing.files.push(entry.name);
      try {
        const target = await stat(path.join(dir, entry.name));
        if (target.isDirectory()) return listing.folders.push(entry.name);
        return listing.files.push(entry.name);
      } catch (error) {
        listing.unreadable.set(entry.name, (await unreadableEntry(path.join(dir, entry.name), error)).message);
        return listing.files.push(entry.name);
      }
    }),
  );
  listing.files.sort();
  listing.folders.sort();
  return listing;
}

/**
 * A folder without region subfolders (and no regions asked for) says nothing about ElastiCache or
 * DAX: like the live collector without a region, one placeholder region whose sources are unread,
 * so that the regional checks report ERROR instead of "no clusters anywhere".
 */
export const NO_REGION_FOLDER_REASON =
  'no <region>/ folder in the export: export ElastiCache and DAX per region (see `account-auditor files`)';

const ACCOUNT_SOURCES = SOURCES.filter(isAccountSource);
const REGIONAL_SOURCES = SOURCES.filter(isRegionalSource);
const USER_SOURCES = SOURCES.filter(isUserSource);

/** A region whose every source is this unread. */
function regionUnread(region: string, unread: (s: RegionalDefinition) => Source<never>): RegionInventory {
  return { region, ...Object.fromEntries(REGIONAL_SOURCES.map((s) => [s.input, unread(s)])) } as RegionInventory;
}

function noRegion(): RegionInventory {
  return regionUnread(NO_REGION, (s) => unreadSource(`<region>/${s.file}`, NO_REGION_FOLDER_REASON, 'FileNotFound'));
}

/** A region folder that cannot be read: each of its sources is unread, naming it. */
function unreadableRegion(region: string, reason: string): RegionInventory {
  return regionUnread(region, () => unreadSource(`${region}/`, `${region}/: ${reason}`, 'InvalidFile'));
}

const callerSchema = z.object({ Account: z.string().regex(/^\d{12}$/), Arn: z.string(), UserId: z.string().optional() });
const manifestSchema = z
  .object({
    collectedAt: z
      .string()
      .refine((s) => parseIsoDate(s) !== null, 'must be an ISO 8601 date and time with a time zone, such as 2026-11-01T00:00:00Z'),
    comment: z.string().optional(),
  })
  .strict();

/**
 * The files that say which account and which moment the audit is about. They are not Sources: a
 * wrong account ID would file findings under another account, a wrong date would misdate every
 * key, so a malformed one stops the import instead of being guessed around.
 */
async function readIdentityFile<T>(dir: string, file: string, schema: z.ZodType<T>): Promise<T | null> {
  try {
    const raw = await readJson(path.join(dir, file));
    if (raw === MISSING) return null;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FileProblem(
        `${issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'unexpected shape'}`,
        'InvalidFile',
      );
    }
    return parsed.data;
  } catch (error) {
    throw new OfflineInputError(`${path.join(dir, file)}: ${(error as Error).message}`);
  }
}

function layoutHelp(): string {
  return OFFLINE_FILES.map((f) => `  ${f.file.padEnd(40)} ${f.command}`).join('\n');
}

async function listFolder(dir: string): Promise<FolderListing> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new OfflineInputError(
      `${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`,
    );
  }
  if (!info.isDirectory()) throw new OfflineInputError(`${dir}: not a folder; expected a folder of AWS CLI exports:\n${layoutHelp()}`);
  try {
    return await listEntries(dir);
  } catch (error) {
    throw new OfflineInputError(`${dir}: the folder cannot be listed: ${(error as Error).message}`);
  }
}

/** Loads an Inventory from a folder of AWS CLI exports (layout: OFFLINE_FILES). */
export async function loadOffline(dir: string, options: OfflineOptions = {}): Promise<Inventory> {
  const listing = await listFolder(dir);
  const { files, folders, unreadable } = listing;
  const [account, regional, perUser] = await Promise.all([
    Promise.all(ACCOUNT_SOURCES.map(async (def) => ({ def, reader: await def.offline() }))),
    Promise.all(REGIONAL_SOURCES.map(async (def) => ({ def, reader: await def.offline() }))),
    Promise.all(USER_SOURCES.map(async (def) => ({ def, reader: await def.offline() }))),
  ]);

  // A region-named entry that cannot be read is a region whose exports cannot be read, not no region.
  const regionFolders = [...folders, ...[...unreadable.keys()].filter((name) => !folders.includes(name))]
    .filter((name) => REGION_NAME.test(name))
    .sort();
  for (const region of options.regions ?? []) {
    if (!REGION_NAME.test(region)) throw new OfflineInputError(`${JSON.stringify(region)} is not a region name such as eu-west-1`);
  }
  const regions = options.regions && options.regions.length > 0 ? [...new Set(options.regions)] : regionFolders;

  const regionProblems = new Map<string, string>();
  const regionalExports = await Promise.all(
    regionFolders.map(async (region) => {
      const known = unreadable.get(region);
      if (known) {
        regionProblems.set(region, known);
        return true;
      }
      try {
        const names = await readdir(path.join(dir, region));
        return regional.some(({ reader }) => reader.present(names));
      } catch (error) {
        regionProblems.set(region, `the folder cannot be listed: ${(error as Error).message}`);
        return true;
      }
    }),
  );
  const known = [...account, ...perUser].some(({ reader }) => reader.present(listing)) || regionalExports.some(Boolean);
  if (!known) {
    throw new OfflineInputError(`${dir}: no AWS CLI export found; expected some of these files (--output json):\n${layoutHelp()}`);
  }

  const [manifest, caller] = await Promise.all([
    readIdentityFile(dir, MANIFEST_FILE, manifestSchema),
    readIdentityFile(dir, CALLER_FILE, callerSchema),
  ]);
  const collectedAt = manifest ? new Date(Date.parse(manifest.collectedAt)) : (options.now ?? (() => new Date()))();
  // No date of the export may be after the audit time: a key "rotated" tomorrow has no age.
  const notAfter = dateBound(collectedAt);
  const read = new Map<InventoryInput, Promise<Source<unknown>>>();
  const ctx: OfflineContext = { dir, listing: { files, folders }, notAfter, read: (input) => read.get(input) as never };
  for (const { def, reader } of account) read.set(def.input, reader.read(ctx));
  const readRegion = async (region: string): Promise<RegionInventory> => {
    const sources = await Promise.all(
      regional.map(async ({ def, reader }) => [def.input, await reader.read({ dir, region, notAfter })] as const),
    );
    return { region, ...Object.fromEntries(sources) } as RegionInventory;
  };
  const [accountSources, regionInventories, userSources] = await Promise.all([
    Promise.all([...read].map(async ([input, source]) => [input, await source] as const)),
    regions.length > 0
      ? Promise.all(
          regions.map((region) =>
            regionProblems.has(region) ? unreadableRegion(region, regionProblems.get(region)!) : readRegion(region),
          ),
        )
      : Promise.resolve([noRegion()]),
    Promise.all(perUser.map(async ({ def, reader }) => [def.input, await reader.read(ctx)] as const)),
  ]);
  const sources = Object.fromEntries(accountSources) as AccountSourceFields;
  const { credentialReport, authorizationDetails } = sources;

  // Every file that names the account must name the same one: a folder mixing two accounts'
  // exports would mix their findings.
  const claims: { file: string; account: Account }[] = [];
  const claim = (file: string, arn: string | undefined): void => {
    const found = arn ? accountFromArn(arn) : null;
    if (found) claims.push({ file, account: found });
  };
  if (caller) {
    claims.push({ file: CALLER_FILE, account: { accountId: caller.Account, partition: accountFromArn(caller.Arn)?.partition ?? 'aws' } });
  }
  if (credentialReport.state === 'read') {
    const rows = credentialReport.data.rows;
    claim(files.includes(REPORT_JSON) ? REPORT_JSON : REPORT_CSV, (rows.find((r) => r.isRoot) ?? rows[0])?.arn);
  }
  if (authorizationDetails.state === 'read') {
    const d = authorizationDetails.data;
    claim('account authorization details', (d.users[0] ?? d.groups[0] ?? d.roles[0])?.arn);
  }
  const conflict = claims.find((c) => c.account.accountId !== claims[0]!.account.accountId);
  if (conflict) {
    throw new OfflineInputError(
      `${dir}: the files are from different accounts: ${claims.map((c) => `${c.file} says ${c.account.accountId}`).join(', ')}`,
    );
  }

  return {
    accountId: claims[0]?.account.accountId ?? 'unknown',
    partition: claims[0]?.account.partition ?? 'aws',
    origin: options.origin ?? `offline:${dir}`,
    collectedAt: collectedAt.toISOString(),
    ...sources,
    regions: regionInventories,
    ...(Object.fromEntries(userSources) as UserSourceFields),
  };
}
