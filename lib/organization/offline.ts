/**
 * The organization export (`run --org --from DIR`): the Organizations listings the live discovery
 * and SCP reader call (lib/organization/accounts.ts, guardrails.ts), saved with the AWS CLI in
 * `DIR/organization/`, and one single-account export per account in `DIR/accounts/<account-id>/`
 * (or the error of the AssumeRole that could not reach it). The layout is ORGANIZATION_FILES.
 *
 * Strict as SPEC 2.1: the files that choose the accounts (describe-organization, list-accounts)
 * stop the import when missing or malformed, since a guessed account list would hide accounts;
 * every other problem stays with the accounts it concerns, naming the file, the entry and why: an
 * SCP level that cannot be read makes that account's guardrails unread (so its full-access checks
 * are ERROR), never "no SCP"; an account folder that cannot be read makes that account not
 * audited, never skipped. Files and folders reached through symbolic links are read like any other.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import pMap from 'p-map';
import { z } from 'zod';
import { FileProblem, invalid, MISSING, notFound, readJson, shapeProblem, unreadableEntry } from '#lib/inventory/files.ts';
import { unreadSource } from '#lib/inventory/failure.ts';
import { loadOffline, type OfflineOptions } from '#lib/inventory/offline.ts';
import type { GuardrailLevel, GuardrailPolicy, Inventory, PolicyDocument, Source, Unread } from '#lib/inventory/types.ts';
import { AuditorError } from '#lib/model/errors.ts';
import { exclusion, type FilteredAccount, type OrganizationAccount } from './accounts.ts';
import { accountArnParts, chainFromPath } from './guardrails.ts';
import { ACCOUNT_ID, OU_ID, type OrganizationSettings, ROOT_ID } from './settings.ts';

export const ORGANIZATION_FOLDER = 'organization';
export const ACCOUNTS_FOLDER = 'accounts';
export const ASSUME_ROLE_ERROR_FILE = 'assume-role-error.json';

const DESCRIBE_ORGANIZATION = `${ORGANIZATION_FOLDER}/describe-organization.json`;
const LIST_ACCOUNTS = `${ORGANIZATION_FOLDER}/list-accounts.json`;
const LIST_ROOTS = `${ORGANIZATION_FOLDER}/list-roots.json`;
const listParents = (child: string) => `${ORGANIZATION_FOLDER}/list-parents/${child}.json`;
const listPolicies = (target: string) => `${ORGANIZATION_FOLDER}/list-policies-for-target/${target}.json`;
const describePolicy = (policy: string) => `${ORGANIZATION_FOLDER}/describe-policy/${policy}.json`;

const COMMANDS = {
  describeOrganization: 'aws organizations describe-organization',
  listAccounts: 'aws organizations list-accounts',
  listRoots: 'aws organizations list-roots',
  listParents: (child: string) => `aws organizations list-parents --child-id ${child}`,
  listPolicies: (target: string) => `aws organizations list-policies-for-target --target-id ${target} --filter SERVICE_CONTROL_POLICY`,
  describePolicy: (policy: string) => `aws organizations describe-policy --policy-id ${policy}`,
};

/** One file (or folder) of the organization export, the command that writes it and what it feeds. */
export interface OrganizationExportFile {
  file: string;
  command: string;
  feeds: string;
}

