import path from 'node:path';
import type { Listing, OfflineContext } from '../../definition.ts';
import { unreadSource } from '../../failure.ts';
import { FileProblem, invalid, isRecord, MISSING, notFound, numericOrder, readJson, source } from '../../files.ts';
import type { AuthorizationDetails, Source, Unread } from '../../types.ts';
import { DETAILS_COMMAND, DETAILS_FILE, DETAILS_PAGE, NUMBERED_PAGE } from './index.ts';
import { AuthorizationDetailsFormatError, DETAIL_LISTS, normalizeAuthorizationDetails } from './normalize.ts';

export function present(listing: Listing): boolean {
  return listing.files.includes(DETAILS_FILE) || listing.files.some((f) => DETAILS_PAGE.test(f));
}

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
    return unreadSource(
      unnumbered[0]!,
      `${listing(unnumbered)} ${unnumbered.length === 1 ? 'is' : 'are'} not named like a page (${pageFile(1)}, ${pageFile(2)}, ...): ` +
        'rename a page of this export after its number, or move any other file out of the folder',
      'InvalidFile',
    );
  }
  const byNumber = new Map<number, string[]>();
  for (const name of names) {
    const n = Number(NUMBERED_PAGE.exec(name)![1]);
    byNumber.set(n, [...(byNumber.get(n) ?? []), name]);
  }
  for (const [n, same] of byNumber) {
    if (same.length > 1) {
      return unreadSource(same[1]!, `${listing(same)} are both page ${n}: keep one`, 'InvalidFile');
    }
  }
  if (byNumber.has(0)) {
    return unreadSource(byNumber.get(0)![0]!, `${byNumber.get(0)![0]} is an extra page: pages are numbered from 1`, 'InvalidFile');
  }
  const last = Math.max(...byNumber.keys());
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !byNumber.has(n));
  if (missing.length > 0) {
    const first = missing[0]!;
    const how =
      first === 1
        ? `aws iam get-account-authorization-details --max-items 1000 > ${pageFile(1)}`
        : `aws iam get-account-authorization-details --max-items 1000 --starting-token <the NextToken of ${pageFile(first - 1)}> > ${pageFile(first)}`;
    return unreadSource(
      pageFile(first),
      `page ${missing.join(', ')} of ${last} ${missing.length === 1 ? 'is' : 'are'} missing (${listing(missing.map(pageFile))}; the folder has ${listing(names)}): ` +
        `pages must run from 1 to the last without a gap, or the users, groups, roles and policies of the missing pages go unaudited; export it with ${how}`,
      'FileNotFound',
    );
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

/** A folder where a file belongs is named by the reader ("is a folder, not a file"), not missed. */
export async function read(ctx: OfflineContext): Promise<Source<AuthorizationDetails>> {
  const { dir, notAfter } = ctx;
  const entries = [...ctx.listing.files, ...ctx.listing.folders];
  const pages = entries.filter((name) => DETAILS_PAGE.test(name)).sort(numericOrder.compare);
  const single = entries.includes(DETAILS_FILE);
  if (single && pages.length > 0) {
    return unreadSource(
      DETAILS_FILE,
      `both ${DETAILS_FILE} and page files (${pages.join(', ')}) are present: keep one form, merging both would count everyone twice`,
      'InvalidFile',
    );
  }
  if (!single && pages.length === 0) return notFound(DETAILS_FILE, DETAILS_COMMAND);
  if (!single) {
    const problem = checkPageNames(pages);
    if (problem) return problem;
  }
  const pageNumber = (name: string): number => Number(NUMBERED_PAGE.exec(name)?.[1] ?? 0);
  const files = single ? [DETAILS_FILE] : [...pages].sort((a, b) => pageNumber(a) - pageNumber(b));
  const tokens = new Map<string, string>();
  const raws: unknown[] = [];
  for (const [index, file] of files.entries()) {
    const page = await source(file, async () => {
      const raw = await readJson(path.join(dir, file));
      if (raw === MISSING) return notFound(file, DETAILS_COMMAND);
      if (!isRecord(raw) || !DETAIL_LISTS.some((key: string) => key in raw)) {
        throw new FileProblem(
          `has none of ${DETAIL_LISTS.join(', ')}: this is not the output of aws iam get-account-authorization-details`,
          'InvalidFile',
        );
      }
      const more = continuation(raw);
      const isLast = index === files.length - 1;
      // A page that says there is more, last in line, means users, roles or policies are missing.
      if (isLast && more) {
        const next = pageFile(files.length + 1);
        const how =
          more.token !== null
            ? `aws iam get-account-authorization-details --max-items 1000 --starting-token ${more.token} > ${next}` +
              (single ? ` (after renaming ${DETAILS_FILE} to ${pageFile(1)})` : '')
            : `aws iam get-account-authorization-details > ${DETAILS_FILE}, without --max-items`;
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
