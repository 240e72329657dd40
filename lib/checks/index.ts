import type { Check } from './types.ts';
import type { CheckId } from './ids.ts';
import { rootAccessKey } from './root-access-key.ts';
import { accessKeyAge } from './access-key-age.ts';
import { userFullAccess } from './user-full-access.ts';
import { elastiCacheServiceLinkedRole } from './elasticache-service-linked-role.ts';
import { daxServiceRole } from './dax-service-role.ts';
import { roleFullAccess } from './role-full-access.ts';

export { rootAccessKey, accessKeyAge, userFullAccess, elastiCacheServiceLinkedRole, daxServiceRole, roleFullAccess };

/** Every check, in the order reports list them. */
export const ALL_CHECKS: readonly Check[] = [
  rootAccessKey,
  accessKeyAge,
  userFullAccess,
  elastiCacheServiceLinkedRole,
  daxServiceRole,
  roleFullAccess,
];

/** The checks a settings `checks` subset selects (all of them when the subset is empty). */
export function selectChecks(ids: readonly CheckId[]): Check[] {
  return ids.length === 0 ? [...ALL_CHECKS] : ALL_CHECKS.filter((c) => ids.includes(c.id));
}
