import path from 'node:path';
import type { Listing, OfflineContext } from '../../definition.ts';
import { MISSING, notFound, readJson, source } from '../../files.ts';
import type { AccountSummary, Source } from '../../types.ts';
import { SUMMARY_COMMAND, SUMMARY_FILE } from './index.ts';
import { normalizeAccountSummary } from './normalize.ts';

export function present(listing: Listing): boolean {
  return listing.files.includes(SUMMARY_FILE);
}

export async function read(ctx: OfflineContext): Promise<Source<AccountSummary>> {
  return source(SUMMARY_FILE, async () => {
    const raw = await readJson(path.join(ctx.dir, SUMMARY_FILE));
    if (raw === MISSING) return notFound(SUMMARY_FILE, SUMMARY_COMMAND);
    return normalizeAccountSummary(raw, SUMMARY_FILE);
  });
}
