import type { CheckId } from './ids.ts';

/** The parts of the Inventory a check reads; a source none of the selected checks reads cannot make a run incomplete. */
export type InventoryInput = 'accountSummary' | 'credentialReport' | 'authorizationDetails' | 'elastiCache' | 'dax' | 'accessKeys';

export const CHECK_INPUTS: Record<CheckId, readonly InventoryInput[]> = {
  'root-access-key': ['accountSummary', 'credentialReport'],
  // The authorization details tell which users the report must list (SPEC 2.1).
  'access-key-age': ['credentialReport', 'accessKeys', 'authorizationDetails'],
  'user-full-access': ['authorizationDetails'],
  'elasticache-service-linked-role': ['authorizationDetails', 'elastiCache'],
  'dax-service-role': ['authorizationDetails', 'dax'],
  'role-full-access': ['authorizationDetails'],
};

export function inputsOf(checks: readonly CheckId[]): Set<InventoryInput> {
  return new Set(checks.flatMap((c) => CHECK_INPUTS[c]));
}
