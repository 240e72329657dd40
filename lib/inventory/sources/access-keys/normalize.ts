import { InventoryFormatError } from '../../format.ts';
import { canonical, dateProblem } from '../../integrity.ts';
import type { AccessKeyMetadata } from '../../types.ts';

/** A value of ListAccessKeys (the API or its export) as the access-key-age check needs it. */
export interface RawAccessKey {
  UserName?: string | undefined;
  AccessKeyId?: string | undefined;
  Status?: string | undefined;
  CreateDate?: Date | string | undefined;
}

/**
 * Validates ListAccessKeys' keys: an ID, a status that is exactly `Active` or `Inactive`, a
 * creation date (ISO 8601 with a time zone, not after the audit time), the user asked about,
 * and each key once (an exact repeat is merged). Throws an InventoryFormatError naming `where`,
 * the key and the reason: a key misread as inactive, or dated tomorrow, would hide its age.
 */
export function accessKeyMetadata(list: RawAccessKey[] | undefined, user: string, where: string, notAfter: number): AccessKeyMetadata[] {
  if (!Array.isArray(list)) throw new InventoryFormatError(`${where}: has no AccessKeyMetadata list`);
  const keys: AccessKeyMetadata[] = [];
  const seen = new Map<string, { index: number; raw: RawAccessKey }>();
  list.forEach((k, index) => {
    const entry = `AccessKeyMetadata[${index}]${typeof k.AccessKeyId === 'string' && k.AccessKeyId ? ` (${k.AccessKeyId})` : ''}`;
    const fail = (reason: string): never => {
      throw new InventoryFormatError(`${where}: ${entry}: ${reason}`);
    };
    if (typeof k.AccessKeyId !== 'string' || k.AccessKeyId === '') fail('has no AccessKeyId');
    if (k.Status !== 'Active' && k.Status !== 'Inactive')
      fail(`Status is ${JSON.stringify(k.Status)}; a key is exactly Active or Inactive`);
    if (k.UserName !== undefined && k.UserName !== user) fail(`is a key of user ${k.UserName}, not of ${user}`);
    if (!(k.CreateDate instanceof Date) && typeof k.CreateDate !== 'string') fail('has no CreateDate');
    const problem = dateProblem(k.CreateDate!, notAfter);
    if (problem) fail(`CreateDate ${problem}`);
    const earlier = seen.get(k.AccessKeyId!);
    if (earlier) {
      if (canonical(earlier.raw) === canonical(k)) return;
      fail(`is listed twice with different values (AccessKeyMetadata[${earlier.index}] and AccessKeyMetadata[${index}])`);
    }
    seen.set(k.AccessKeyId!, { index, raw: k });
    const created = k.CreateDate instanceof Date ? k.CreateDate.getTime() : Date.parse(k.CreateDate!);
    keys.push({ accessKeyId: k.AccessKeyId!, status: k.Status as 'Active' | 'Inactive', createDate: new Date(created).toISOString() });
  });
  return keys;
}
