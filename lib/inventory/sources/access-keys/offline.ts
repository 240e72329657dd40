import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Listing, OfflineContext } from '../../definition.ts';
import { unreadSource } from '../../failure.ts';
import { FileProblem, MISSING, notFound, numericOrder, readJson, shapeProblem, source, unreadableEntry } from '../../files.ts';
import type { AccessKeyMetadata, Source } from '../../types.ts';
import { ACCESS_KEYS_COMMAND, ACCESS_KEYS_FOLDER } from './index.ts';
import { accessKeyMetadata } from './normalize.ts';

export function present(listing: Listing): boolean {
  return listing.files.includes(ACCESS_KEYS_FOLDER) || listing.folders.includes(ACCESS_KEYS_FOLDER);
}

const accessKeysSchema = z.object({ AccessKeyMetadata: z.array(z.record(z.string(), z.unknown())) });

/**
 * One source per `access-keys/<UserName>.json`, whatever the entry is (a link, a folder by that
 * name, an unreadable file): each is read or named. A folder that cannot be listed names itself in
 * the lookup of every user whose keys the report shows active, the findings that would use it.
 */
export async function read(ctx: OfflineContext): Promise<Record<string, Source<AccessKeyMetadata[]>>> {
  const { dir, notAfter } = ctx;
  const folder = path.join(dir, ACCESS_KEYS_FOLDER);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The folder is optional: users absent from accessKeys are simply "not looked up".
    if (code === 'ENOENT' && (await lstat(folder).catch(() => null)) === null) return {};
    const problem = await unreadableEntry(folder, error);
    const reason = `${ACCESS_KEYS_FOLDER}/: ${code === 'ENOTDIR' ? 'is not a folder' : problem.message}`;
    const report = await ctx.read('credentialReport');
    const users =
      report.state === 'read' ? report.data.rows.filter((r) => !r.isRoot && r.keys.some((k) => k.active)).map((r) => r.user) : [];
    return Object.fromEntries(users.map((user) => [user, unreadSource(`${ACCESS_KEYS_FOLDER}/`, reason, 'InvalidFile')]));
  }
  // Entries, then Object.fromEntries: `result[user] = ...` for a user named `__proto__` (a valid IAM
  // user name) would set the object's prototype instead of listing that user's keys.
  const result: [string, Source<AccessKeyMetadata[]>][] = [];
  for (const name of names.sort(numericOrder.compare)) {
    const user = name.slice(0, -'.json'.length);
    const call = `${ACCESS_KEYS_FOLDER}/${name}`;
    result.push([
      user,
      await source(call, async () => {
        const raw = await readJson(path.join(folder, name));
        if (raw === MISSING) return notFound(call, ACCESS_KEYS_COMMAND);
        const parsed = accessKeysSchema.safeParse(raw);
        if (!parsed.success) throw shapeProblem(parsed.error, 'aws iam list-access-keys');
        try {
          // The user is named by the file name; keys of someone else would be attributed to the wrong user.
          return accessKeyMetadata(parsed.data.AccessKeyMetadata, user, call, notAfter);
        } catch (error) {
          throw new FileProblem((error as Error).message.slice(call.length + 2), 'InvalidFile');
        }
      }),
    ]);
  }
  return Object.fromEntries(result);
}
