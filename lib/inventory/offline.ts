/**
 * The offline importer: builds an Inventory from files exported with the AWS CLI (`--output json`),
 * so an account can be audited without giving the auditor credentials, and an old export can be
 * re-audited as of its own date.
 *
 * Every source stands alone: a missing or malformed file makes only its Source `unread` (so the
 * checks that need it report ERROR, naming the file and the command that exports it), never a
 * crash and never an empty, compliant-looking input.
 */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { AuthorizationDetailsFormatError, DETAIL_LISTS, normalizeAuthorizationDetails } from './authorization-details.ts';
import { parseCredentialReport } from './credential-report.ts';
import { dateBound, dateProblem, parseIsoDate } from './integrity.ts';
import { NO_REGION } from './live.ts';
import {
  accessKeyMetadata,
  accountFromArn,
  normalizeAccountSummary,
  normalizeCacheClusters,
  normalizeDaxClusters,
  normalizeReplicationGroups,
} from './normalize.ts';
import type {
  AccessKeyMetadata,
  AccountSummary,
  AuthorizationDetails,
  CredentialReport,
  DaxInventory,
  ElastiCacheInventory,
  Inventory,
  RegionInventory,
  Source,
} from './types.ts';

/** The folder cannot be audited at all: it is missing, not a folder, or holds no export. */
export class OfflineInputError extends Error {
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

export interface OfflineFile {
  file: string;
  command: string;
  required: false;
  feeds: string;
}

const SUMMARY = 'account-summary.json';
const REPORT_JSON = 'credential-report.json';
const REPORT_CSV = 'credential-report.csv';
const DETAILS = 'account-authorization-details.json';
/** Any file named like a page; only NUMBERED_PAGE names are pages, the others are refused by name. */
const DETAILS_PAGE = /^account-authorization-details-(.+)\.json$/;
const NUMBERED_PAGE = /^account-authorization-details-(\d+)\.json$/;
const CALLER = 'caller-identity.json';
const MANIFEST = 'manifest.json';
const ACCESS_KEYS = 'access-keys';
const CACHE_CLUSTERS = 'cache-clusters.json';
const REPLICATION_GROUPS = 'replication-groups.json';
const DAX_CLUSTERS = 'dax-clusters.json';
const REGIONAL_FILES = [CACHE_CLUSTERS, REPLICATION_GROUPS, DAX_CLUSTERS];

/** Same shape as the settings' region names, so `access-keys` or `backup-2024` are never taken for regions. */
const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** The documented layout: nothing is required, each file feeds the checks listed. */
export const OFFLINE_FILES: readonly OfflineFile[] = [
  {
    file: CALLER,
    command: 'aws sts get-caller-identity',
    required: false,
    feeds: 'account ID and partition (otherwise taken from the ARNs of the other files)',
  },
  {
    file: MANIFEST,
    command: `written by hand: {"collectedAt": "2026-11-01T00:00:00Z"}`,
    required: false,
    feeds: 'the audit time key ages are computed against (default: now); set it to re-audit an old export as of its date',
  },
  {
    file: SUMMARY,
    command: 'aws iam get-account-summary',
    required: false,
    feeds: 'root-access-key (real-time root key presence)',
  },
  {
    file: REPORT_JSON,
    command: 'aws iam get-credential-report',
    required: false,
    feeds: 'root-access-key, access-key-age (run aws iam generate-credential-report first, until COMPLETE)',
  },
  {
    file: REPORT_CSV,
    command: 'aws iam get-credential-report --query Content --output text | base64 --decode',
    required: false,
    feeds: 'instead of credential-report.json: the decoded CSV (its generation time is then unknown)',
  },
  {
    file: DETAILS,
    command: 'aws iam get-account-authorization-details',
    required: false,
    feeds: 'user-full-access, elasticache-service-linked-role, dax-service-role',
  },
  {
    file: 'account-authorization-details-<N>.json',
    command: 'aws iam get-account-authorization-details --max-items 1000 [--starting-token <NextToken>]',
    required: false,
    feeds: 'instead of account-authorization-details.json: pages -1, -2, ... -N without a gap, each but the last with its NextToken',
  },
  {
    file: `${ACCESS_KEYS}/<UserName>.json`,
    command: 'aws iam list-access-keys --user-name <UserName>',
    required: false,
    feeds: 'access-key-age (names over-age keys by ID, with their real-time creation date)',
  },
  {
    file: `<region>/${CACHE_CLUSTERS}`,
    command: 'aws elasticache describe-cache-clusters --region <region>',
    required: false,
    feeds: 'elasticache-service-linked-role',
  },
  {
    file: `<region>/${REPLICATION_GROUPS}`,
    command: 'aws elasticache describe-replication-groups --region <region>',
    required: false,
    feeds: 'elasticache-service-linked-role',
  },
  {
    file: `<region>/${DAX_CLUSTERS}`,
    command: 'aws dax describe-clusters --region <region>',
    required: false,
    feeds: 'dax-service-role; where DAX is not offered, write {"Unavailable": "<reason>"} instead',
  },
];

function commandFor(file: string, region?: string): string {
  const entry = OFFLINE_FILES.find((f) => f.file === file || f.file === `<region>/${file}`);
  const command = entry?.command ?? '';
  return region ? command.replace('<region>', region) : command;
}

type Unread = Extract<Source<never>, { state: 'unread' }>;

/** A file-level problem whose message is already fit for the reader; the file name is added by the caller. */
class FileProblem extends Error {
  constructor(
    message: string,
    readonly code: 'FileNotFound' | 'InvalidFile',
  ) {
    super(message);
  }
}

function notFound(call: string, command: string): Unread {
  return { state: 'unread', call, reason: `file not found (export it with: ${command} > ${call})`, code: 'FileNotFound' };
}

function invalid(call: string, error: unknown): Unread {
  const message = error instanceof Error ? error.message : String(error);
  // The normalizers already start their messages with the name we gave them.
  const reason = message.startsWith(call) ? message : `${call}: ${message}`;
  const code = error instanceof FileProblem ? error.code : 'InvalidFile';
  return { state: 'unread', call, reason, code };
}

/**
 * Why an entry that exists cannot be read as a file: a symbolic link whose target is missing, a
 * loop of links, a folder, a device or pipe, or no permission. Links are followed like any path.
 */
async function unreadableEntry(absolute: string, error: unknown): Promise<FileProblem> {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    const target = await readlink(absolute).catch(() => null);
    if (target !== null) return new FileProblem(`is a symbolic link to ${target}, which does not exist`, 'InvalidFile');
  }
  if (code === 'ELOOP') return new FileProblem('is a loop of symbolic links', 'InvalidFile');
  if (code === 'EISDIR') return new FileProblem('is a folder, not a file', 'InvalidFile');
  return new FileProblem(`cannot be read: ${(error as Error).message}`, 'InvalidFile');
}

