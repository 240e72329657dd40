import { failureKind } from '#lib/inventory/failure.ts';
import type { FailureKind, InventoryInput } from '#lib/inventory/types.ts';
import type { SourceReport } from '#lib/model/run.ts';
import { CATALOGUE, type CheckId } from './catalogue.ts';

/** `service:Action`: the live readers name each call by the IAM action it needs (LIVE_READ_ACTIONS). */
const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

/**
 * The IAM action to allow when `call` was denied: the live readers name every call by its IAM
 * action (`iam:GetCredentialReport`), so the call is the permission. null when the failure is not
 * a denial (throttling, a network error, bad credentials) or the call is a file (offline mode).
 * `kind` is the collector's classification; a record that kept only the code and reason (a
 * stored run, a finding's details) is classified by the same rules.
 */
export function missingPermission(
  call: string,
  code: string | undefined,
  reason: string,
  kind: FailureKind = failureKind(code, reason),
): string | null {
  return kind === 'denied' && IAM_ACTION.test(call) ? call : null;
}

/** A source as run records report it, with its failure's kind when the collector's classification is at hand. */
export type ClassifiedSource = SourceReport & { kind?: FailureKind };

/** The distinct permissions the unread sources were denied, sorted; only those `checkId` reads when given. */
export function deniedPermissions(sources: readonly ClassifiedSource[], checkId?: CheckId): string[] {
  const inputs = checkId ? new Set<InventoryInput>(CATALOGUE[checkId].inputs) : null;
  const found = new Set<string>();
  for (const s of sources) {
    if (s.state !== 'unread' || (inputs && !inputs.has(s.input))) continue;
    const permission = missingPermission(s.call ?? '', s.code, s.reason ?? '', s.kind);
    if (permission) found.add(permission);
  }
  return [...found].sort();
}