/** The layout `run --org --from DIR` reads; `account-auditor files --org` and the README list it. */
export const ORGANIZATION_FILES: readonly OrganizationExportFile[] = [
  {
    file: DESCRIBE_ORGANIZATION,
    command: COMMANDS.describeOrganization,
    feeds: 'the organization ID and its management account (subject to no SCP); required',
  },
  {
    file: LIST_ACCOUNTS,
    command: COMMANDS.listAccounts,
    feeds: 'the accounts to audit: the ACTIVE ones (the CLI pages for you; without --max-items); required',
  },
  {
    file: LIST_ROOTS,
    command: COMMANDS.listRoots,
    feeds: 'the root, and whether SCPs are enabled (its PolicyTypes)',
  },
  {
    file: listParents('<child-id>'),
    command: COMMANDS.listParents('<child-id>'),
    feeds: 'the chain root → OUs → account: one file per account and per OU above one (not needed when list-accounts gives Paths)',
  },
  {
    file: listPolicies('<target-id>'),
    command: COMMANDS.listPolicies('<target-id>'),
    feeds: 'the SCPs attached at each level: one file for the root, each OU of the chains and each member account',
  },
  {
    file: describePolicy('<policy-id>'),
    command: COMMANDS.describePolicy('<policy-id>'),
    feeds: 'the document of each SCP attached somewhere on the chains',
  },
  {
    file: `${ACCOUNTS_FOLDER}/<account-id>/`,
    command: 'the single-account export (see `account-auditor files`), made with the member role of that account',
    feeds: "that account's checks; one folder per ACTIVE account, the management account included",
  },
  {
    file: `${ACCOUNTS_FOLDER}/<account-id>/${ASSUME_ROLE_ERROR_FILE}`,
    command: 'the error of `aws sts assume-role` into that account, as {"Code": "AccessDenied", "Message": "..."}',
    feeds: "instead of the export, when the member role could not be assumed: that account's organization check is ERROR",
  },
];

/** The export cannot be audited at all: the folder, or a file that chooses the accounts, is missing or malformed. */
export class OrganizationExportError extends AuditorError {}

/** The export of one account: its folder, the AssumeRole that failed, or why neither is usable. */
export type AccountExport = { dir: string } | { assumeRoleError: { code: string; message: string } } | { missing: string };

export interface OrganizationExport {
  organization: { id: string; managementAccountId: string };
  /** The ACTIVE accounts, in list-accounts order; `ous` is the whole OU chain, outermost first (empty when unknown: see `chains`). */
  accounts: OrganizationAccount[];
  /** Each account's SCP levels as readGuardrails gives them: root first, none for the management account or without SCPs. */
  guardrails: Map<string, Source<GuardrailLevel[]>>;
  /** Each account's chain: its root, then its OUs, outermost first; unread when the export does not say. */
  chains: Map<string, Source<string[]>>;
  accountDirs: Map<string, AccountExport>;
  /** Entries of `accounts/` that are no ACTIVE account of the organization, and why they are not read. */
  ignored: { entry: string; reason: string }[];
}

const SCP = 'SERVICE_CONTROL_POLICY';
/** An organization ID as Organizations writes it. */
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
/** A policy ID: `p-` and 8 to 128 letters, digits or underscores (the AWS managed FullAWSAccess is `p-FullAWSAccess`). */
const POLICY_ID = /^p-[0-9a-zA-Z_]{8,128}$/;
/** Organizations nests OUs at most five deep under the root: a longer walk is a loop. */
const MAX_DEPTH = 8;
const ACTIVE = 'ACTIVE';
/** Accounts read at once: thousands of accounts must not open thousands of files together. */
const FILES_AT_ONCE = 16;

/** A paged listing the CLI did not finish (`--max-items`): what is missing cannot be known. */
const noNextToken = (value: { NextToken?: unknown }) => value.NextToken === undefined;
const COMPLETE = { message: 'has a NextToken: the listing is incomplete (export without --max-items, the CLI pages for you)' };

const organizationSchema = z.object({
  Organization: z.object({
    Id: z.string().regex(ORGANIZATION_ID, 'must be an organization ID (o-…)'),
    MasterAccountId: z.string().regex(ACCOUNT_ID, 'must be a 12-digit account ID'),
  }),
});

const accountsSchema = z
  .object({
    Accounts: z.array(
      z.object({
        Id: z.string().regex(ACCOUNT_ID, 'must be a 12-digit account ID'),
        Arn: z.string().optional(),
        Email: z.string().optional(),
        Name: z.string().optional(),
        State: z.string().optional(),
        Status: z.string().optional(),
        Paths: z.array(z.string()).optional(),
      }),
    ),
    NextToken: z.unknown().optional(),
  })
  .refine(noNextToken, COMPLETE);

const rootsSchema = z
  .object({
    Roots: z.array(
      z.object({
        Id: z.string().regex(ROOT_ID, 'must be a root ID (r-…)'),
        PolicyTypes: z.array(z.object({ Type: z.string(), Status: z.string() })),
      }),
    ),
    NextToken: z.unknown().optional(),
  })
  .refine(noNextToken, COMPLETE);