/** Reads a file as text, through symbolic links; `null` when nothing is there at all. */
async function readText(absolute: string): Promise<string | null> {
  let buffer: Buffer;
  try {
    const info = await stat(absolute);
    if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    // A pipe or device would block or never end: only regular files are exports.
    if (!info.isFile()) throw new FileProblem('is not a regular file (a pipe, socket or device)', 'InvalidFile');
    buffer = await readFile(absolute);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (await lstat(absolute).catch(() => null)) === null) return null;
    throw await unreadableEntry(absolute, error);
  }
  // Windows PowerShell 5 redirects (`>`) write UTF-16 with a byte order mark.
  if (buffer[0] === 0xff && buffer[1] === 0xfe) return buffer.subarray(2).toString('utf16le');
  if (buffer[0] === 0xfe && buffer[1] === 0xff) return Buffer.from(buffer.subarray(2)).swap16().toString('utf16le');
  const text = buffer.toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Where JSON text stops being valid, as an offset, or -1. Node 20's JSON.parse often omits the
 * position, and "line 412" is what lets someone fix a hand-edited export.
 */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const stop = new Error();
  const fail = (): never => {
    throw stop;
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = (): void => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c < ' ') fail();
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          fail();
        }
      } else i++;
    }
  };
  const number = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') return string();
    number.lastIndex = i;
    if (number.test(text)) {
      i = number.lastIndex;
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (error) {
    // Nesting deeper than the stack (`[[[[...`, thousands deep) overflows this recursive scan. The
    // position is only a hint: without it the reason still says "not valid JSON", where the
    // RangeError escaped as the file's reason ("Maximum call stack size exceeded").
    if (error instanceof RangeError) return -1;
    if (error !== stop) throw error;
    return i;
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') {
    throw new FileProblem('the file is empty (the export command probably failed: run it again and read its error)', 'InvalidFile');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const offset = jsonErrorOffset(text);
    const where =
      offset >= 0
        ? ` at line ${text.slice(0, offset).split('\n').length}, column ${offset - text.lastIndexOf('\n', offset - 1)}`
        : '';
    // A CLI configured with `output = text` or `table` writes something that is not JSON at all.
    const hint = /^\s*[[{]/.test(text) ? '' : ' (export with --output json: the CLI may default to text or table)';
    throw new FileProblem(`not valid JSON${where}: ${(error as Error).message}${hint}`, 'InvalidFile');
  }
}

const MISSING = Symbol('missing');

async function readJson(absolute: string): Promise<unknown> {
  const text = await readText(absolute);
  return text === null ? MISSING : parseJson(text);
}

/** A zod failure as a FileProblem naming the first offending field and the command expected. */
function shapeProblem(error: z.ZodError, command: string): FileProblem {
  const issue = error.issues[0];
  const at = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return new FileProblem(`${at}${issue?.message ?? 'unexpected shape'} (expected the output of ${command})`, 'InvalidFile');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The normalizers treat their list keys as optional (an SDK page may omit them), which would read
 * `{}`, or another command's output saved under the wrong name, as "no clusters". Offline, the CLI
 * always writes the key, so its absence means the wrong file.
 */
function requireKey(raw: unknown, key: string, command: string): void {
  if (!isRecord(raw) || !(key in raw)) {
    throw new FileProblem(`has no ${key}: this is not the output of ${command}`, 'InvalidFile');
  }
}

/** Runs one source's loader; whatever goes wrong becomes that source's `unread`, naming the file. */
async function source<T>(call: string, load: () => Promise<T | Unread>): Promise<Source<T>> {
  try {
    const result = await load();
    if (isRecord(result) && result.state === 'unread') return result as Unread;
    return { state: 'read', data: result as T };
  } catch (error) {
    return invalid(call, error);
  }
}

async function loadAccountSummary(dir: string): Promise<Source<AccountSummary>> {
  return source(SUMMARY, async () => {
    const raw = await readJson(path.join(dir, SUMMARY));
    if (raw === MISSING) return notFound(SUMMARY, commandFor(SUMMARY));
    return normalizeAccountSummary(raw, SUMMARY);
  });
}

/** Strict, because Buffer.from(x, 'base64') silently skips what is not base64 and returns garbage. */
function decodeBase64(text: string, what: string): string {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new FileProblem(`${what} is not valid base64`, 'InvalidFile');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    throw new FileProblem(`${what} is base64 but does not decode to text`, 'InvalidFile');
  }
}

const reportJsonSchema = z.object({
  Content: z.string(),
  ReportFormat: z.string().optional().nullable(),
  GeneratedTime: z.string().optional().nullable(),
});

async function loadCredentialReport(dir: string, files: string[], notAfter: number): Promise<Source<CredentialReport>> {
  const hasJson = files.includes(REPORT_JSON);
  const hasCsv = files.includes(REPORT_CSV);
  if (hasJson && hasCsv) {
    return {
      state: 'unread',
      call: REPORT_JSON,
      reason: `both ${REPORT_JSON} and ${REPORT_CSV} are present: keep one, they may come from different reports`,
      code: 'InvalidFile',
    };
  }
  if (!hasJson && !hasCsv) {
    return {
      state: 'unread',
      call: REPORT_JSON,
      reason:
        `file not found (export it with: aws iam generate-credential-report, then once it is COMPLETE ` +
        `aws iam get-credential-report > ${REPORT_JSON}; or the decoded CSV as ${REPORT_CSV})`,
      code: 'FileNotFound',
    };
  }
  if (hasJson) {
    return source(REPORT_JSON, async () => {
      const raw = await readJson(path.join(dir, REPORT_JSON));
      if (raw === MISSING) return notFound(REPORT_JSON, commandFor(REPORT_JSON));
      const parsed = reportJsonSchema.safeParse(raw);
      if (!parsed.success) throw shapeProblem(parsed.error, 'aws iam get-credential-report');
      const { Content, ReportFormat, GeneratedTime } = parsed.data;
      if (ReportFormat && ReportFormat !== 'text/csv') {
        throw new FileProblem(`ReportFormat is ${JSON.stringify(ReportFormat)}, only text/csv is understood`, 'InvalidFile');
      }
      let generatedAt: string | null = null;
      if (GeneratedTime !== undefined && GeneratedTime !== null) {
        const problem = dateProblem(GeneratedTime, notAfter);
        if (problem) throw new FileProblem(`GeneratedTime ${problem}`, 'InvalidFile');
        generatedAt = new Date(Date.parse(GeneratedTime)).toISOString();
      }
      return parseCredentialReport(decodeBase64(Content, 'Content'), generatedAt, { notAfter });
    });
  }
  return source(REPORT_CSV, async () => {
    const text = await readText(path.join(dir, REPORT_CSV));
    if (text === null) return notFound(REPORT_CSV, commandFor(REPORT_CSV));
    // `--query Content --output text` without `| base64 --decode` leaves base64; a CSV header has commas.
    const firstLine = text.trimStart().split('\n', 1)[0] ?? '';
    let content = text;
    if (!firstLine.includes(',')) {
      try {
        content = decodeBase64(text, 'the file');
      } catch {
        throw new FileProblem('is neither a credential report CSV (its first line has no commas) nor base64 of one', 'InvalidFile');
      }
    }
    // The CSV carries no generation time, and the file's mtime is not one either (copies, git
    // checkouts and unzips reset it): unknown is the honest value.
    return parseCredentialReport(content, null, { notAfter });
  });
}

const pageOrder = new Intl.Collator('en', { numeric: true });

const pageFile = (n: number): string => `account-authorization-details-${n}.json`;

function listing(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * The page files must be the pages of one export, numbered 1 to N without a gap: a missing page
 * would drop its users, groups, roles and policies from the audit, and a file that is not named by
 * its page number may be a page the user meant to include (or a stale copy), so neither is guessed.
 */
function checkPageNames(names: string[]): Unread | null {
  const unnumbered = names.filter((name) => !NUMBERED_PAGE.test(name));
  if (unnumbered.length > 0) {
    return {
      state: 'unread',
      call: unnumbered[0]!,
      reason:
        `${listing(unnumbered)} ${unnumbered.length === 1 ? 'is' : 'are'} not named like a page (${pageFile(1)}, ${pageFile(2)}, ...): ` +
        'rename a page of this export after its number, or move any other file out of the folder',
      code: 'InvalidFile',
    };
  }
  const byNumber = new Map<number, string[]>();
  for (const name of names) {
    const n = Number(NUMBERED_PAGE.exec(name)![1]);
    byNumber.set(n, [...(byNumber.get(n) ?? []), name]);
  }
  for (const [n, same] of byNumber) {
    if (same.length > 1) {
      return { state: 'unread', call: same[1]!, reason: `${listing(same)} are both page ${n}: keep one`, code: 'InvalidFile' };
    }
  }
  if (byNumber.has(0)) {
    return { state: 'unread', call: byNumber.get(0)![0]!, reason: `${byNumber.get(0)![0]} is an extra page: pages are numbered from 1`, code: 'InvalidFile' };
  }
  const last = Math.max(...byNumber.keys());
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !byNumber.has(n));
  if (missing.length > 0) {
    const first = missing[0]!;
    const how =
      first === 1
        ? `aws iam get-account-authorization-details --max-items 1000 > ${pageFile(1)}`
        : `aws iam get-account-authorization-details --max-items 1000 --starting-token <the NextToken of ${pageFile(first - 1)}> > ${pageFile(first)}`;
    return {
      state: 'unread',
      call: pageFile(first),
      reason:
        `page ${missing.join(', ')} of ${last} ${missing.length === 1 ? 'is' : 'are'} missing (${listing(missing.map(pageFile))}; the folder has ${listing(names)}): ` +
        `pages must run from 1 to the last without a gap, or the users, groups, roles and policies of the missing pages go unaudited; export it with ${how}`,
      code: 'FileNotFound',
    };
  }
  return null;
}

/** How a page says that more follow: the CLI's NextToken (with --max-items), or the API's IsTruncated and Marker. */
function continuation(raw: Record<string, unknown>): { token: string | null } | null {
  if (typeof raw.NextToken === 'string') return { token: raw.NextToken };
  if (raw.IsTruncated === true) return { token: null };
  if (raw.IsTruncated !== false && typeof raw.Marker === 'string' && raw.Marker !== '') return { token: null };
  return null;
}

async function loadAuthorizationDetails(dir: string, entries: string[], notAfter: number): Promise<Source<AuthorizationDetails>> {
  const pages = entries.filter((name) => DETAILS_PAGE.test(name)).sort(pageOrder.compare);
  const single = entries.includes(DETAILS);
  if (single && pages.length > 0) {
    return {
      state: 'unread',
      call: DETAILS,
      reason: `both ${DETAILS} and page files (${pages.join(', ')}) are present: keep one form, merging both would count everyone twice`,
      code: 'InvalidFile',
    };
  }
  if (!single && pages.length === 0) return notFound(DETAILS, commandFor(DETAILS));
  if (!single) {
    const problem = checkPageNames(pages);
    if (problem) return problem;
  }
  const pageNumber = (name: string): number => Number(NUMBERED_PAGE.exec(name)?.[1] ?? 0);
  const files = single ? [DETAILS] : [...pages].sort((a, b) => pageNumber(a) - pageNumber(b));
  const tokens = new Map<string, string>();
  const raws: unknown[] = [];
  for (const [index, file] of files.entries()) {
    const page = await source(file, async () => {
      const raw = await readJson(path.join(dir, file));
      if (raw === MISSING) return notFound(file, commandFor(DETAILS));
      if (!isRecord(raw) || !DETAIL_LISTS.some((key: string) => key in raw)) {
        throw new FileProblem(`has none of ${DETAIL_LISTS.join(', ')}: this is not the output of aws iam get-account-authorization-details`, 'InvalidFile');
      }
      const more = continuation(raw);
      const isLast = index === files.length - 1;
      // A page that says there is more, last in line, means users, roles or policies are missing.
      if (isLast && more) {
        const next = pageFile(files.length + 1);
        const how =
          more.token !== null
            ? `aws iam get-account-authorization-details --max-items 1000 --starting-token ${more.token} > ${next}` +
              (single ? ` (after renaming ${DETAILS} to ${pageFile(1)})` : '')
            : `aws iam get-account-authorization-details > ${DETAILS}, without --max-items`;
        throw new FileProblem(`the export is incomplete: this last page says more follow; export the rest with ${how}`, 'InvalidFile');
      }
      // A page that says it is the last, followed by more pages: those come from another export.
      if (!isLast && !more) {
        const extra = files.slice(index + 1);
        throw new FileProblem(
          `has no NextToken, so it is the last page of its export, yet ${listing(extra)} follow${extra.length === 1 ? 's' : ''}: ` +
            `${extra.length === 1 ? 'it is an extra page' : 'they are extra pages'} (from another export?); keep only the pages of one export, numbered from 1`,
          'InvalidFile',
        );
      }
      // The same token twice: one page is a copy of another, and its entities would count twice.
      if (more?.token) {
        const twin = tokens.get(more.token);
        if (twin) throw new FileProblem(`has the same NextToken as ${twin}: one of them is a copy of the other page`, 'InvalidFile');
        tokens.set(more.token, file);
      }
      return { raw };
    });
    if (page.state === 'unread') return page;
    raws.push(page.data.raw);
  }
  // All pages at once: an entry repeated on two pages is checked like one repeated on one page.
  try {
    return { state: 'read', data: normalizeAuthorizationDetails(raws, files[0]!, { notAfter, pageNames: files }) };
  } catch (error) {
    const page = error instanceof AuthorizationDetailsFormatError && error.page ? error.page : files[0]!;
    return invalid(page, error);
  }
}

const accessKeysSchema = z.object({ AccessKeyMetadata: z.array(z.record(z.string(), z.unknown())) });

/** What a folder of exports holds, links followed; `unreadable` entries are named by whoever needs them. */
interface Listing {
  files: string[];
  folders: string[];
  unreadable: Map<string, string>;
}

/**
 * Lists a folder, following symbolic links: a linked file is a file, a linked folder a folder.
 * An entry whose kind cannot be known (a broken link, a loop, no permission) is kept in
 * `unreadable` with the reason, and among `files`, so that a loader that wants it names it.
 */
async function listEntries(dir: string): Promise<Listing> {
  const entries = await readdir(dir, { withFileTypes: true });
  const listing: Listing = { files: [], folders: [], unreadable: new Map() };
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
 * One source per `access-keys/<UserName>.json`, whatever the entry is (a link, a folder by that
 * name, an unreadable file): each is read or named. A folder that cannot be listed names itself in
 * the lookup of every user whose keys the report shows active, the findings that would use it.
 */
async function loadAccessKeys(dir: string, notAfter: number, report: Source<CredentialReport>): Promise<Record<string, Source<AccessKeyMetadata[]>>> {
  const folder = path.join(dir, ACCESS_KEYS);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The folder is optional: users absent from accessKeys are simply "not looked up".
    if (code === 'ENOENT' && (await lstat(folder).catch(() => null)) === null) return {};
    const problem = await unreadableEntry(folder, error);
    const reason = `${ACCESS_KEYS}/: ${code === 'ENOTDIR' ? 'is not a folder' : problem.message}`;
    const users = report.state === 'read' ? report.data.rows.filter((r) => !r.isRoot && r.keys.some((k) => k.active)).map((r) => r.user) : [];
    return Object.fromEntries(users.map((user) => [user, { state: 'unread', call: `${ACCESS_KEYS}/`, reason, code: 'InvalidFile' } satisfies Unread]));
  }
  // Entries, then Object.fromEntries: `result[user] = ...` for a user named `__proto__` (a valid IAM
  // user name) set the object's prototype instead, and that user's keys were silently dropped.
  const result: [string, Source<AccessKeyMetadata[]>][] = [];
  for (const name of names.sort(pageOrder.compare)) {
    const user = name.slice(0, -'.json'.length);
    const call = `${ACCESS_KEYS}/${name}`;
    result.push([user, await source(call, async () => {
      const raw = await readJson(path.join(folder, name));
      if (raw === MISSING) return notFound(call, commandFor(`${ACCESS_KEYS}/<UserName>.json`));
      const parsed = accessKeysSchema.safeParse(raw);
      if (!parsed.success) throw shapeProblem(parsed.error, 'aws iam list-access-keys');
      try {
        // The user is named by the file name; keys of someone else would be attributed to the wrong user.
        return accessKeyMetadata(parsed.data.AccessKeyMetadata, user, call, notAfter);
      } catch (error) {
        throw new FileProblem((error as Error).message.slice(call.length + 2), 'InvalidFile');
      }
    })]);
  }
  return Object.fromEntries(result);
}

/** One regional file, as a value or the `unread` that explains why not. */
async function regionalFile<T>(dir: string, region: string, file: string, parse: (raw: unknown, call: string) => T): Promise<Source<T>> {
  const call = `${region}/${file}`;
  return source(call, async () => {
    const raw = await readJson(path.join(dir, region, file));
    if (raw === MISSING) return notFound(call, commandFor(file, region));
    return parse(raw, call);
  });
}

async function loadRegion(dir: string, region: string): Promise<RegionInventory> {
  const [clusters, groups, dax] = await Promise.all([
    regionalFile(dir, region, CACHE_CLUSTERS, (raw, call) => {
      requireKey(raw, 'CacheClusters', commandFor(CACHE_CLUSTERS, region));
      return normalizeCacheClusters(raw, call);
    }),
    regionalFile(dir, region, REPLICATION_GROUPS, (raw, call) => {
      requireKey(raw, 'ReplicationGroups', commandFor(REPLICATION_GROUPS, region));
      return normalizeReplicationGroups(raw, call);
    }),
    regionalFile(dir, region, DAX_CLUSTERS, (raw, call): DaxInventory => {
      if (isRecord(raw) && 'Unavailable' in raw) {
        // The CLI writes nothing where DAX has no endpoint, so the marker is written by hand.
        const reason = raw.Unavailable;
        if (typeof reason !== 'string' || reason.trim() === '') {
          throw new FileProblem('Unavailable must be a non-empty string saying why DAX is not available', 'InvalidFile');
        }
        if ('Clusters' in raw) throw new FileProblem('has both Unavailable and Clusters: keep one', 'InvalidFile');
        return { available: false, reason };
      }
      requireKey(raw, 'Clusters', `${commandFor(DAX_CLUSTERS, region)} (or {"Unavailable": "<reason>"} where DAX is not offered)`);
      return { available: true, clusters: normalizeDaxClusters(raw, call) };
    }),
  ]);
  // The check needs both lists: "no cluster" is only known when neither file is missing.
  let elastiCache: Source<ElastiCacheInventory>;
  if (clusters.state === 'read' && groups.state === 'read') {
    elastiCache = { state: 'read', data: { cacheClusters: clusters.data, replicationGroups: groups.data } };
  } else if (clusters.state === 'unread' && groups.state === 'unread') {
    const withFile = (u: Unread): string => (u.reason.startsWith(u.call) ? u.reason : `${u.call}: ${u.reason}`);
    elastiCache = { ...clusters, reason: `${withFile(clusters)}; ${withFile(groups)}` };
  } else {
    elastiCache = (clusters.state === 'unread' ? clusters : groups) as Unread;
  }
  return { region, elastiCache, dax };
}

/**
 * A folder without region subfolders (and no regions asked for) says nothing about ElastiCache or
 * DAX: like the live collector without a region, one placeholder region whose sources are unread,
 * so that the regional checks report ERROR instead of "no clusters anywhere".
 */
export const NO_REGION_FOLDER_REASON =
  'no <region>/ folder in the export: export ElastiCache and DAX per region (see `account-auditor files`)';

function noRegion(): RegionInventory {
  return {
    region: NO_REGION,
    elastiCache: { state: 'unread', call: `<region>/${CACHE_CLUSTERS}`, reason: NO_REGION_FOLDER_REASON, code: 'FileNotFound' },
    dax: { state: 'unread', call: `<region>/${DAX_CLUSTERS}`, reason: NO_REGION_FOLDER_REASON, code: 'FileNotFound' },
  };
}

const callerSchema = z.object({ Account: z.string().regex(/^\d{12}$/), Arn: z.string(), UserId: z.string().optional() });
const manifestSchema = z
  .object({
    collectedAt: z.string().refine((s) => parseIsoDate(s) !== null, 'must be an ISO 8601 date and time with a time zone, such as 2026-11-01T00:00:00Z'),
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
      throw new FileProblem(`${issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'unexpected shape'}`, 'InvalidFile');
    }
    return parsed.data;
  } catch (error) {
    throw new OfflineInputError(`${path.join(dir, file)}: ${(error as Error).message}`);
  }
}

function layoutHelp(): string {
  return OFFLINE_FILES.map((f) => `  ${f.file.padEnd(40)} ${f.command}`).join('\n');
}

async function listFolder(dir: string): Promise<Listing> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new OfflineInputError(`${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (error as Error).message}`);
  }
  if (!info.isDirectory()) throw new OfflineInputError(`${dir}: not a folder; expected a folder of AWS CLI exports:\n${layoutHelp()}`);
  try {
    return await listEntries(dir);
  } catch (error) {
    throw new OfflineInputError(`${dir}: the folder cannot be listed: ${(error as Error).message}`);
  }
}

