/** Check IDs live apart from the checks so that settings validation does not import every check. */
export const CHECK_IDS = [
  'root-access-key',
  'access-key-age',
  'user-full-access',
  'elasticache-service-linked-role',
  'dax-service-role',
  'role-full-access',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];