const parentsSchema = z
  .object({
    Parents: z.array(z.object({ Id: z.string(), Type: z.enum(['ROOT', 'ORGANIZATIONAL_UNIT']) })),
    NextToken: z.unknown().optional(),
  })
  .refine(noNextToken, COMPLETE);

const policiesSchema = z
  .object({
    Policies: z.array(
      z.object({
        Id: z.string().regex(POLICY_ID, 'must be a policy ID (p-…)'),
        Arn: z.string(),
        Name: z.string(),
        Type: z.literal(SCP, { message: `must be ${SCP}: export with --filter ${SCP}` }).optional(),
        AwsManaged: z.boolean(),
      }),
    ),
    NextToken: z.unknown().optional(),
  })
  .refine(noNextToken, COMPLETE);

const policySchema = z.object({
  Policy: z.object({
    PolicySummary: z.object({
      Id: z.string(),
      Type: z.literal(SCP, { message: `must be ${SCP}: this policy is no service control policy` }).optional(),
    }),
    Content: z.string(),
  }),
});

const assumeRoleErrorSchema = z.object({ Code: z.string().min(1), Message: z.string() }).strict();

type Read<T> = { ok: true; value: T } | { ok: false; unread: Unread };

/** One JSON file of the export, checked against the shape its command writes; a problem names the file. */
async function readFile<T>(dir: string, file: string, command: string, schema: z.ZodType<T>): Promise<Read<T>> {
  try {
    const raw = await readJson(path.join(dir, file));
    if (raw === MISSING) return { ok: false, unread: notFound(file, command) };
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return { ok: false, unread: invalid(file, shapeProblem(parsed.error, command)) };
    return { ok: true, value: parsed.data };
  } catch (error) {
    return { ok: false, unread: invalid(file, error) };
  }
}

const problem = (file: string, reason: string): Unread => unreadSource(file, `${file}: ${reason}`, 'InvalidFile');

function fatal(dir: string, unread: Unread): OrganizationExportError {
  const reason = unread.reason.startsWith(unread.call) ? unread.reason : `${unread.call}: ${unread.reason}`;
  return new OrganizationExportError(`${dir}: ${reason}`);
}

/** What an entry of a folder is, through symbolic links: a folder, a file, or why it cannot be known. */
async function kindOf(absolute: string): Promise<'folder' | 'file' | { unreadable: string; absent: boolean }> {
  try {
    return (await stat(absolute)).isDirectory() ? 'folder' : 'file';
  } catch (error) {
    const absent = (error as NodeJS.ErrnoException).code === 'ENOENT' && (await lstat(absolute).catch(() => null)) === null;
    return { unreadable: (await unreadableEntry(absolute, error)).message, absent };
  }
}

/**
 * Reads an organization export (layout: ORGANIZATION_FILES). Throws OrganizationExportError when
 * the folder, describe-organization.json or list-accounts.json cannot be used; every other
 * problem is kept with the accounts it concerns.
 */
