import type { FailureKind, Unread } from './types.ts';

/** The code and reason of every source the time budget stopped before it was read. */
export const TIME_BUDGET_CODE = 'TimeBudgetExceeded';
export const TIME_BUDGET_REASON = 'stopped before the Lambda timeout: time budget exhausted';

/**
 * Error codes of a denied call: IAM's AccessDenied, JSON services' AccessDeniedException, EC2-style
 * UnauthorizedOperation. Bad or expired credentials (InvalidClientTokenId, ExpiredToken) are not a
 * missing permission: naming one would send the reader to fix the wrong thing.
 */
const DENIED_CODE = /AccessDenied|Unauthorized|NotAuthorized|Forbidden/i;
const DENIED_REASON = /not authorized to perform|AccessDenied|explicit deny/i;
const CREDENTIAL_CODE =
  /InvalidClientTokenId|ExpiredToken|UnrecognizedClient|InvalidSignature|SignatureDoesNotMatch|CredentialsProviderError/i;
/** The throttling codes of the services the collector calls, as the SDK's retry strategy knows them. */
const THROTTLING_CODE =
  /^(Throttling|ThrottlingException|ThrottledException|RequestThrottled|RequestThrottledException|RequestLimitExceeded|TooManyRequestsException|SlowDown)$/;
/** A file not exported, an entity gone since it was listed (a user deleted after the report). */
const MISSING_CODE = /^(FileNotFound|NoSuchEntity)$/;
/** An export that is not what its file must hold, an answer that is not what the API promises. */
const INVALID_CODE = /^InvalidFile$|FormatError$/;

/**
 * The kind of a failure from its code and reason, by one set of rules: the collectors apply them
 * where they catch a failure, and a record that kept only the code and reason (a stored run, a
 * finding's details) is read with the same rules.
 */
export function failureKind(code: string | undefined, reason: string): FailureKind {
  if (code === TIME_BUDGET_CODE) return 'timeBudget';
  if (code && CREDENTIAL_CODE.test(code)) return 'failed';
  if (DENIED_CODE.test(code ?? '') || DENIED_REASON.test(reason)) return 'denied';
  if (code && THROTTLING_CODE.test(code)) return 'throttled';
  if (code && MISSING_CODE.test(code)) return 'missing';
  if (code && INVALID_CODE.test(code)) return 'invalid';
  return 'failed';
}

/** An unread source, classified. */
export function unreadSource(call: string, reason: string, code?: string): Unread {
  const kind = failureKind(code, reason);
  return code ? { state: 'unread', call, reason, code, kind } : { state: 'unread', call, reason, kind };
}

/** The unread source for a caught error, keeping the AWS error name (AccessDenied, ...) as its code. */
export function caught(call: string, error: unknown): Unread {
  const err = error as { name?: string; message?: string; Code?: string } | undefined;
  const code = err?.Code ?? (err?.name && err.name !== 'Error' ? err.name : undefined);
  return unreadSource(call, err?.message ?? String(error), code);
}

/** The same source with another reason (and so, perhaps, another kind). */
export function withReason(source: Unread, reason: string): Unread {
  return unreadSource(source.call, reason, source.code);
}
