import type { InventoryInput } from '#lib/inventory/types.ts';
import type { SourceReport } from '#lib/model/run.ts';
import { CATALOGUE, type CheckId } from './catalogue.ts';

/**
 * Error codes of a denied call: IAM's AccessDenied, JSON services' AccessDeniedException, EC2-style
 * UnauthorizedOperation. Bad or expired credentials (InvalidClientTokenId, ExpiredToken) are not a
 * missing permission: naming one would send the reader to fix the wrong thing.
 */
const DENIED_CODE = /AccessDenied|Unauthorized|NotAuthorized|Forbidden/i;
const DENIED_REASON = /not authorized to perform|AccessDenied|explicit deny/i;
const CREDENTIAL_CODE = /InvalidClientTokenId|ExpiredToken|UnrecognizedClient|InvalidSignature|SignatureDoesNotMatch|CredentialsProviderError/i;
/** `service:Action`: the collectors name each call by the IAM action it needs (LIVE_READ_ACTIONS). */
const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

/**
 * The IAM action to allow when `call` was denied: the live collectors name every call by its IAM
 * action (`iam:GetCredentialReport`), so the call is the permission. null when the failure is not
 * a denial (throttling, a network error, bad credentials) or the call is a file (offline mode).
 */
export function missingPermission(call: string, code: string | undefined, reason: string): string | null {
  if (!IAM_ACTION.test(call)) return null;
  if (code && CREDENTIAL_CODE.test(code)) return null;
  return DENIED_CODE.test(code ?? '') || DENIED_REASON.test(reason) ? call : null;
}

/** The distinct permissions the unread sources were denied, sorted; only those `checkId` reads when given. */
export function deniedPermissions(sources: readonly SourceReport[], checkId?: CheckId): string[] {
  const inputs = checkId ? new Set<InventoryInput>(CATALOGUE[checkId].inputs) : null;
  const found = new Set<string>();
  for (const s of sources) {
    if (s.state !== 'unread' || (inputs && !inputs.has(s.input))) continue;
    const permission = missingPermission(s.call ?? '', s.code, s.reason ?? '');
    if (permission) found.add(permission);
  }
  return [...found].sort();
}