export async function loadOrganizationExport(dir: string): Promise<OrganizationExport> {
  const top = await kindOf(dir);
  if (top !== 'folder') {
    const why = top === 'file' ? 'not a folder' : top.absent ? 'no such folder' : top.unreadable;
    throw new OrganizationExportError(
      `${dir}: ${why}; expected an organization export:\n${ORGANIZATION_FILES.map((f) => `  ${f.file.padEnd(52)} ${f.command}`).join('\n')}`,
    );
  }

  const described = await readFile(dir, DESCRIBE_ORGANIZATION, COMMANDS.describeOrganization, organizationSchema);
  if (!described.ok) throw fatal(dir, described.unread);
  const organizationId = described.value.Organization.Id;
  const managementAccountId = described.value.Organization.MasterAccountId;

  const listed = await readFile(dir, LIST_ACCOUNTS, COMMANDS.listAccounts, accountsSchema);
  if (!listed.ok) throw fatal(dir, listed.unread);
  const entries = listed.value.Accounts;

  // Every entry must be usable and agree with the organization: a wrong one would audit the wrong account.
  const byId = new Map<string, { index: number; entry: (typeof entries)[number] }>();
  const states = new Map<string, string>();
  const active: (typeof entries)[number][] = [];
  for (const [index, entry] of entries.entries()) {
    const at = `${LIST_ACCOUNTS}: Accounts.${index} (${entry.Id})`;
    const earlier = byId.get(entry.Id);
    if (earlier) {
      if (JSON.stringify(earlier.entry) === JSON.stringify(entry)) continue;
      throw new OrganizationExportError(`${dir}: ${at} and Accounts.${earlier.index} list the same account differently`);
    }
    byId.set(entry.Id, { index, entry });
    // State replaced Status in 2025; an older CLI writes only Status.
    const state = entry.State ?? entry.Status;
    if (state === undefined) throw new OrganizationExportError(`${dir}: ${at} has neither State nor Status`);
    states.set(entry.Id, state);
    if (entry.Arn !== undefined) {
      const parts = accountArnParts(entry.Arn);
      if (!parts) throw new OrganizationExportError(`${dir}: ${at}: Arn ${entry.Arn} is not an Organizations account ARN`);
      if (parts.accountId !== entry.Id || parts.organizationId !== organizationId || parts.managementAccountId !== managementAccountId) {
        throw new OrganizationExportError(
          `${dir}: ${at}: Arn ${entry.Arn} contradicts the account ID or ${DESCRIBE_ORGANIZATION} (organization ${organizationId}, management account ${managementAccountId})`,
        );
      }
    }
    if (state === ACTIVE) active.push(entry);
  }
  // ListAccounts always lists the management account: without it the listing is cut or another organization's.
  if (!byId.has(managementAccountId)) {
    throw new OrganizationExportError(
      `${dir}: ${LIST_ACCOUNTS}: the management account ${managementAccountId} of ${DESCRIBE_ORGANIZATION} is not listed: the listing is incomplete or of another organization`,
    );
  }

  // The files of the chains are shared by the accounts below the same OUs: each is read once.
  const cache = new Map<string, Promise<Read<unknown>>>();
  const once = <T>(file: string, command: string, schema: z.ZodType<T>): Promise<Read<T>> => {
    let known = cache.get(file);
    if (!known) {
      known = readFile(dir, file, command, schema);
      cache.set(file, known);
    }
    return known as Promise<Read<T>>;
  };

  const rootsRead = await readFile(dir, LIST_ROOTS, COMMANDS.listRoots, rootsSchema);
  /** The root and whether SCPs apply, or why that is not known. */
  let root: { id: string; scps: boolean } | Unread;
  if (!rootsRead.ok) root = rootsRead.unread;
  else if (rootsRead.value.Roots.length !== 1)
    root = problem(LIST_ROOTS, `an organization has one root; the file lists ${rootsRead.value.Roots.length}`);
  else {
    const only = rootsRead.value.Roots[0]!;
    const type = only.PolicyTypes.find((t) => t.Type === SCP);
    if (type === undefined) root = { id: only.Id, scps: false };
    else if (type.Status === 'ENABLED') root = { id: only.Id, scps: true };
    else root = problem(LIST_ROOTS, `${SCP} is ${type.Status} at root ${only.Id}: which SCPs apply is not settled; export again later`);
  }

  const parentOf = async (child: string): Promise<{ id: string; root: boolean } | Unread> => {
    const file = listParents(child);
    const read = await once(file, COMMANDS.listParents(child), parentsSchema);
    if (!read.ok) return read.unread;
    const parents = read.value.Parents;
    if (parents.length !== 1) return problem(file, `expected one parent, got ${parents.length}`);
    const parent = parents[0]!;
    const pattern = parent.Type === 'ROOT' ? ROOT_ID : OU_ID;
    if (!pattern.test(parent.Id)) return problem(file, `Parents.0: ${parent.Id} is not the ID of a ${parent.Type}`);
    return { id: parent.Id, root: parent.Type === 'ROOT' };
  };
  const chainOf = async (entry: (typeof entries)[number]): Promise<Source<string[]>> => {
    let chain: string[] | Unread | null = null;
    if (entry.Paths !== undefined && entry.Paths.length > 0) {
      const found = entry.Paths.map((p) => chainFromPath(p, entry.Id));
      const first = found[0] ?? null;
      chain =
        first !== null && found.every((c) => c !== null && JSON.stringify(c) === JSON.stringify(first))
          ? first
          : problem(LIST_ACCOUNTS, `${entry.Id}: Paths ${JSON.stringify(entry.Paths)} do not name one chain root → OUs`);
    } else {
      const walked: string[] = [];
      for (let child = entry.Id; ; ) {
        if (walked.length > MAX_DEPTH) {
          chain = problem(listParents(child), `${entry.Id}: no root within ${MAX_DEPTH} levels (the parents form a loop)`);
          break;
        }
        const parent = await parentOf(child);
        if ('state' in parent) {
          chain = parent;
          break;
        }
        walked.unshift(parent.id);
        if (parent.root) {
          chain = walked;
          break;
        }
        child = parent.id;
      }
    }
    if (!Array.isArray(chain)) return chain;
    if (!('state' in root) && chain[0] !== root.id) {
      return problem(
        entry.Paths?.length ? LIST_ACCOUNTS : listParents(chain[1] ?? entry.Id),
        `${entry.Id}: the chain ends at root ${chain[0]}, but ${LIST_ROOTS} names ${root.id}`,
      );
    }
    return { state: 'read', data: chain };
  };

  const attachedAt = async (target: string): Promise<z.infer<typeof policiesSchema>['Policies'] | Unread> => {
    const file = listPolicies(target);
    const read = await once(file, COMMANDS.listPolicies(target), policiesSchema);
    if (!read.ok) return read.unread;
    const unique = new Map<string, { index: number; summary: z.infer<typeof policiesSchema>['Policies'][number] }>();
    for (const [index, summary] of read.value.Policies.entries()) {
      const earlier = unique.get(summary.Id);
      if (!earlier) unique.set(summary.Id, { index, summary });
      else if (JSON.stringify(earlier.summary) !== JSON.stringify(summary))
        return problem(file, `Policies.${index} and Policies.${earlier.index} list ${summary.Id} differently`);
    }
    // Organizations keeps at least one SCP on every entity while SCPs are enabled.
    if (unique.size === 0)
      return problem(
        file,
        `no service control policy is attached to ${target}, though Organizations keeps one on every entity while SCPs are enabled: the export is incomplete`,
      );
    return [...unique.values()].map((u) => u.summary);
  };
  const documentOf = async (policyId: string): Promise<PolicyDocument | Unread> => {
    const file = describePolicy(policyId);
    const read = await once(file, COMMANDS.describePolicy(policyId), policySchema);
    if (!read.ok) return read.unread;
    const found = read.value.Policy.PolicySummary.Id;
    if (found !== policyId) return problem(file, `Policy.PolicySummary.Id is ${found}: this is the description of another policy`);
    try {
      return { ok: true, document: JSON.parse(read.value.Policy.Content) as unknown };
    } catch (error) {
      return { ok: false, error: `${file}: Policy.Content is not JSON: ${(error as Error).message}` };
    }
  };
  const guardrailsOf = async (accountId: string, chain: Source<string[]>): Promise<Source<GuardrailLevel[]>> => {
    if (accountId === managementAccountId) return { state: 'read', data: [] };
    if ('state' in root) return root;
    if (!root.scps) return { state: 'read', data: [] };
    if (chain.state !== 'read') return chain;
    const entities = [...chain.data, accountId];
    const levels: GuardrailLevel[] = [];
    for (const [i, target] of entities.entries()) {
      const summaries = await attachedAt(target);
      if ('state' in summaries) return summaries;
      const policies: GuardrailPolicy[] = [];
      for (const summary of summaries) {
        const document = await documentOf(summary.Id);
        if ('state' in document) return document;
        policies.push({ id: summary.Id, name: summary.Name, arn: summary.Arn, awsManaged: summary.AwsManaged, target, document });
      }
      levels.push({ kind: i === 0 ? 'root' : i === entities.length - 1 ? 'account' : 'ou', target, policies });
    }
    return { state: 'read', data: levels };
  };

  const accounts: OrganizationAccount[] = [];
  const chains = new Map<string, Source<string[]>>();
  const guardrails = new Map<string, Source<GuardrailLevel[]>>();
  const read = await pMap(
    active,
    async (entry) => {
      const chain = await chainOf(entry);
      return { entry, chain, levels: await guardrailsOf(entry.Id, chain) };
    },
    { concurrency: FILES_AT_ONCE },
  );
  for (const { entry, chain, levels } of read) {
    chains.set(entry.Id, chain);
    guardrails.set(entry.Id, levels);
    accounts.push({
      id: entry.Id,
      name: entry.Name ?? entry.Id,
      ...(entry.Email ? { email: entry.Email } : {}),
      ous: chain.state === 'read' ? chain.data.slice(1) : [],
    });
  }

  const { accountDirs, ignored } = await readAccountFolders(
    dir,
    accounts.map((a) => a.id),
    states,
  );
  return { organization: { id: organizationId, managementAccountId }, accounts, guardrails, chains, accountDirs, ignored };
}

