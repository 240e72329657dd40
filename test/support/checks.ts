import { CATALOGUE, type CheckId } from '#lib/checks/catalogue.ts';
import type { InventoryInput } from '#lib/inventory/types.ts';
import { loadChecks, type Check } from '#lib/checks/registry.ts';

/** Every check with its logic loaded, in report order: what a run evaluates. */
export const ALL_CHECKS: readonly Check[] = await loadChecks();

export function checkOf(id: CheckId): Check {
  const check = ALL_CHECKS.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id}`);
  return check;
}

/** The checks a settings `checks` subset selects (all of them when the subset is empty). */
export function selectChecks(ids: readonly CheckId[]): Check[] {
  return ids.length === 0 ? [...ALL_CHECKS] : ALL_CHECKS.filter((c) => ids.includes(c.id));
}

export const CHECK_INPUTS = Object.fromEntries(Object.values(CATALOGUE).map((c) => [c.id, c.inputs])) as Record<
  CheckId,
  readonly InventoryInput[]
>;

export const rootAccessKey = checkOf('root-access-key');
export const accessKeyAge = checkOf('access-key-age');
export const userFullAccess = checkOf('user-full-access');
export const roleFullAccess = checkOf('role-full-access');
export const elastiCacheServiceLinkedRole = checkOf('elasticache-service-linked-role');
export const daxServiceRole = checkOf('dax-service-role');
