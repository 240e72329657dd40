/**
 * The credentials of one member account's audit (SPEC 8, design item 1): the member role, assumed
 * with `fromTemporaryCredentials` (RoleSessionName naming the organization run, ExternalId when
 * the settings set one, one hour), shared by every client of the account's collection and
 * refreshed before they expire. And why an AssumeRole failed, classified where it is caught.
 */
import { type FromTemporaryCredentialsOptions, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { errorCodes } from '#lib/inventory/calls.ts';
import { unreadSource } from '#lib/inventory/failure.ts';
import type { Unread } from '#lib/inventory/types.ts';
import { roleSessionName } from './session-name.ts';
import type { MapAccount } from './contract.ts';

/** Temporary credentials as the SDK clients take them. */
export interface MemberCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** A credential provider as the SDK clients take it (`credentials`). */
export type CredentialProvider = () => Promise<MemberCredentials>;

/** The member role's session: an hour, AssumeRole's default maximum for a role (longer needs the role's MaxSessionDuration). */
export const MEMBER_SESSION_SECONDS = 3600;

/** Credentials are renewed this long before they expire, so that no call signs with credentials about to lapse. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** The AssumeRole call's bounds: a member account that does not answer is an ERROR, not a hung audit. */
const STS_CLIENT_CONFIG = { maxAttempts: 3, requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 } } as const;

/** The session name of every AssumeRole of one organization run: CloudTrail in the member account names the run. */
export function memberSessionName(organizationRunId: string): string {
  return roleSessionName(`account-auditor-${organizationRunId}`);
}

export interface MemberCredentialOptions {
  organizationRunId: string;
  /** The STS client's configuration (region, profile, a request handler for tests); bounded attempts and timeouts by default. */
  clientConfig?: FromTemporaryCredentialsOptions['clientConfig'];
  /** The credentials that assume the member role; the default chain (the function's own role) otherwise. */
  masterCredentials?: FromTemporaryCredentialsOptions['masterCredentials'];
  now?: () => number;
}

/**
 * The default `credentialsFor`: the member role's refreshing credentials, or null for the
 * auditor's own account (roleArn null), which is audited with the caller's own credentials.
 */
export function memberCredentials(account: MapAccount, options: MemberCredentialOptions): CredentialProvider | null {
  if (account.roleArn === null) return null;
  const provider = fromTemporaryCredentials({
    params: {
      RoleArn: account.roleArn,
      RoleSessionName: memberSessionName(options.organizationRunId),
      DurationSeconds: MEMBER_SESSION_SECONDS,
      ...(account.externalId !== undefined ? { ExternalId: account.externalId } : {}),
    },
    clientConfig: { ...STS_CLIENT_CONFIG, ...options.clientConfig },
    ...(options.masterCredentials ? { masterCredentials: options.masterCredentials } : {}),
  });
  return refreshing(provider as CredentialProvider, options.now ? { now: options.now } : {});
}

/**
 * One set of credentials for all the clients that share the provider, renewed `refreshBeforeMs`
 * before it expires. fromTemporaryCredentials calls AssumeRole on every call, and each SDK client
 * asks its provider once: without this every client of the collection would assume the role
 * again. A failed renewal is not kept: the next call tries again.
 */
export function refreshing(
  provider: CredentialProvider,
  options: { now?: () => number; refreshBeforeMs?: number } = {},
): CredentialProvider {
  const now = options.now ?? Date.now;
  const before = options.refreshBeforeMs ?? REFRESH_BEFORE_MS;
  let current: Promise<MemberCredentials> | null = null;
  let expiresAt = Number.POSITIVE_INFINITY;
  return async () => {
    if (current === null || now() >= expiresAt - before) {
      const next = provider();
      current = next;
      expiresAt = Number.POSITIVE_INFINITY;
      try {
        const credentials = await next;
        expiresAt = credentials.expiration ? credentials.expiration.getTime() : Number.POSITIVE_INFINITY;
      } catch (error) {
        if (current === next) current = null;
        throw error;
      }
    }
    return current;
  };
}

const TIMEOUT_CODES = [
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ETIMEDOUT',
  'ECONNRESET',
  'AbortError',
  'TimeBudgetExceeded',
];
const THROTTLING_CODES = ['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'];
const CREDENTIAL_CODES = [
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
];

/**
 * Why the member role could not be assumed, as the `organization` check's unread access: the
 * call, the code, and a reason that says which of the usual causes it is. STS answers a role that
 * does not exist and a trust that does not admit the caller with the same AccessDenied, so the
 * reason names both; an explicit Deny (an SCP, or the auditor role's own policies) is told apart.
 */
export function assumeRoleFailure(error: unknown): Unread {
  const nodeCode = (error as { code?: unknown } | null)?.code;
  const codes = [...errorCodes(error), ...(typeof nodeCode === 'string' ? [nodeCode] : [])].filter((c) => c !== 'Error');
  const message = error instanceof Error ? error.message : String(error);
  const code = codes[0];
  const has = (list: readonly string[]) => codes.some((c) => list.includes(c));
  let why: string;
  if (/explicit deny/i.test(message)) why = 'denied by an explicit Deny (a service control policy, or the auditor role’s own policies)';
  else if (codes.some((c) => /AccessDenied/i.test(c)) || /not authorized to perform/i.test(message))
    why =
      'refused: the member role does not exist in the account, or its trust policy does not admit the auditor’s role (or the ExternalId)';
  else if (has(CREDENTIAL_CODES)) why = 'the auditor’s own credentials were refused';
  else if (codes.includes('RegionDisabledException')) why = 'STS is not activated in this region for the account';
  else if (has(THROTTLING_CODES)) why = 'throttled by STS past the retries';
  else if (has(TIMEOUT_CODES) || /timed? ?out/i.test(message)) why = 'timed out';
  else why = 'failed';
  return unreadSource('sts:AssumeRole', `${why}: ${message}`, code);
}