/** A region folder that cannot be read: both of its sources are unread, naming it. */
function unreadableRegion(region: string, reason: string): RegionInventory {
  return {
    region,
    elastiCache: { state: 'unread', call: `${region}/`, reason: `${region}/: ${reason}`, code: 'InvalidFile' },
    dax: { state: 'unread', call: `${region}/`, reason: `${region}/: ${reason}`, code: 'InvalidFile' },
  };
}

/** Loads an Inventory from a folder of AWS CLI exports (layout: OFFLINE_FILES). */
export async function loadOffline(dir: string, options: OfflineOptions = {}): Promise<Inventory> {
  const { files, folders, unreadable } = await listFolder(dir);

  // A region-named entry that cannot be read is a region whose exports cannot be read, not no region.
  const regionFolders = [...folders, ...[...unreadable.keys()].filter((name) => !folders.includes(name))].filter((name) => REGION_NAME.test(name)).sort();
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
        return (await readdir(path.join(dir, region))).some((name) => REGIONAL_FILES.includes(name));
      } catch (error) {
        regionProblems.set(region, `the folder cannot be listed: ${(error as Error).message}`);
        return true;
      }
    }),
  );
  const known =
    [SUMMARY, REPORT_JSON, REPORT_CSV, DETAILS].some((f) => files.includes(f)) ||
    files.some((f) => DETAILS_PAGE.test(f)) ||
    files.includes(ACCESS_KEYS) ||
    folders.includes(ACCESS_KEYS) ||
    regionalExports.some(Boolean);
  if (!known) {
    throw new OfflineInputError(`${dir}: no AWS CLI export found; expected some of these files (--output json):\n${layoutHelp()}`);
  }

  const [manifest, caller] = await Promise.all([
    readIdentityFile(dir, MANIFEST, manifestSchema),
    readIdentityFile(dir, CALLER, callerSchema),
  ]);
  const collectedAt = manifest ? new Date(Date.parse(manifest.collectedAt)) : (options.now ?? (() => new Date()))();
  // No date of the export may be after the audit time: a key "rotated" tomorrow has no age.
  const notAfter = dateBound(collectedAt);
  const [accountSummary, credentialReport, authorizationDetails, regionInventories] = await Promise.all([
    loadAccountSummary(dir),
    // A folder where a file belongs is named by the loader ("is a folder, not a file"), not missed.
    loadCredentialReport(dir, [...files, ...folders], notAfter),
    loadAuthorizationDetails(dir, [...files, ...folders], notAfter),
    regions.length > 0
      ? Promise.all(regions.map((region) => (regionProblems.has(region) ? unreadableRegion(region, regionProblems.get(region)!) : loadRegion(dir, region))))
      : Promise.resolve([noRegion()]),
  ]);
  const accessKeys = await loadAccessKeys(dir, notAfter, credentialReport);

  // Every file that names the account must name the same one: a folder mixing two accounts'
  // exports would mix their findings.
  const claims: { file: string; account: { accountId: string; partition: string } }[] = [];
  const claim = (file: string, arn: string | undefined): void => {
    const account = arn ? accountFromArn(arn) : null;
    if (account) claims.push({ file, account });
  };
  if (caller) claims.push({ file: CALLER, account: { accountId: caller.Account, partition: accountFromArn(caller.Arn)?.partition ?? 'aws' } });
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
    accountSummary,
    credentialReport,
    authorizationDetails,
    regions: regionInventories,
    accessKeys,
  };
}