/** The export of each ACTIVE account, and the entries of `accounts/` that belong to none. */
async function readAccountFolders(
  dir: string,
  activeIds: readonly string[],
  states: ReadonlyMap<string, string>,
): Promise<{ accountDirs: Map<string, AccountExport>; ignored: { entry: string; reason: string }[] }> {
  const accountDirs = new Map<string, AccountExport>();
  const ignored: { entry: string; reason: string }[] = [];
  const folder = path.join(dir, ACCOUNTS_FOLDER);
  const kind = await kindOf(folder);
  if (kind !== 'folder') {
    const why =
      kind === 'file'
        ? `${ACCOUNTS_FOLDER} is a file, not a folder`
        : kind.absent
          ? `no ${ACCOUNTS_FOLDER}/ folder in the export`
          : `${ACCOUNTS_FOLDER} ${kind.unreadable}`;
    for (const id of activeIds) accountDirs.set(id, { missing: `${why}: no export of the account` });
    return { accountDirs, ignored };
  }
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (error) {
    throw new OrganizationExportError(`${folder}: the folder cannot be listed: ${(error as Error).message}`);
  }
  const wanted = new Set(activeIds);
  for (const name of names) {
    if (wanted.has(name)) continue;
    const state = states.get(name);
    const reason = !ACCOUNT_ID.test(name)
      ? 'not an account ID'
      : state !== undefined
        ? `the account is ${state} in ${LIST_ACCOUNTS}: only ACTIVE accounts are audited`
        : `not an account of ${LIST_ACCOUNTS}`;
    ignored.push({ entry: `${ACCOUNTS_FOLDER}/${name}`, reason });
  }
  const present = new Set(names);
  const found = await pMap(activeIds, (id) => accountExport(folder, id, present.has(id)), { concurrency: FILES_AT_ONCE });
  for (const [i, id] of activeIds.entries()) accountDirs.set(id, found[i]!);
  return { accountDirs, ignored };
}

async function accountExport(folder: string, id: string, present: boolean): Promise<AccountExport> {
  const entry = `${ACCOUNTS_FOLDER}/${id}`;
  if (!present) {
    return {
      missing: `no folder ${entry}/ in the export: export the account with its member role's credentials, or write ${entry}/${ASSUME_ROLE_ERROR_FILE} when aws sts assume-role fails`,
    };
  }
  const absolute = path.join(folder, id);
  const kind = await kindOf(absolute);
  if (kind === 'file') return { missing: `${entry} is a file, not a folder of the account's export` };
  if (kind !== 'folder') return { missing: `${entry} ${kind.unreadable}` };
  let names: string[];
  try {
    names = await readdir(absolute);
  } catch (error) {
    return { missing: `${entry}/: the folder cannot be listed: ${(error as Error).message}` };
  }
  if (names.includes(ASSUME_ROLE_ERROR_FILE)) {
    const others = names.filter((n) => n !== ASSUME_ROLE_ERROR_FILE).sort();
    if (others.length > 0) {
      return {
        missing: `${entry}/ holds both ${ASSUME_ROLE_ERROR_FILE} and an export (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}): either the member role was assumed or it was not`,
      };
    }
    const file = `${entry}/${ASSUME_ROLE_ERROR_FILE}`;
    try {
      const raw = await readJson(path.join(absolute, ASSUME_ROLE_ERROR_FILE));
      if (raw === MISSING) throw new FileProblem('is missing', 'FileNotFound');
      const parsed = assumeRoleErrorSchema.safeParse(raw);
      if (!parsed.success)
        throw shapeProblem(parsed.error, 'the export script: {"Code": "...", "Message": "..."} of the failed aws sts assume-role');
      return { assumeRoleError: { code: parsed.data.Code, message: parsed.data.Message } };
    } catch (error) {
      return { missing: invalid(file, error).reason };
    }
  }
  if (names.length === 0) return { missing: `${entry}/ is empty: the account's export is missing` };
  return { dir: absolute };
}

/** The folder's export belongs to another account than the folder's name says. */
export class AccountExportMismatchError extends AuditorError {}

/**
 * Loads one account's export (an `{dir}` of accountDirs) as loadOffline does, and checks that its
 * files are that account's: a folder holding another account's export would file its findings
 * under the wrong account. Files that name no account are taken as the folder's account.
 */
export async function loadAccountExport(dir: string, accountId: string, options: OfflineOptions = {}): Promise<Inventory> {
  const inventory = await loadOffline(dir, options);
  if (inventory.accountId === 'unknown') return { ...inventory, accountId };
  if (inventory.accountId !== accountId) {
    throw new AccountExportMismatchError(
      `${dir}: the folder is for account ${accountId}, but its files are from account ${inventory.accountId}`,
    );
  }
  return inventory;
}

export interface ExportSelection {
  /** The accounts to audit, in list-accounts order. */
  accounts: OrganizationAccount[];
  /** ACTIVE accounts the include/exclude settings leave out, and which setting did. */
  filteredOut: FilteredAccount[];
  /** Accounts named in includeAccounts that the export does not list as ACTIVE (a typo, a closed account). */
  missing: string[];
  /**
   * Accounts the OU settings cannot be applied to, because the export does not say which OUs hold
   * them (their chain is unread): neither audited nor silently dropped; the reason names the file.
   */
  undecided: FilteredAccount[];
}

/**
 * Applies the include/exclude settings to an export's accounts, by the rules of discoverAccounts
 * (an account excluded by ID or OU is never audited; with includes, only those included are).
 * Unlike discovery, which walks the named OUs, the export gives each account's whole chain.
 */
export function selectExportAccounts(
  loaded: Pick<OrganizationExport, 'accounts' | 'chains'>,
  settings: Pick<OrganizationSettings, 'includeAccounts' | 'excludeAccounts' | 'includeOus' | 'excludeOus'>,
): ExportSelection {
  const { includeAccounts, excludeAccounts, includeOus, excludeOus } = settings;
  const include = new Set(includeAccounts);
  const exclude = new Set(excludeAccounts);
  const filtering = include.size > 0 || includeOus.length > 0;
  const selection: ExportSelection = { accounts: [], filteredOut: [], missing: [], undecided: [] };
  for (const account of loaded.accounts) {
    const chain = loaded.chains.get(account.id);
    const ousMatter = !exclude.has(account.id) && (excludeOus.length > 0 || (includeOus.length > 0 && !include.has(account.id)));
    if (ousMatter && chain?.state !== 'read') {
      const why = chain?.state === 'unread' ? chain.reason : 'no chain was read';
      selection.undecided.push({
        id: account.id,
        name: account.name,
        reason: `its OUs are unknown, so the OU settings cannot be applied: ${why}`,
      });
      continue;
    }
    const reason = exclusion(account, { include, exclude, includeOus, excludeOus, filtering });
    if (reason) selection.filteredOut.push({ id: account.id, name: account.name, reason });
    else selection.accounts.push(account);
  }
  const listed = new Set(loaded.accounts.map((a) => a.id));
  selection.missing = includeAccounts.filter((id) => !listed.has(id));
  return selection;
}
